//! `larder healthcheck URL`: exit 0 when a GET of URL answers 2xx, 1 otherwise.
//!
//! For container health checks: the runtime image has no curl or wget.

use std::process::ExitCode;
use std::time::Duration;

use crate::error::{Error, ErrorKind, Result};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The URL to GET, e.g. http://127.0.0.1:3141/healthz.
    url: url::Url,
    /// Give up after this many seconds (connecting and answering together).
    #[arg(long, value_name = "SECONDS", default_value_t = 5)]
    timeout: u64,
}

pub(super) async fn run(args: &Args) -> Result<ExitCode> {
    // No proxies: a check of the local server must not go through
    // whatever `HTTP_PROXY` the container inherited.
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(args.timeout))
        .user_agent(concat!("larder-healthcheck/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| {
            Error::new(ErrorKind::Config, "cannot build the HTTP client").with_source(e)
        })?;
    let url = &args.url;
    match client.get(url.clone()).send().await {
        Ok(response) if response.status().is_success() => Ok(ExitCode::SUCCESS),
        Ok(response) => {
            eprintln!(
                "larder: healthcheck: `{url}` answered {}",
                response.status()
            );
            Ok(ExitCode::FAILURE)
        }
        Err(e) => {
            eprintln!("larder: healthcheck: cannot GET `{url}`: {}", causes(e));
            Ok(ExitCode::FAILURE)
        }
    }
}

/// The error and its sources: reqwest's own message alone ("error sending
/// request") hides the useful part ("connection refused").
fn causes(error: reqwest::Error) -> String {
    let error = error.without_url();
    let mut text = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
