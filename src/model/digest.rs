//! Validated hex digests. Larder keys every blob by SHA-256; MD5 appears only
//! where users ask for it (`larder download --md5`).

use std::fmt;

use crate::error::Error;

/// A SHA-256 digest as 64 lowercase hex characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sha256Hex(String);

/// An MD5 digest as 32 lowercase hex characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Md5Hex(String);

/// A BLAKE2b-256 digest as 64 lowercase hex characters: what twine and
/// `uv publish` send as `blake2_256_digest` with every upload.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Blake2b256Hex(String);

fn parse_hex(raw: &str, len: usize, what: &str) -> Result<String, Error> {
    if raw.len() == len && raw.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(raw.to_ascii_lowercase())
    } else {
        Err(Error::invalid(format!(
            "`{raw}` is not a {what} digest ({len} hex characters)"
        )))
    }
}

impl Sha256Hex {
    /// Parses hex in either case; rejects anything but 64 hex characters.
    pub fn parse(raw: &str) -> Result<Self, Error> {
        parse_hex(raw, 64, "SHA-256").map(Self)
    }

    pub fn from_bytes(bytes: &[u8]) -> Self {
        Self(hex::encode(bytes))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Md5Hex {
    /// Parses hex in either case; rejects anything but 32 hex characters.
    pub fn parse(raw: &str) -> Result<Self, Error> {
        parse_hex(raw, 32, "MD5").map(Self)
    }

    pub fn from_bytes(bytes: &[u8]) -> Self {
        Self(hex::encode(bytes))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Blake2b256Hex {
    /// Parses hex in either case; rejects anything but 64 hex characters.
    pub fn parse(raw: &str) -> Result<Self, Error> {
        parse_hex(raw, 64, "BLAKE2b-256").map(Self)
    }

    pub fn from_bytes(bytes: &[u8]) -> Self {
        Self(hex::encode(bytes))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Sha256Hex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for Md5Hex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_accepts_64_hex_and_lowercases() {
        let upper = "AB".repeat(32);
        assert_eq!(Sha256Hex::parse(&upper).unwrap().as_str(), "ab".repeat(32));
    }

    #[test]
    fn sha256_rejects_bad_input() {
        for bad in [
            "",
            "abc",
            &"g".repeat(64),
            &"a".repeat(63),
            &"a".repeat(65),
            "../etc/passwd",
        ] {
            let err = Sha256Hex::parse(bad).unwrap_err();
            assert!(err.to_string().contains("SHA-256"), "{err}");
        }
    }

    #[test]
    fn blake2b_256_accepts_64_hex_only() {
        assert_eq!(
            Blake2b256Hex::parse(&"CD".repeat(32)).unwrap().as_str(),
            "cd".repeat(32)
        );
        let err = Blake2b256Hex::parse(&"a".repeat(128)).unwrap_err();
        assert!(err.to_string().contains("BLAKE2b-256"), "{err}");
    }

    #[test]
    fn md5_rejects_wrong_length() {
        assert!(Md5Hex::parse(&"a".repeat(32)).is_ok());
        assert!(Md5Hex::parse(&"a".repeat(31)).is_err());
    }
}
