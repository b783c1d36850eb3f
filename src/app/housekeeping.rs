//! What `serve` does besides answering requests: write batched observations
//! (last-access times, counters) to the catalog every `prune.flush-interval`,
//! and prune in the background when `prune.max-size` is set.
//!
//! The store's size is checked every `prune.interval`, and sooner once
//! downloads have added 1% of `max-size` since the last check. Past
//! `max-size`, the least recently used cached files are removed until the
//! store is at 90% of it, so the next few downloads do not trigger another
//! prune at once. On shutdown the loop stops, downloads finish, and the last
//! observations are written.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::App;
use super::prune::PruneOptions;
use crate::error::Result;

/// Background prunes stop at this share of `max-size` (in percent).
const PRUNE_TARGET_PERCENT: u64 = 90;

#[derive(Debug, Default)]
pub(super) struct Housekeeping {
    stop: CancellationToken,
    task: Mutex<Option<JoinHandle<()>>>,
    /// Bytes committed since the last size check.
    grown: AtomicU64,
    /// Wakes the loop for an early size check.
    check: Notify,
}

impl App {
    /// Starts the background loop (call once, from `serve`).
    pub fn start_housekeeping(&self) {
        let app = self.clone();
        let handle = tokio::spawn(async move { app.housekeeping_loop().await });
        let mut task = self
            .inner
            .housekeeping
            .task
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        *task = Some(handle);
    }

    /// Graceful shutdown: stops the background loop, lets downloads in
    /// flight finish and commit, then writes the last observations.
    pub async fn shutdown(&self) {
        self.inner.housekeeping.stop.cancel();
        let handle = self
            .inner
            .housekeeping
            .task
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(handle) = handle {
            let _ = handle.await;
        }
        self.finish_downloads().await;
        self.flush_observations().await;
    }

    /// Called after a download committed `len` bytes.
    pub(super) fn note_stored(&self, len: u64) {
        let Some(max_size) = self.config().prune.max_size else {
            return;
        };
        let grown = self
            .inner
            .housekeeping
            .grown
            .fetch_add(len, Ordering::Relaxed)
            + len;
        if grown >= (max_size / 100).max(1) {
            self.inner.housekeeping.check.notify_one();
        }
    }

    async fn housekeeping_loop(&self) {
        let prune = &self.config().prune;
        let mut flush = tokio::time::interval(prune.flush_interval);
        let mut check = tokio::time::interval(prune.interval);
        flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let housekeeping = &self.inner.housekeeping;
        loop {
            tokio::select! {
                () = housekeeping.stop.cancelled() => return,
                _ = flush.tick() => self.flush_observations().await,
                _ = check.tick() => self.prune_if_over().await,
                () = housekeeping.check.notified() => self.prune_if_over().await,
            }
        }
    }

    /// Writes last-access times and counters; failures are logged and the
    /// observations kept for the next attempt.
    pub(super) async fn flush_observations(&self) {
        if let Err(e) = self.flush_accesses().await {
            warn!("cannot record last-access times: {e}");
        }
        if let Err(e) = self.flush_counters().await {
            warn!("cannot record counters: {e}");
        }
    }

    async fn prune_if_over(&self) {
        if let Err(e) = self.try_prune_if_over().await {
            warn!("background prune failed: {e}");
        }
    }

    async fn try_prune_if_over(&self) -> Result<()> {
        let Some(max_size) = self.config().prune.max_size else {
            return Ok(());
        };
        self.inner.housekeeping.grown.store(0, Ordering::Relaxed);
        let stored = self.inner.catalog.stored_bytes().await?;
        if stored <= max_size {
            return Ok(());
        }
        let target = max_size / 100 * PRUNE_TARGET_PERCENT;
        let report = self
            .prune(&PruneOptions {
                max_size: Some(target),
                ..PruneOptions::default()
            })
            .await?;
        info!(
            removed = report.removed.len(),
            freed = report.freed_bytes(),
            stored = report.after_bytes,
            "pruned the store in the background"
        );
        Ok(())
    }
}
