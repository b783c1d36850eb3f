use std::time::Duration;

use reqwest::header::HeaderMap;
use reqwest::{Response, StatusCode};
use tracing::{debug, warn};
use url::Url;

use super::{UpstreamError, redact};
use crate::config::ClientConfig;
use crate::error::{Error, ErrorKind, Result};

/// The shared upstream HTTP client. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    retries: u32,
    backoff: Duration,
}

impl Client {
    pub fn new(config: &ClientConfig) -> Result<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .read_timeout(config.read_timeout)
            .user_agent(&config.user_agent)
            .redirect(reqwest::redirect::Policy::limited(10))
            .build()
            .map_err(|e| {
                Error::new(ErrorKind::Config, "cannot build the HTTP client").with_source(e)
            })?;
        Ok(Self {
            http,
            retries: config.retries,
            backoff: config.retry_backoff,
        })
    }

    /// Sends a GET and returns the response once its headers arrived.
    ///
    /// Connection errors, timeouts before the headers, and 5xx answers are
    /// retried up to the configured count; a 5xx that persists is returned
    /// as an `Upstream` error. Any other status is returned for the caller to
    /// judge (a 404 or 304 is an answer, not a failure).
    pub async fn get(&self, url: &Url, headers: &HeaderMap) -> Result<Response> {
        self.get_with_retries(url, headers, self.retries).await
    }

    /// [`Self::get`] with its own retry budget: a caller holding a usable
    /// fallback (a stale page) answers faster by not retrying at all.
    pub async fn get_with_retries(
        &self,
        url: &Url,
        headers: &HeaderMap,
        retries: u32,
    ) -> Result<Response> {
        let mut attempt = 0;
        loop {
            let outcome = self
                .http
                .get(url.clone())
                .headers(headers.clone())
                .send()
                .await;
            let retryable = match &outcome {
                Ok(response) => response.status().is_server_error(),
                Err(e) => e.is_connect() || e.is_timeout() || e.is_request(),
            };
            if !retryable || attempt >= retries {
                return check(outcome, url);
            }
            let delay = self.backoff.saturating_mul(1 << attempt.min(16));
            warn!(url = %redact(url), attempt, ?delay, "upstream request failed, retrying: {}", describe(&outcome));
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }
}

fn check(outcome: reqwest::Result<Response>, url: &Url) -> Result<Response> {
    match outcome {
        Ok(response) if response.status().is_server_error() => {
            Err(UpstreamError::status(url, response.status()).into())
        }
        Ok(response) => {
            debug!(url = %redact(url), status = %response.status(), "upstream answered");
            Ok(response)
        }
        Err(e) => Err(transport_error(url, &e)),
    }
}

/// An error for a failed transfer to or from `url`, without the URL's
/// credentials (reqwest's own messages include the full URL).
pub fn transport_error(url: &Url, e: &reqwest::Error) -> Error {
    UpstreamError::transport(url, e).into()
}

fn describe(outcome: &reqwest::Result<Response>) -> String {
    match outcome {
        Ok(response) => response.status().to_string(),
        Err(e) if e.is_timeout() => "timed out".to_owned(),
        Err(e) if e.is_connect() => "could not connect".to_owned(),
        Err(_) => "transfer failed".to_owned(),
    }
}

/// Whether an upstream status means "this does not exist there".
pub fn is_missing(status: StatusCode) -> bool {
    matches!(status, StatusCode::NOT_FOUND | StatusCode::GONE)
}
