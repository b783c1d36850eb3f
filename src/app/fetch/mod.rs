//! One download per resource, however many requests want it.
//!
//! The [`Fetcher`] owns the downloads in flight. The first request for a
//! resource starts a [`Job`] as its own task (so a client going away does not
//! cancel it for the others, and shutdown can wait for it); every requester,
//! the first included, follows the job's staging file through a [`Spool`].
//! Sources are tried in order: a 404, a 5xx, a timeout or a refused
//! connection falls through to the next one. Bytes are committed only once
//! their digest and size check out; a failed job leaves nothing behind and
//! does not poison the next request (see `run`).

mod run;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use reqwest::header::HeaderMap;
use tokio::sync::watch;
use tokio_util::task::TaskTracker;
use tracing::warn;
use url::Url;

use super::maintenance::Usage;
use super::metrics::Metrics;
use crate::catalog::{BlobName, Catalog};
use crate::error::{ErrorKind, Result};
use crate::model::{MirrorName, Sha256Hex};
use crate::store::{BlobStore, Expected};
use crate::upstream::{Client, Spool, SpoolState};

/// An opened file: its length when known, an `ETag` when its content is
/// known, and where its bytes are.
#[derive(Debug)]
pub struct OpenedFile {
    pub len: Option<u64>,
    pub etag: Option<String>,
    /// Whether the bytes under this name can never change.
    pub immutable: bool,
    pub body: FileBody,
}

#[derive(Debug)]
pub enum FileBody {
    /// A committed blob: whole and verified.
    Stored(tokio::fs::File),
    /// A download in progress (or just finished) to follow.
    Following(Spool),
}

/// One resource to fetch.
pub(crate) struct Job {
    /// Identifies the resource among downloads in flight.
    pub key: String,
    /// Where to ask, in order, with the headers for each.
    pub sources: Vec<(Url, HeaderMap)>,
    pub expected: Expected,
    pub record: Record,
    /// A stored copy to use when a source answers 304 to its validators, or
    /// when every source fails.
    pub fallback: Option<Fallback>,
}

/// What the catalog learns once the bytes are committed.
pub(crate) enum Record {
    /// A package file (or core-metadata file) known by this name.
    Package(BlobName),
    /// A path of a generic mirror.
    Mirror { mirror: MirrorName, path: String },
}

#[derive(Debug, Clone)]
pub(crate) struct Fallback {
    pub sha256: Sha256Hex,
    pub size: u64,
}

/// The downloads in flight and what they need. Cheap to clone (one `Arc`):
/// each download task holds a clone.
#[derive(Debug, Clone)]
pub(crate) struct Fetcher(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    store: BlobStore,
    catalog: Arc<dyn Catalog>,
    client: Client,
    metrics: Arc<Metrics>,
    usage: Arc<Usage>,
    /// Retries for a source when there is no stored copy to fall back on.
    retries: u32,
    /// Downloads run here, detached from the request that started them, so
    /// shutdown can wait for them.
    tasks: TaskTracker,
    /// Downloads in progress, by [`Job::key`].
    spools: Mutex<HashMap<String, Spool>>,
}

impl Fetcher {
    pub(crate) fn new(
        store: BlobStore,
        catalog: Arc<dyn Catalog>,
        client: Client,
        metrics: Arc<Metrics>,
        usage: Arc<Usage>,
        retries: u32,
    ) -> Self {
        Self(Arc::new(Inner {
            store,
            catalog,
            client,
            metrics,
            usage,
            retries,
            tasks: TaskTracker::new(),
            spools: Mutex::default(),
        }))
    }

    /// Joins the download of `job`, starting it if none runs, and waits
    /// until a source answered.
    pub(crate) async fn follow(
        &self,
        job: Job,
        etag: Option<String>,
        immutable: bool,
    ) -> Result<OpenedFile> {
        let mut spool = self.join_or_start(job).await?;
        let len = spool.started().await?;
        Ok(OpenedFile {
            len,
            etag,
            immutable,
            body: FileBody::Following(spool),
        })
    }

    /// A stored blob, opened; `None` when it is not stored.
    pub(crate) async fn open_stored(
        &self,
        sha256: &Sha256Hex,
        immutable: bool,
    ) -> Result<Option<OpenedFile>> {
        let Some((file, len)) = self.0.store.open_blob(sha256).await? else {
            return Ok(None);
        };
        self.0.metrics.file_hit();
        self.0.usage.note_access(sha256);
        Ok(Some(OpenedFile {
            len: Some(len),
            etag: Some(sha256.to_string()),
            immutable,
            body: FileBody::Stored(file),
        }))
    }

    /// Where a committed blob's bytes are.
    pub(crate) fn blob_path(&self, sha256: &Sha256Hex) -> PathBuf {
        self.0.store.path(sha256)
    }

    /// Whether the blob is stored.
    pub(crate) async fn is_stored(&self, sha256: &Sha256Hex) -> Result<bool> {
        Ok(self.0.store.size(sha256).await?.is_some())
    }

    /// Waits for downloads still running (graceful shutdown lets them finish
    /// and commit rather than leave work half done); starts no new ones.
    pub(crate) async fn finish(&self) {
        self.0.tasks.close();
        self.0.tasks.wait().await;
    }

    async fn join_or_start(&self, job: Job) -> Result<Spool> {
        let inner = &self.0;
        if let Some(spool) = inner.spools.lock().expect("poisoned").get(&job.key) {
            return Ok(spool.clone());
        }
        // A download that finished since the caller looked in the store has
        // left the map, but committed first: look again before fetching twice.
        if let Some(sha256) = &job.expected.sha256
            && let Some(len) = inner.store.size(sha256).await?
        {
            let (_, state) = watch::channel(SpoolState::Done {
                len,
                path: inner.store.path(sha256),
            });
            return Ok(Spool {
                staging: PathBuf::new(),
                state,
            });
        }
        // Created before taking the lock again: no await while holding it.
        let staging = inner.store.stage().await?;
        let (tx, rx) = watch::channel(SpoolState::Connecting);
        let spool = Spool {
            staging: staging.path().to_path_buf(),
            state: rx,
        };
        {
            let mut spools = inner.spools.lock().expect("poisoned");
            if let Some(existing) = spools.get(&job.key) {
                return Ok(existing.clone()); // lost the race; `staging` is dropped and removed
            }
            spools.insert(job.key.clone(), spool.clone());
        }
        inner.metrics.file_miss();
        let fetcher = self.clone();
        inner.tasks.spawn(async move {
            let inner = &fetcher.0;
            inner.metrics.download_started();
            let result = fetcher.run(&job, staging, &tx).await;
            inner.metrics.download_finished();
            // Leave the map before publishing the end, so a request that sees
            // the end state never joins this spool again.
            inner.spools.lock().expect("poisoned").remove(&job.key);
            match result {
                Ok((len, path)) => {
                    let _ = tx.send(SpoolState::Done { len, path });
                }
                Err(e) => {
                    if e.kind() != ErrorKind::NotFound {
                        inner.metrics.upstream_error();
                    }
                    warn!(key = %job.key, "download failed: {e}");
                    let _ = tx.send(SpoolState::Failed(e));
                }
            }
        });
        Ok(spool)
    }
}
