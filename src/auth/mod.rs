//! Who may do what: HTTP basic credentials, API tokens and config users,
//! checked against argon2 hashes.
//!
//! This module is pure apart from the random bytes of a new token and the
//! CPU time argon2 takes; [`crate::app::App`] looks the hashes up (catalog
//! tokens, config users) and decides. Passwords and tokens are kept in
//! [`crate::config::Secret`]s so they never reach a log line.
//!
//! - [`basic`]: the `Authorization: Basic` header as twine, uv and pip send it.
//! - [`token`]: the shape of API tokens (`larder_<id>_<secret>`).
//! - [`password`]: argon2 hashing and verification (PHC strings).
//! - [`cache`]: remembers recent successful checks, so argon2 runs once per
//!   credential rather than once per request.

pub mod basic;
pub mod cache;
pub mod password;
pub mod token;

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind};

pub use basic::Credentials;

/// The user name that says "the password is an API token" (what PyPI,
/// twine and `uv publish --token` use).
pub const TOKEN_USER: &str = "__token__";

/// The `WWW-Authenticate` challenge of a 401; clients show the realm when
/// they prompt for credentials.
pub const CHALLENGE: &str = "Basic realm=\"larder\"";

/// What a credential may do. `Upload` includes `Read`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Read the index and files (when reads need authentication).
    Read,
    /// Upload files, and read.
    Upload,
}

impl Scope {
    /// Whether a credential with this scope may do what `needed` asks.
    pub fn allows(self, needed: Scope) -> bool {
        self >= needed
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Upload => "upload",
        }
    }

    /// Parses `read` or `upload` (as stored in the catalog and typed on the
    /// command line).
    pub fn parse(raw: &str) -> Result<Self, Error> {
        match raw {
            "read" => Ok(Scope::Read),
            "upload" => Ok(Scope::Upload),
            _ => Err(Error::invalid(format!(
                "`{}` is not a scope (use `read` or `upload`)",
                raw.escape_debug()
            ))),
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who made a request, once authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// `token:<name>`, `user:<name>`, or `anonymous`; recorded with uploads.
    pub name: String,
    pub scope: Scope,
}

impl Identity {
    /// Reads without credentials, where the config allows them.
    pub fn anonymous() -> Self {
        Self {
            name: "anonymous".to_owned(),
            scope: Scope::Read,
        }
    }
}

/// The one error every failed check becomes: it never says whether the user,
/// the password or the token was wrong (the log says, the client does not).
pub fn unauthorized(needed: Scope) -> Error {
    let message = match needed {
        Scope::Read => "authentication required: wrong or missing credentials",
        Scope::Upload => {
            "authentication required: uploads need a user or an upload token \
             (wrong or missing credentials)"
        }
    };
    Error::new(ErrorKind::Unauthorized, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_includes_read() {
        for (have, needed, allowed) in [
            (Scope::Read, Scope::Read, true),
            (Scope::Read, Scope::Upload, false),
            (Scope::Upload, Scope::Read, true),
            (Scope::Upload, Scope::Upload, true),
        ] {
            assert_eq!(have.allows(needed), allowed, "{have} for {needed}");
        }
    }

    #[test]
    fn scope_parses_its_names_only() {
        assert_eq!(Scope::parse("read").unwrap(), Scope::Read);
        assert_eq!(Scope::parse("upload").unwrap(), Scope::Upload);
        for bad in ["", "Upload", "admin", "read "] {
            let err = Scope::parse(bad).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput);
        }
    }
}
