//! Where a stored blob came from, as a type: an upstream index, a generic
//! mirror, an upload to the private index, or `larder import`.
//!
//! The catalog stores a source as one string (the `blob_name.source`
//! column): an upstream's or a mirror's configured name, or one of the
//! reserved words below. Configured names are checked against the reserved
//! words and against each other, so the string always says which it is; an
//! upstream's names carry a project, a mirror's never do.

use std::fmt;

/// How uploads are recorded.
const UPLOAD: &str = "private";
/// How `larder import` records its files.
const IMPORT: &str = "import";

/// Words no upstream or mirror may be named.
pub const RESERVED_SOURCE_NAMES: [&str; 2] = [UPLOAD, IMPORT];

/// A configured upstream's name (`[a-z0-9-]+`, not reserved).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UpstreamName(String);

/// A configured mirror's name (`[a-z0-9-]+`, not reserved).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MirrorName(String);

/// Why a name cannot name an upstream or a mirror.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidSourceName {
    #[error("`{0}` must be lower-case letters, digits and `-`")]
    Characters(String),
    #[error("`{0}` is reserved (larder records {1} under it)")]
    Reserved(String, &'static str),
}

fn check(name: &str) -> Result<(), InvalidSourceName> {
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !valid {
        return Err(InvalidSourceName::Characters(
            name.escape_debug().to_string(),
        ));
    }
    match name {
        UPLOAD => Err(InvalidSourceName::Reserved(name.to_owned(), "uploads")),
        IMPORT => Err(InvalidSourceName::Reserved(
            name.to_owned(),
            "imported files",
        )),
        _ => Ok(()),
    }
}

macro_rules! source_name {
    ($type:ident) => {
        impl $type {
            pub fn new(name: &str) -> Result<Self, InvalidSourceName> {
                check(name)?;
                Ok(Self(name.to_owned()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $type {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

source_name!(UpstreamName);
source_name!(MirrorName);

/// Where a blob's name came from.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Source {
    Upstream(UpstreamName),
    Mirror(MirrorName),
    /// Uploaded to the private index.
    Upload,
    /// Stored by `larder import`.
    Import,
}

impl Source {
    /// The catalog's spelling.
    pub fn as_stored(&self) -> &str {
        match self {
            Self::Upstream(name) => name.as_str(),
            Self::Mirror(name) => name.as_str(),
            Self::Upload => UPLOAD,
            Self::Import => IMPORT,
        }
    }

    /// Reads the catalog's spelling back. `has_project` tells an upstream's
    /// package file (named under a project) from a mirror's path (never).
    pub fn from_stored(raw: &str, has_project: bool) -> Self {
        match raw {
            UPLOAD => Self::Upload,
            IMPORT => Self::Import,
            // Rows written before names were checked may hold anything;
            // they are kept under the name they have.
            name if has_project => Self::Upstream(UpstreamName(name.to_owned())),
            name => Self::Mirror(MirrorName(name.to_owned())),
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_stored())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert!(UpstreamName::new("main").is_ok());
        assert!(MirrorName::new("gentoo-2").is_ok());
        for (raw, expected) in [
            ("", "must be lower-case"),
            ("Main", "must be lower-case"),
            ("a_b", "must be lower-case"),
            ("private", "reserved (larder records uploads"),
            ("import", "reserved (larder records imported files"),
        ] {
            let err = UpstreamName::new(raw).unwrap_err().to_string();
            assert!(err.contains(expected), "{raw}: {err}");
            assert!(MirrorName::new(raw).is_err(), "{raw}");
        }
    }

    #[test]
    fn stored_form_round_trips() {
        for (source, has_project) in [
            (Source::Upstream(UpstreamName::new("main").unwrap()), true),
            (Source::Mirror(MirrorName::new("distfiles").unwrap()), false),
            (Source::Upload, true),
            (Source::Import, true),
            (Source::Import, false),
        ] {
            assert_eq!(Source::from_stored(source.as_stored(), has_project), source);
        }
    }
}
