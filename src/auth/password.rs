//! Argon2id password hashes as PHC strings (`$argon2id$v=19$m=…`): what the
//! config holds for users and the catalog holds for tokens.
//!
//! Both functions are CPU-bound by design (tens of milliseconds); callers in
//! async code run them on the blocking pool.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

use crate::error::{Error, ErrorKind, Result};

/// Hashes `secret` with a fresh random salt and argon2's recommended
/// parameters (Argon2id, 19 MiB, 2 passes).
pub fn hash(secret: &[u8]) -> Result<String> {
    Argon2::default()
        .hash_password(secret)
        .map(|hash| hash.to_string())
        .map_err(|e| Error::new(ErrorKind::Storage, format!("cannot hash a secret: {e}")))
}

/// Whether `secret` matches the PHC string `phc`; an unreadable `phc` never
/// matches. The parameters come from `phc`, so old hashes keep working if
/// the defaults change.
pub fn verify(secret: &[u8], phc: &str) -> bool {
    PasswordHash::new(phc)
        .is_ok_and(|parsed| Argon2::default().verify_password(secret, &parsed).is_ok())
}

/// Checks that `phc` is an argon2 PHC string (for config validation), so a
/// pasted hash with a typo fails at start-up rather than at every login.
pub fn check(phc: &str) -> std::result::Result<(), String> {
    let parsed = PasswordHash::new(phc).map_err(|e| format!("not a PHC string: {e}"))?;
    if parsed.algorithm.as_str().starts_with("argon2") {
        Ok(())
    } else {
        Err(format!(
            "`{}` hashes are not supported (use `larder user hash`)",
            parsed.algorithm
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_then_verify() {
        let phc = hash(b"correct horse").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$"), "{phc}");
        assert!(verify(b"correct horse", &phc));
        assert!(!verify(b"correct hors", &phc));
        assert!(!verify(b"correct horse", "not a hash"));
        assert_ne!(hash(b"correct horse").unwrap(), phc, "salts differ");
        check(&phc).unwrap();
    }

    #[test]
    fn check_names_what_is_wrong() {
        for (phc, needle) in [
            ("", "not a PHC string"),
            ("hunter2", "not a PHC string"),
            (
                "$scrypt$ln=16,r=8,p=1$aM15713r3Xsvxbi31lqr1Q$nFNh2CVHVjNldFVKDHDlm4CbdRSCdEBsjjJxD+iCs5E",
                "not supported",
            ),
        ] {
            let message = check(phc).unwrap_err();
            assert!(message.contains(needle), "{phc}: {message}");
        }
    }
}
