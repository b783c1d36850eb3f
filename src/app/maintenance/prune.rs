//! `larder prune` and the server's background prune: remove least recently
//! used cached files (see `prune_plan` for the policy).
//!
//! Each blob leaves in three steps, so a crash at any point leaves a state
//! `larder verify` recognises and finishes: the catalog marks the row
//! `deleting` (only if it is still `stored` and no upload uses it), the file
//! is deleted, and the row, its names and the mirror paths pointing at it are
//! forgotten (only if still `deleting`: a request that stored the blob again
//! meanwhile wins). A forgotten file is fetched again on its next request.

use std::time::Duration;

use serde::Serialize;
use tracing::debug;

use super::Maintenance;
use super::keep::KeepList;
use super::prune_plan::{Policy, plan};
use crate::app::clock::unix_now;
use crate::catalog::BlobState;
use crate::error::Result;

/// What to prune. With neither `max_size` nor `unused_for` nothing goes.
#[derive(Debug, Clone, Default)]
pub struct PruneOptions {
    /// Remove least recently used files until the stored bytes fit.
    pub max_size: Option<u64>,
    /// Remove files not accessed for this long.
    pub unused_for: Option<Duration>,
    /// Report what would go, change nothing.
    pub dry_run: bool,
    /// Files that must survive.
    pub keep: KeepList,
}

/// What a prune removed (or, dry, would remove).
#[derive(Debug, Clone, Serialize)]
pub struct PruneReport {
    pub dry_run: bool,
    /// Bytes of stored blobs before and after.
    pub before_bytes: u64,
    pub after_bytes: u64,
    pub removed: Vec<PrunedBlob>,
    /// Blobs that were chosen but changed meanwhile (stored again, now
    /// uploaded) and were left alone.
    pub skipped: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct PrunedBlob {
    pub sha256: String,
    pub size: u64,
    /// Unix seconds.
    pub last_access_at: i64,
    /// The names it was known by (`source:filename`).
    pub names: Vec<String>,
}

impl PruneReport {
    pub fn freed_bytes(&self) -> u64 {
        self.removed.iter().map(|b| b.size).sum()
    }
}

impl Maintenance {
    /// Prunes the store by `options`. Prunes in one process run one at a time.
    pub(crate) async fn prune(&self, options: &PruneOptions) -> Result<PruneReport> {
        let _one_at_a_time = self.prune_lock.lock().await;
        // The freshest recency first (a no-op outside the server).
        self.flush_accesses().await?;
        let usage = self.catalog.blob_usage().await?;
        let policy = Policy {
            max_size: options.max_size,
            unused_before: options.unused_for.map(|age| {
                unix_now().saturating_sub(i64::try_from(age.as_secs()).unwrap_or(i64::MAX))
            }),
        };
        let chosen = plan(&usage, policy, &options.keep);
        let before_bytes: u64 = usage
            .iter()
            .filter(|b| b.state == BlobState::Stored)
            .map(|b| b.size)
            .sum();
        let mut report = PruneReport {
            dry_run: options.dry_run,
            before_bytes,
            after_bytes: before_bytes,
            removed: Vec::new(),
            skipped: 0,
        };
        for index in chosen {
            let blob = &usage[index];
            if !options.dry_run && !self.remove_cached(&blob.sha256).await? {
                report.skipped += 1;
                continue;
            }
            report.after_bytes = report.after_bytes.saturating_sub(blob.size);
            report.removed.push(PrunedBlob {
                sha256: blob.sha256.to_string(),
                size: blob.size,
                last_access_at: blob.last_access_at,
                names: blob
                    .names
                    .iter()
                    .map(|n| format!("{}:{}", n.source, n.filename))
                    .collect(),
            });
        }
        Ok(report)
    }

    /// Mark, delete, forget (see the module docs). `false` when the blob was
    /// not removed because it changed since it was chosen.
    async fn remove_cached(&self, sha256: &crate::model::Sha256Hex) -> Result<bool> {
        if !self.catalog.mark_deleting(sha256).await? {
            debug!(%sha256, "not pruned: no longer a stored cached blob");
            return Ok(false);
        }
        self.store.delete(sha256).await?;
        self.catalog.forget_cached(sha256, true).await
    }
}
