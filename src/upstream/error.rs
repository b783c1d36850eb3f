//! What can go wrong talking to an upstream, as distinct failures.
//!
//! Every URL in these errors has gone through [`redact`] first, so no
//! credentials reach a log line or a response body. reqwest's own errors are
//! not kept as sources for the same reason (their `Display` shows the whole
//! URL); their causes are kept as text instead.

use reqwest::StatusCode;
use url::Url;

use super::redact;
use crate::error::{Error, ErrorKind};

#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// The upstream answered, but not with what was asked for.
    #[error("upstream `{url}` answered {status}")]
    Status { url: String, status: StatusCode },
    /// The request or the transfer failed.
    #[error("upstream `{url}`: {what}{}", detail.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
    Transport {
        url: String,
        what: &'static str,
        detail: Option<String>,
    },
    /// The body ended before the length it was announced with.
    #[error("`{url}` ended after {got} of {expected} bytes")]
    Truncated {
        url: String,
        got: u64,
        expected: u64,
    },
    /// `Content-Length` disagrees with the size the index page announced.
    #[error("`{url}` is {sent} bytes, but {announced} were announced")]
    SizeMismatch {
        url: String,
        sent: u64,
        announced: u64,
    },
}

impl UpstreamError {
    pub fn status(url: &Url, status: StatusCode) -> Self {
        Self::Status {
            url: redact(url),
            status,
        }
    }

    pub fn transport(url: &Url, e: &reqwest::Error) -> Self {
        let what = if e.is_timeout() {
            "timed out"
        } else if e.is_connect() {
            "could not connect"
        } else if e.is_redirect() {
            "too many redirects"
        } else {
            "transfer failed"
        };
        Self::Transport {
            url: redact(url),
            what,
            detail: std::error::Error::source(e).map(ToString::to_string),
        }
    }

    pub fn truncated(url: &Url, got: u64, expected: u64) -> Self {
        Self::Truncated {
            url: redact(url),
            got,
            expected,
        }
    }

    pub fn size_mismatch(url: &Url, sent: u64, announced: u64) -> Self {
        Self::SizeMismatch {
            url: redact(url),
            sent,
            announced,
        }
    }
}

impl From<UpstreamError> for Error {
    fn from(e: UpstreamError) -> Self {
        let kind = match e {
            UpstreamError::SizeMismatch { .. } => ErrorKind::ChecksumMismatch,
            _ => ErrorKind::Upstream,
        };
        Error::new(kind, e.to_string())
    }
}
