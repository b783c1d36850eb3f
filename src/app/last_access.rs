//! Last access of stored blobs, without a catalog write per request.
//!
//! Serving a blob only notes the time in memory; the server writes the notes
//! to the catalog in one transaction every `prune.flush-interval` and on a
//! graceful shutdown (see `housekeeping`). Prune orders by these times, so a
//! crash costs at most one interval of recency, never correctness.

use std::collections::HashMap;
use std::sync::Mutex;

use super::{App, unix_now};
use crate::error::Result;
use crate::model::Sha256Hex;

/// Accesses noted since the last flush: the latest time per blob.
#[derive(Debug, Default)]
pub(super) struct AccessLog {
    pending: Mutex<HashMap<Sha256Hex, i64>>,
}

impl AccessLog {
    fn record(&self, sha256: &Sha256Hex, at: i64) {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        match pending.get_mut(sha256) {
            Some(seen) => *seen = (*seen).max(at),
            None => {
                pending.insert(sha256.clone(), at);
            }
        }
    }

    fn take(&self) -> Vec<(Sha256Hex, i64)> {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        std::mem::take(&mut *pending).into_iter().collect()
    }

    /// Puts a batch that could not be written back, keeping newer notes.
    fn restore(&self, batch: Vec<(Sha256Hex, i64)>) {
        for (sha256, at) in batch {
            self.record(&sha256, at);
        }
    }
}

impl App {
    /// Notes that a stored blob was served or stored just now.
    pub(super) fn note_access(&self, sha256: &Sha256Hex) {
        self.inner.accesses.record(sha256, unix_now());
    }

    /// Writes the noted accesses to the catalog in one transaction; returns
    /// how many blobs were touched. On failure the notes are kept for the
    /// next attempt.
    pub async fn flush_accesses(&self) -> Result<usize> {
        let batch = self.inner.accesses.take();
        if batch.is_empty() {
            return Ok(0);
        }
        match self.inner.catalog.touch(&batch).await {
            Ok(()) => Ok(batch.len()),
            Err(e) => {
                self.inner.accesses.restore(batch);
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_latest_time_per_blob() {
        let log = AccessLog::default();
        let sha = Sha256Hex::parse(&"a".repeat(64)).unwrap();
        log.record(&sha, 10);
        log.record(&sha, 5);
        assert_eq!(log.take(), vec![(sha.clone(), 10)]);
        assert!(log.take().is_empty());
        log.record(&sha, 20);
        log.restore(vec![(sha.clone(), 15)]);
        assert_eq!(log.take(), vec![(sha, 20)]);
    }
}
