//! The crate-wide error: one [`Error`] whose [`ErrorKind`] says what went wrong
//! in terms a caller can act on. `http::error` maps kinds to status codes and the
//! CLI maps them to exit codes; module errors convert into it with `From`.

use std::fmt;

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

/// An error with a kind and a message that names the value that caused it.
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
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
        self.source = Some(Box::new(source));
        self
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

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(source) = &self.source {
            write!(f, ": {source}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}
