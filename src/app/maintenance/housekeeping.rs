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

use std::sync::{Arc, Mutex};

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::Maintenance;
use super::prune::PruneOptions;
use crate::error::Result;

/// Background prunes stop at this share of `max-size` (in percent).
const PRUNE_TARGET_PERCENT: u64 = 90;

/// The loop's handle, and how to stop it.
#[derive(Debug, Default)]
pub(super) struct Housekeeping {
    stop: CancellationToken,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Maintenance {
    /// Starts the background loop (call once, from `serve`).
    pub(crate) fn start_housekeeping(self: &Arc<Self>) {
        let this = self.clone();
        let handle = tokio::spawn(async move { this.housekeeping_loop().await });
        let mut task = self
            .housekeeping
            .task
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        *task = Some(handle);
    }

    /// Stops the background loop and waits for it (a prune under way ends
    /// first).
    pub(crate) async fn stop_housekeeping(&self) {
        self.housekeeping.stop.cancel();
        let handle = self
            .housekeeping
            .task
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(handle) = handle {
            let _ = handle.await;
        }
    }

    async fn housekeeping_loop(&self) {
        let prune = &self.prune;
        let mut flush = tokio::time::interval(prune.flush_interval);
        let mut check = tokio::time::interval(prune.interval);
        flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = self.housekeeping.stop.cancelled() => return,
                _ = flush.tick() => self.flush_observations().await,
                _ = check.tick() => self.prune_if_over().await,
                () = self.usage.grown_enough() => self.prune_if_over().await,
            }
        }
    }

    /// Writes last-access times and counters; failures are logged and the
    /// observations kept for the next attempt.
    pub(crate) async fn flush_observations(&self) {
        if let Err(e) = self.flush_accesses().await {
            warn!("cannot record last-access times: {e}");
        }
        if let Err(e) = self.flush_counters().await {
            warn!("cannot record counters: {e}");
        }
    }

    /// Writes the noted accesses to the catalog in one transaction; returns
    /// how many blobs were touched. On failure the notes are kept for the
    /// next attempt.
    pub(crate) async fn flush_accesses(&self) -> Result<usize> {
        let batch = self.usage.take_accesses();
        if batch.is_empty() {
            return Ok(0);
        }
        match self.catalog.touch(&batch).await {
            Ok(()) => Ok(batch.len()),
            Err(e) => {
                self.usage.restore_accesses(batch);
                Err(e)
            }
        }
    }

    async fn prune_if_over(&self) {
        if let Err(e) = self.try_prune_if_over().await {
            warn!("background prune failed: {e}");
        }
    }

    async fn try_prune_if_over(&self) -> Result<()> {
        let Some(max_size) = self.prune.max_size else {
            return Ok(());
        };
        self.usage.reset_growth();
        let stored = self.catalog.stored_bytes().await?;
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
