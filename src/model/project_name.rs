//! Project names: validated by the PEP 508 name rule and normalized per PEP 503.
//!
//! A [`ProjectName`] is what larder keys pages and catalog rows by, so
//! `Friendly-Bard`, `friendly.bard` and `FRIENDLY_BARD` all mean one project.
//! Validation is strict because names end up in URLs and storage keys: anything
//! that is not a PEP 508 name (`..`, `/`, `%2f`, spaces, non-ASCII) is refused
//! before it reaches the catalog or an upstream.

use std::fmt;
use std::str::FromStr;

/// Names longer than this are refused; no real project comes close, and the
/// bound keeps hostile input out of logs and keys.
const MAX_LEN: usize = 200;

/// A PEP 503-normalized project name: lowercase, runs of `-`, `_` and `.`
/// collapsed to one `-`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProjectName(String);

/// A string that is not a valid project name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidName {
    raw: String,
}

impl ProjectName {
    /// Validates `raw` against the PEP 508 name rule
    /// (`^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$`, ASCII, case-insensitive,
    /// at most 200 characters) and normalizes it.
    pub fn new(raw: &str) -> Result<Self, InvalidName> {
        if !is_valid(raw) {
            return Err(InvalidName {
                raw: raw.to_owned(),
            });
        }
        Ok(Self(normalize(raw)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `raw` is a valid name already in normalized form; handlers use
    /// this to redirect `/simple/Friendly_Bard/` to `/simple/friendly-bard/`.
    pub fn is_normalized(raw: &str) -> bool {
        is_valid(raw)
            && raw
                .bytes()
                .all(|b| !b.is_ascii_uppercase() && b != b'_' && b != b'.')
            && !raw.contains("--")
    }
}

fn is_valid(raw: &str) -> bool {
    let bytes = raw.as_bytes();
    let (Some(first), Some(last)) = (bytes.first(), bytes.last()) else {
        return false;
    };
    raw.len() <= MAX_LEN
        && first.is_ascii_alphanumeric()
        && last.is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Assumes `raw` passed [`is_valid`] (ASCII only).
fn normalize(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut in_separator_run = false;
    for b in raw.bytes() {
        if matches!(b, b'-' | b'_' | b'.') {
            if !in_separator_run {
                out.push('-');
            }
            in_separator_run = true;
        } else {
            out.push(char::from(b.to_ascii_lowercase()));
            in_separator_run = false;
        }
    }
    out
}

impl fmt::Display for ProjectName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for ProjectName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl FromStr for ProjectName {
    type Err = InvalidName;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        Self::new(raw)
    }
}

impl fmt::Display for InvalidName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Escaped so a hostile name cannot forge log lines or response text.
        write!(
            f,
            "`{}` is not a valid project name",
            self.raw.escape_debug()
        )
    }
}

impl std::error::Error for InvalidName {}

impl From<InvalidName> for crate::error::Error {
    fn from(e: InvalidName) -> Self {
        Self::invalid(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn normalizes_pep_503_examples() {
        for raw in [
            "Friendly-Bard",
            "FRIENDLY-BARD",
            "friendly.bard",
            "friendly_bard",
            "friendly--bard",
            "FrIeNdLy-._.-bArD",
        ] {
            assert_eq!(
                ProjectName::new(raw).unwrap().as_str(),
                "friendly-bard",
                "{raw}"
            );
        }
    }

    #[test]
    fn normalizes_other_shapes() {
        for (raw, want) in [
            ("a", "a"),
            ("Z9", "z9"),
            ("zope.interface", "zope-interface"),
            ("typing_extensions", "typing-extensions"),
            ("1a", "1a"),
        ] {
            assert_eq!(ProjectName::new(raw).unwrap().to_string(), want, "{raw}");
        }
    }

    #[test]
    fn rejects_invalid_names() {
        let too_long = "a".repeat(MAX_LEN + 1);
        for raw in [
            "",
            ".",
            "..",
            "-",
            "/",
            "a/b",
            "..%2f",
            "%2f",
            "foo bar",
            " foo",
            "foo\n",
            "café",
            "-foo",
            "foo-",
            "_foo",
            "foo.",
            "foo\0",
            "foo\\bar",
            too_long.as_str(),
        ] {
            let err = ProjectName::new(raw).unwrap_err();
            assert!(
                err.to_string().contains("is not a valid project name"),
                "{raw}: {err}"
            );
        }
    }

    #[test]
    fn accepts_the_maximum_length() {
        assert!(ProjectName::new(&"a".repeat(MAX_LEN)).is_ok());
    }

    #[test]
    fn is_normalized_only_for_canonical_spelling() {
        for (raw, want) in [
            ("friendly-bard", true),
            ("a", true),
            ("Friendly-Bard", false),
            ("friendly_bard", false),
            ("friendly.bard", false),
            ("friendly--bard", false),
            ("..", false),
            ("", false),
        ] {
            assert_eq!(ProjectName::is_normalized(raw), want, "{raw}");
        }
    }

    #[test]
    fn error_names_the_value_escaped_and_is_invalid_input() {
        let err = ProjectName::new("a\nb").unwrap_err();
        assert_eq!(err.to_string(), "`a\\nb` is not a valid project name");
        let err = crate::error::Error::from(err);
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
    }

    #[test]
    fn parses_with_from_str() {
        let name: ProjectName = "Foo_Bar".parse().unwrap();
        assert_eq!(name.as_ref(), "foo-bar");
    }
}
