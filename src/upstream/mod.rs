//! Talking to upstreams: the HTTP client every outbound request goes through.
//!
//! One [`Client`] per process: rustls, connect and per-read timeouts, a bounded
//! number of retries with exponential backoff on connection errors and 5xx
//! answers, redirects followed, `HTTP(S)_PROXY` / `NO_PROXY` honoured (reqwest
//! reads them from the environment). URLs are only ever logged through
//! [`redact`], so credentials in them never reach a log line or an error.

mod client;
mod error;
mod redact;
mod spool;

pub use client::{Client, is_missing, transport_error};
pub use error::UpstreamError;
pub use redact::redact;
pub use spool::{Spool, SpoolState};
