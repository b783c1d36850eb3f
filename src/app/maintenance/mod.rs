//! Keeping the cache in shape: prune, verify, stats, export and import, and
//! the server's housekeeping loop (batched access times and counters,
//! background prune).
//!
//! [`Maintenance`] works on the store and the catalog directly, so the CLI
//! runs it on a data directory whether or not a server is running there.
//! What it needs from requests (last accesses, bytes stored) arrives through
//! the shared [`Usage`]; what it needs to know about projects (the stored
//! files of a project as a page) through [`StoredProjects`].

mod export;
mod housekeeping;
mod import;
mod keep;
mod prune;
mod prune_plan;
mod stats;
mod usage;
mod verify;
mod verify_classify;

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;

pub use export::{Destination, ExportReport, ExportedFile, Missing, Selection};
use housekeeping::Housekeeping;
pub use import::{ImportReport, ImportedFile, Skipped};
pub use keep::KeepList;
pub use prune::{PruneOptions, PruneReport, PrunedBlob};
pub use stats::{Origin, Stats, Tally, Traffic};
pub(crate) use usage::Usage;
pub use verify::{Finding, VerifyReport};
pub use verify_classify::Problem;

use super::metrics::Metrics;
use crate::catalog::Catalog;
use crate::config::PruneConfig;
use crate::error::{Error, Result};
use crate::model::{ProjectName, ProjectPage};
use crate::store::BlobStore;

/// The stored files of a project as a page (uploads for a private project),
/// core metadata offered only where stored; `None` when none is stored.
/// What export reads; the app's views answer it.
#[async_trait]
pub(crate) trait StoredProjects: Send + Sync {
    async fn stored_page(&self, project: &ProjectName) -> Result<Option<ProjectPage>>;
}

#[derive(Debug)]
pub(crate) struct Maintenance {
    store: BlobStore,
    catalog: Arc<dyn Catalog>,
    data_dir: PathBuf,
    prune: PruneConfig,
    /// Configured mirror names (`stats` counts their files as `mirror`).
    mirrors: Vec<String>,
    usage: Arc<Usage>,
    metrics: Arc<Metrics>,
    /// Counter values already added to the catalog's all-time totals.
    persisted: stats::PersistedCounters,
    /// Prunes in this process run one at a time.
    prune_lock: tokio::sync::Mutex<()>,
    housekeeping: Housekeeping,
}

/// What [`Maintenance`] is built from.
pub(crate) struct MaintenanceSetup {
    pub store: BlobStore,
    pub catalog: Arc<dyn Catalog>,
    pub data_dir: PathBuf,
    pub prune: PruneConfig,
    pub mirrors: Vec<String>,
    pub usage: Arc<Usage>,
    pub metrics: Arc<Metrics>,
}

impl Maintenance {
    pub(crate) fn new(setup: MaintenanceSetup) -> Self {
        Self {
            store: setup.store,
            catalog: setup.catalog,
            data_dir: setup.data_dir,
            prune: setup.prune,
            mirrors: setup.mirrors,
            usage: setup.usage,
            metrics: setup.metrics,
            persisted: stats::PersistedCounters::default(),
            prune_lock: tokio::sync::Mutex::default(),
            housekeeping: Housekeeping::default(),
        }
    }

    /// Checks that the store and catalog answer (for `/healthz`).
    pub(crate) async fn health(&self) -> Result<()> {
        self.catalog.page("").await?;
        let staging = self.store.staging_dir();
        tokio::fs::metadata(staging)
            .await
            .map(|_| ())
            .map_err(|e| Error::storage(format!("`{}` is not accessible", staging.display()), e))
    }
}
