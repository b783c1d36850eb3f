//! The use cases: what the server's handlers and the CLI commands call.
//!
//! [`App`] is built once from a validated [`Config`] and owns the store, the
//! catalog, the upstream client, the hot page cache and the in-flight
//! downloads. It never sees HTTP types; `http` turns its answers into
//! responses.

mod access;
mod export;
mod fetch;
mod files;
mod housekeeping;
mod import;
mod keep;
mod last_access;
mod metrics;
mod mirror;
mod pages;
mod private;
mod progress;
mod prune;
mod prune_plan;
mod select;
mod stats;
mod upload;
mod upload_form;
mod upstreams;
mod verify;
mod verify_classify;
mod warm;
mod wheel;

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use tokio_util::task::TaskTracker;

pub use access::TokenInfo;
pub use export::{Destination, ExportReport, ExportedFile, Missing, Selection};
pub use fetch::{FileBody, OpenedFile};
pub use import::{IMPORT_SOURCE, ImportReport, ImportedFile, Skipped};
pub use keep::KeepList;
pub use metrics::Metrics;
pub use pages::{PageView, ProjectListView};
pub use private::Deleted;
pub(crate) use private::iso8601;
pub use progress::{NoProgress, Progress};
pub use prune::{PruneOptions, PruneReport, PrunedBlob};
pub use select::{Choice, Targets, choose_files};
pub use stats::{Origin, Stats, Tally, Traffic};
pub use upload::{PartHeader, UploadParts, Uploaded};
pub use upload_form::UploadApi;
pub use upstreams::Upstream;
pub use verify::{Finding, VerifyReport};
pub use verify_classify::Problem;
pub use warm::{
    FileOutcome, FileStatus, NoteOutcome, RequirementOutcome, RequirementStatus, WarmOptions,
    WarmProgress, WarmReport,
};

use crate::catalog::{Catalog, SqliteCatalog};
use crate::config::Config;
use crate::error::{Error, ErrorKind, Result};
use crate::store::BlobStore;
use crate::upstream::Client;

/// Larder, assembled. Cheap to clone (one `Arc`).
#[derive(Debug, Clone)]
pub struct App {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: Config,
    store: BlobStore,
    catalog: Arc<dyn Catalog>,
    client: Client,
    upstreams: Vec<Upstream>,
    pages: pages::PageCache,
    fetches: fetch::InFlight,
    missing_paths: mirror::MissingPaths,
    mirror_paths: mirror::MirrorPaths,
    private_projects: private::PrivateProjects,
    metrics: Metrics,
    /// Credentials that recently passed an argon2 check.
    verified: crate::auth::cache::VerifiedCache,
    /// Downloads run here, detached from the request that started them, so
    /// shutdown can wait for them.
    tasks: TaskTracker,
    /// Blob accesses not yet written to the catalog.
    accesses: last_access::AccessLog,
    /// The server's background loop (flushes, background prune).
    housekeeping: housekeeping::Housekeeping,
    /// Prunes in this process run one at a time.
    prune_lock: tokio::sync::Mutex<()>,
    /// Counter values already added to the catalog's all-time totals.
    persisted_counters: stats::PersistedCounters,
}

impl App {
    /// Opens the data directory (store and catalog) and builds the client.
    pub async fn open(config: Config) -> Result<Self> {
        tokio::fs::create_dir_all(&config.data_dir)
            .await
            .map_err(|e| {
                Error::storage(
                    format!(
                        "cannot create data directory `{}`",
                        config.data_dir.display()
                    ),
                    e,
                )
            })?;
        let store = BlobStore::open(&config.data_dir).await?;
        let catalog = SqliteCatalog::open(&config.data_dir.join("catalog.sqlite")).await?;
        let client = Client::new(&config.client)?;
        let upstreams = config.upstreams.iter().map(Upstream::new).collect();
        Ok(Self {
            inner: Arc::new(Inner {
                pages: pages::PageCache::default(),
                fetches: fetch::InFlight::default(),
                missing_paths: mirror::MissingPaths::default(),
                mirror_paths: mirror::MirrorPaths::default(),
                private_projects: private::PrivateProjects::default(),
                metrics: Metrics::default(),
                verified: crate::auth::cache::VerifiedCache::default(),
                tasks: TaskTracker::new(),
                accesses: last_access::AccessLog::default(),
                housekeeping: housekeeping::Housekeeping::default(),
                prune_lock: tokio::sync::Mutex::default(),
                persisted_counters: stats::PersistedCounters::default(),
                config,
                store,
                catalog: Arc::new(catalog),
                client,
                upstreams,
            }),
        })
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    pub fn offline(&self) -> bool {
        self.inner.config.offline
    }

    /// Checks that the store and catalog answer (for `/healthz`).
    pub async fn health(&self) -> Result<()> {
        self.inner.catalog.page("").await?;
        let staging = self.inner.store.staging_dir();
        tokio::fs::metadata(staging)
            .await
            .map(|_| ())
            .map_err(|e| Error::storage(format!("`{}` is not accessible", staging.display()), e))
    }

    /// Waits for downloads still running (graceful shutdown lets them finish
    /// and commit rather than leave work half done).
    pub async fn finish_downloads(&self) {
        self.inner.tasks.close();
        self.inner.tasks.wait().await;
    }

    fn upstream(&self, name: &str) -> Option<&Upstream> {
        self.inner.upstreams.iter().find(|u| u.name == name)
    }
}

/// What larder says when it has no upstream to ask.
pub const NO_UPSTREAM: &str = "no upstream is configured: pass `--upstream URL` with your \
     index's simple URL, set LARDER_UPSTREAM, or add an [[upstream]] to the config file \
     (see config.example.toml)";

/// Unix seconds now.
pub(crate) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn offline_miss(what: &str) -> Error {
    Error::new(
        ErrorKind::NotFound,
        format!("{what} is not cached and larder runs offline"),
    )
}
