//! API tokens: `larder_<id>_<secret>`.
//!
//! The id (16 hex characters) is stored in clear and finds the token's row
//! without trying every hash; the secret (64 hex characters, 256 random bits)
//! is what the argon2 hash protects. The whole token is shown once, when it
//! is created, and never stored.

use crate::error::{Error, ErrorKind, Result};

const PREFIX: &str = "larder_";
const ID_BYTES: usize = 8;
const SECRET_BYTES: usize = 32;

/// A freshly created token: its public id and the full token text.
#[derive(Debug)]
pub struct NewToken {
    pub id: String,
    /// Show once; the catalog keeps only its hash.
    pub token: String,
}

/// Makes a new random token.
pub fn generate() -> Result<NewToken> {
    let mut bytes = [0u8; ID_BYTES + SECRET_BYTES];
    getrandom::fill(&mut bytes).map_err(|e| {
        Error::new(
            ErrorKind::Storage,
            format!("cannot read random bytes for a token: {e}"),
        )
    })?;
    let id = hex::encode(&bytes[..ID_BYTES]);
    let secret = hex::encode(&bytes[ID_BYTES..]);
    Ok(NewToken {
        token: format!("{PREFIX}{id}_{secret}"),
        id,
    })
}

/// The id of a well-formed token, or `None` (the caller then answers like
/// for any wrong credential).
pub fn id_of(token: &str) -> Option<&str> {
    let rest = token.strip_prefix(PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    let is_hex = |s: &str, bytes: usize| {
        s.len() == bytes * 2
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    (is_hex(id, ID_BYTES) && is_hex(secret, SECRET_BYTES)).then_some(id)
}

/// Token names as `larder token create NAME` accepts them: short, and safe
/// to print in lists and logs.
pub fn check_name(name: &str) -> Result<()> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if valid {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "`{}` is not a token name: use 1 to 64 letters, digits, `-`, `_` and `.`",
            name.escape_debug()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_parse_and_differ() {
        let a = generate().unwrap();
        let b = generate().unwrap();
        assert_ne!(a.token, b.token);
        assert_eq!(id_of(&a.token), Some(a.id.as_str()));
        assert_eq!(a.token.len(), PREFIX.len() + 16 + 1 + 64);
    }

    #[test]
    fn id_of_accepts_only_the_exact_shape() {
        let id = "0123456789abcdef";
        let secret = "ab".repeat(32);
        let good = format!("larder_{id}_{secret}");
        assert_eq!(id_of(&good), Some(id));
        for bad in [
            String::new(),
            "larder_".to_owned(),
            format!("larder_{id}"),
            format!("larder_{id}_{secret}0"),
            format!("larder_{id}_{}", &secret[1..]),
            format!("larder_{}_{secret}", id.to_uppercase()),
            format!("lardr_{id}_{secret}"),
            format!("larder_{id}_{secret}_x"),
            format!(" larder_{id}_{secret}"),
            format!("pypi-{id}{secret}"),
        ] {
            assert_eq!(id_of(&bad), None, "{bad}");
        }
    }

    #[test]
    fn names_are_short_and_plain() {
        for good in ["ci", "deploy-bot", "team_a.read", &"a".repeat(64)] {
            check_name(good).unwrap();
        }
        for bad in ["", "a b", "a/b", "ü", "x\n", &"a".repeat(65)] {
            assert_eq!(check_name(bad).unwrap_err().kind(), ErrorKind::InvalidInput);
        }
    }
}
