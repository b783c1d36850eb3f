//! Remembers credentials that recently passed an argon2 check.
//!
//! Argon2 is slow on purpose; running it on every request of an
//! authenticated `pip install` (dozens of page and file requests) would cost
//! seconds. A success is remembered under the SHA-256 of the credential
//! together with the hash it matched, so the entry stops counting as soon as
//! that hash changes or disappears (a revoked token's row is gone, so the
//! lookup that precedes the cache fails first). Failures are never cached.

use std::collections::HashMap;
use std::sync::Mutex;

use sha2::{Digest, Sha256};

/// Entries kept at most; the cache starts over when full (cheap, and an
/// attacker cannot grow it: only successes are added).
const CAPACITY: usize = 1024;

#[derive(Debug, Default)]
pub struct VerifiedCache {
    entries: Mutex<HashMap<[u8; 32], String>>,
}

impl VerifiedCache {
    /// Whether `credential` was verified against exactly `phc`.
    pub fn contains(&self, credential: &[u8], phc: &str) -> bool {
        let key = key(credential);
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&key)
            .is_some_and(|known| known == phc)
    }

    /// Records that `credential` matches `phc`.
    pub fn insert(&self, credential: &[u8], phc: &str) {
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if entries.len() >= CAPACITY {
            entries.clear();
        }
        entries.insert(key(credential), phc.to_owned());
    }
}

fn key(credential: &[u8]) -> [u8; 32] {
    Sha256::digest(credential).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_only_the_matching_hash() {
        let cache = VerifiedCache::default();
        assert!(!cache.contains(b"user\0alice\0pw", "$hash1"));
        cache.insert(b"user\0alice\0pw", "$hash1");
        assert!(cache.contains(b"user\0alice\0pw", "$hash1"));
        assert!(!cache.contains(b"user\0alice\0pw", "$hash2"));
        assert!(!cache.contains(b"user\0alice\0pW", "$hash1"));
    }

    #[test]
    fn starts_over_when_full() {
        let cache = VerifiedCache::default();
        for n in 0..CAPACITY {
            cache.insert(&n.to_le_bytes(), "h");
        }
        assert!(cache.contains(&0usize.to_le_bytes(), "h"));
        cache.insert(b"one more", "h");
        assert!(!cache.contains(&0usize.to_le_bytes(), "h"));
        assert!(cache.contains(b"one more", "h"));
    }
}
