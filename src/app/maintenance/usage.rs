//! What serving and storing blobs tells maintenance, without a catalog write
//! per request: last accesses (for prune's LRU order) and bytes committed
//! (for the background prune's early size check).
//!
//! The fetcher notes; [`super::Maintenance`] writes the accesses to the
//! catalog in one transaction every `prune.flush-interval` and on a graceful
//! shutdown, and checks the store's size when downloads added 1% of
//! `max-size`. A crash costs at most one interval of recency, never
//! correctness.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::Notify;

use crate::app::clock::unix_now;
use crate::model::Sha256Hex;

#[derive(Debug, Default)]
pub(crate) struct Usage {
    /// Accesses noted since the last flush: the latest time per blob.
    pending: Mutex<HashMap<Sha256Hex, i64>>,
    /// `prune.max-size`: growth matters only with one.
    max_size: Option<u64>,
    /// Bytes committed since the last size check.
    grown: AtomicU64,
    /// Wakes the housekeeping loop for an early size check.
    check: Notify,
    /// Names recorded by this process (the local project lists reload).
    named: AtomicU64,
}

impl Usage {
    pub(crate) fn new(max_size: Option<u64>) -> Self {
        Self {
            max_size,
            ..Self::default()
        }
    }

    /// Notes that a stored blob was served or stored just now.
    pub(crate) fn note_access(&self, sha256: &Sha256Hex) {
        self.record(sha256, unix_now());
    }

    /// Notes that a download committed `len` bytes.
    pub(crate) fn note_stored(&self, len: u64) {
        let Some(max_size) = self.max_size else {
            return;
        };
        let grown = self.grown.fetch_add(len, Ordering::Relaxed) + len;
        if grown >= (max_size / 100).max(1) {
            self.check.notify_one();
        }
    }

    /// Notes that a blob got a (project) name, or lost one.
    pub(crate) fn note_named(&self) {
        self.named.fetch_add(1, Ordering::Release);
    }

    pub(crate) fn names_recorded(&self) -> u64 {
        self.named.load(Ordering::Acquire)
    }

    /// Starts counting growth afresh (a size check is under way).
    pub(super) fn reset_growth(&self) {
        self.grown.store(0, Ordering::Relaxed);
    }

    /// Resolves when downloads call for an early size check.
    pub(super) async fn grown_enough(&self) {
        self.check.notified().await;
    }

    fn record(&self, sha256: &Sha256Hex, at: i64) {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        match pending.get_mut(sha256) {
            Some(seen) => *seen = (*seen).max(at),
            None => {
                pending.insert(sha256.clone(), at);
            }
        }
    }

    pub(super) fn take_accesses(&self) -> Vec<(Sha256Hex, i64)> {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        std::mem::take(&mut *pending).into_iter().collect()
    }

    /// Puts a batch that could not be written back, keeping newer notes.
    pub(super) fn restore_accesses(&self, batch: Vec<(Sha256Hex, i64)>) {
        for (sha256, at) in batch {
            self.record(&sha256, at);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_latest_time_per_blob() {
        let usage = Usage::default();
        let sha = Sha256Hex::parse(&"a".repeat(64)).unwrap();
        usage.record(&sha, 10);
        usage.record(&sha, 5);
        assert_eq!(usage.take_accesses(), vec![(sha.clone(), 10)]);
        assert!(usage.take_accesses().is_empty());
        usage.record(&sha, 20);
        usage.restore_accesses(vec![(sha.clone(), 15)]);
        assert_eq!(usage.take_accesses(), vec![(sha, 20)]);
    }

    #[tokio::test]
    async fn growth_past_a_percent_of_max_size_wakes_the_check() {
        let usage = Usage::new(Some(1000));
        usage.note_stored(5);
        let early =
            tokio::time::timeout(std::time::Duration::from_millis(20), usage.grown_enough());
        assert!(early.await.is_err(), "5 bytes of 1000 is not 1%");
        usage.note_stored(5);
        let woken = tokio::time::timeout(std::time::Duration::from_secs(5), usage.grown_enough());
        assert!(woken.await.is_ok());
    }
}
