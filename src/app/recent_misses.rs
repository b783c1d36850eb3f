//! Names recently found missing everywhere (unknown projects, mirror paths
//! no source has), remembered for a while so a client retrying, or a scan of
//! made-up names, does not cost an upstream request each time.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Past this many entries, expired ones are dropped on insert.
const MAX_REMEMBERED: usize = 4096;

#[derive(Debug)]
pub(crate) struct RecentMisses<K> {
    ttl: Duration,
    seen: Mutex<HashMap<K, Instant>>,
}

impl<K: Eq + Hash> RecentMisses<K> {
    pub(crate) fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            seen: Mutex::default(),
        }
    }

    /// Whether `key` was found missing less than the TTL ago.
    pub(crate) fn contains(&self, key: &K) -> bool {
        let mut seen = self.seen.lock().expect("poisoned");
        match seen.get(key) {
            Some(at) if at.elapsed() < self.ttl => true,
            Some(_) => {
                seen.remove(key);
                false
            }
            None => false,
        }
    }

    pub(crate) fn insert(&self, key: K) {
        let mut seen = self.seen.lock().expect("poisoned");
        // Bounded memory under a scan of made-up names.
        if seen.len() >= MAX_REMEMBERED {
            seen.retain(|_, at| at.elapsed() < self.ttl);
        }
        seen.insert(key, Instant::now());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forgets_after_the_ttl() {
        let misses = RecentMisses::new(Duration::from_millis(30));
        misses.insert("x");
        assert!(misses.contains(&"x"));
        assert!(!misses.contains(&"y"));
        std::thread::sleep(Duration::from_millis(40));
        assert!(!misses.contains(&"x"));
    }

    #[test]
    fn zero_ttl_remembers_nothing() {
        let misses = RecentMisses::new(Duration::ZERO);
        misses.insert(1);
        assert!(!misses.contains(&1));
    }
}
