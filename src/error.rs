//! The crate-wide error: one [`Error`] whose [`ErrorKind`] says what went wrong
//! in terms a caller can act on. `http::error` maps kinds to status codes and the
//! CLI maps them to exit codes; module errors (`upstream::UpstreamError`, …)
//! convert into it with `From`, and stay reachable as its source.
//!
//! The cause is kept as a source, not flattened into the message: `Display`
//! shows the whole chain (what a log line needs) and a caller can still look
//! at the cause. Causes are shared (`Arc`), which makes an error cheap to
//! clone: every follower of a failed download gets the leader's error, causes
//! included.

use std::fmt;
use std::sync::Arc;

/// What kind of failure an [`Error`] is; callers decide on this, never on the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The thing asked for does not exist (here or upstream).
    NotFound,
    /// The request or input is malformed; nothing was changed.
    InvalidInput,
    /// Bytes did not match the digest or size they were announced with.
    ChecksumMismatch,
    /// An upstream could not be reached, timed out, or answered with an error.
    Upstream,
    /// The operation needs the network but larder runs offline.
    Offline,
    /// The configuration is invalid.
    Config,
    /// Local storage (files, catalog) failed.
    Storage,
    /// Authentication is missing or wrong.
    Unauthorized,
    /// The thing to create exists already.
    Conflict,
    /// The input is larger than allowed.
    TooLarge,
    /// No representation the client accepts can be produced.
    NotAcceptable,
}

/// An error with a kind, a message that names the value that caused it, and
/// the cause, if any.
#[derive(Debug, Clone)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    source: Option<Arc<dyn std::error::Error + Send + Sync>>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            source: None,
        }
    }

    #[must_use]
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Arc::new(source));
        self
    }

    /// This error as the cause of a new one of `kind`: the new message says
    /// what was being done, this error says why it failed.
    #[must_use]
    pub fn context(self, kind: ErrorKind, message: impl Into<String>) -> Self {
        Self::new(kind, message).with_source(self)
    }

    /// The message alone, without its causes.
    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidInput, message)
    }

    pub fn storage(message: impl Into<String>, source: std::io::Error) -> Self {
        Self::new(ErrorKind::Storage, message).with_source(source)
    }
}

/// The message, then each cause after a `: `, so a log line or a response
/// body carries the whole chain. The causes are also
/// [`std::error::Error::source`]s, for code that looks at them.
impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(source) = &self.source {
            // An `Error` source prints its own causes the same way.
            write!(f, ": {source}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_shows_every_cause_once() {
        let io = std::io::Error::other("disk on fire");
        let e = Error::storage("cannot write `x`", io)
            .context(ErrorKind::Upstream, "no source could deliver `y`");
        assert_eq!(e.message(), "no source could deliver `y`");
        assert_eq!(
            e.to_string(),
            "no source could deliver `y`: cannot write `x`: disk on fire"
        );
        let cause = std::error::Error::source(&e).expect("a source");
        assert_eq!(cause.to_string(), "cannot write `x`: disk on fire");
        let root = cause.source().expect("the io error");
        assert_eq!(root.to_string(), "disk on fire");
        assert_eq!(e.clone().to_string(), e.to_string());
        assert_eq!(e.kind(), ErrorKind::Upstream);
    }
}
