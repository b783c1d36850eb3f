//! One download per resource, however many requests want it.
//!
//! The first request for a resource starts a [`Job`] as its own task (so a
//! client going away does not cancel it for the others, and shutdown can wait
//! for it); every requester, the first included, follows the job's staging
//! file through a [`Spool`]. Sources are tried in order: a 404, a 5xx, a
//! timeout or a refused connection falls through to the next one. Bytes are
//! committed only once their digest and size check out; a failed job leaves
//! nothing behind and does not poison the next request.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use futures::{FutureExt, StreamExt};
use reqwest::StatusCode;
use reqwest::header::{ETAG, HeaderMap, LAST_MODIFIED};
use tokio::sync::watch;
use tracing::{debug, info, warn};
use url::Url;

use super::{App, unix_now};
use crate::catalog::{BlobName, MirrorEntry};
use crate::error::{Error, ErrorKind, Result};
use crate::model::Sha256Hex;
use crate::store::{Expected, StagingFile};
use crate::upstream::{Spool, SpoolState, is_missing, redact, transport_error};

/// Downloads in progress, by [`Job::key`].
#[derive(Debug, Default)]
pub(super) struct InFlight {
    spools: Mutex<HashMap<String, Spool>>,
}

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
pub(super) struct Job {
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
pub(super) enum Record {
    /// A package file (or core-metadata file) known by this name.
    Package(BlobName),
    /// A path of a generic mirror.
    Mirror { mirror: String, path: String },
}

#[derive(Debug, Clone)]
pub(super) struct Fallback {
    pub sha256: Sha256Hex,
    pub size: u64,
}

/// The first usable answer of a job's sources.
enum Answer {
    Body(Box<reqwest::Response>, Url),
    /// Keep the stored copy: revalidated (304) or, when every source
    /// failed, served stale.
    Keep {
        revalidated: bool,
    },
}

impl App {
    /// Joins the download of `job`, starting it if none runs, and waits
    /// until a source answered.
    pub(super) async fn follow(
        &self,
        job: Job,
        etag: Option<String>,
        immutable: bool,
    ) -> Result<OpenedFile> {
        let mut spool = self.join_or_start(job).await?;
        match spool.started().await {
            Ok(len) => Ok(OpenedFile {
                len,
                etag,
                immutable,
                body: FileBody::Following(spool),
            }),
            Err((kind, message)) => Err(Error::new(kind, message.to_string())),
        }
    }

    /// A stored blob, opened; `None` when it is not stored.
    pub(super) async fn open_stored(
        &self,
        sha256: &Sha256Hex,
        immutable: bool,
    ) -> Result<Option<OpenedFile>> {
        let Some((file, len)) = self.inner.store.open_blob(sha256).await? else {
            return Ok(None);
        };
        self.inner.metrics.file_hit();
        self.note_access(sha256);
        Ok(Some(OpenedFile {
            len: Some(len),
            etag: Some(sha256.to_string()),
            immutable,
            body: FileBody::Stored(file),
        }))
    }

    async fn join_or_start(&self, job: Job) -> Result<Spool> {
        if let Some(spool) = self
            .inner
            .fetches
            .spools
            .lock()
            .expect("poisoned")
            .get(&job.key)
        {
            return Ok(spool.clone());
        }
        // A download that finished since the caller looked in the store has
        // left the map, but committed first: look again before fetching twice.
        if let Some(sha256) = &job.expected.sha256
            && let Some(len) = self.inner.store.size(sha256).await?
        {
            let (_, state) = watch::channel(SpoolState::Done {
                len,
                path: self.inner.store.path(sha256),
            });
            return Ok(Spool {
                staging: PathBuf::new(),
                state,
            });
        }
        // Created before taking the lock again: no await while holding it.
        let staging = self.inner.store.stage().await?;
        let (tx, rx) = watch::channel(SpoolState::Connecting);
        let spool = Spool {
            staging: staging.path().to_path_buf(),
            state: rx,
        };
        {
            let mut spools = self.inner.fetches.spools.lock().expect("poisoned");
            if let Some(existing) = spools.get(&job.key) {
                return Ok(existing.clone()); // lost the race; `staging` is dropped and removed
            }
            spools.insert(job.key.clone(), spool.clone());
        }
        self.inner.metrics.file_miss();
        let app = self.clone();
        self.inner.tasks.spawn(async move {
            app.inner.metrics.download_started();
            let result = app.run(&job, staging, &tx).await;
            app.inner.metrics.download_finished();
            // Leave the map before publishing the end, so a request that sees
            // the end state never joins this spool again.
            app.inner
                .fetches
                .spools
                .lock()
                .expect("poisoned")
                .remove(&job.key);
            match result {
                Ok((len, path)) => {
                    let _ = tx.send(SpoolState::Done { len, path });
                }
                Err(e) => {
                    if e.kind() != ErrorKind::NotFound {
                        app.inner.metrics.upstream_error();
                    }
                    warn!(key = %job.key, "download failed: {e}");
                    let _ = tx.send(SpoolState::Failed {
                        kind: e.kind(),
                        message: Arc::from(e.to_string()),
                    });
                }
            }
        });
        Ok(spool)
    }

    /// Fetches the job into `staging`, publishing progress, then verifies,
    /// commits and records it. Returns the length and the blob's path.
    async fn run(
        &self,
        job: &Job,
        mut staging: StagingFile,
        tx: &watch::Sender<SpoolState>,
    ) -> Result<(u64, PathBuf)> {
        let (response, url) = match self.first_answer(job).await? {
            Answer::Body(response, url) => (*response, url),
            Answer::Keep { revalidated } => {
                let fallback = job.fallback.as_ref().expect("Keep needs a fallback");
                if revalidated {
                    self.touch_record(job, fallback).await?;
                }
                return Ok((fallback.size, self.inner.store.path(&fallback.sha256)));
            }
        };
        let total = match (job.expected.len, response.content_length()) {
            (Some(announced), Some(sent)) if announced != sent => {
                return Err(Error::new(
                    ErrorKind::ChecksumMismatch,
                    format!(
                        "`{}` is {sent} bytes, but {announced} were announced",
                        redact(&url)
                    ),
                ));
            }
            (announced, sent) => announced.or(sent),
        };
        let header = |name| {
            response
                .headers()
                .get(name)
                .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
                .map(str::to_owned)
        };
        let (etag, last_modified) = (header(ETAG), header(LAST_MODIFIED));
        let _ = tx.send(SpoolState::Filling { written: 0, total });
        let mut body = response.bytes_stream();
        let publish = |written: u64| {
            // Wake followers only when there is something new for them to read.
            tx.send_if_modified(|state| {
                let changed =
                    !matches!(state, SpoolState::Filling { written: w, .. } if *w == written);
                *state = SpoolState::Filling { written, total };
                changed
            });
        };
        loop {
            // Batch writes while the upstream is faster than us, but hand
            // followers what arrived whenever we would wait for more: a slow
            // upstream then costs no extra latency to the first byte.
            let next = match body.next().now_or_never() {
                Some(next) => next,
                None => {
                    staging.flush().await?;
                    publish(staging.visible_len());
                    body.next().await
                }
            };
            let Some(chunk) = next else { break };
            let chunk = chunk.map_err(|e| transport_error(&url, &e))?;
            staging.write(&chunk).await?;
            self.inner.metrics.bytes_from_upstream(chunk.len());
            publish(staging.visible_len());
        }
        if let Some(total) = total
            && staging.len() != total
        {
            return Err(Error::new(
                ErrorKind::Upstream,
                format!(
                    "`{}` ended after {} of {total} bytes",
                    redact(&url),
                    staging.len()
                ),
            ));
        }
        let staged = staging.finish().await?;
        let len = staged.digests.len;
        let sha256 = self
            .inner
            .store
            .commit(staged, &job.expected, &format!("`{}`", redact(&url)))
            .await?;
        self.inner
            .catalog
            .record_blob(&sha256, len, unix_now())
            .await?;
        // A blob stored again (after a prune) keeps its old row: note it.
        self.note_access(&sha256);
        match &job.record {
            Record::Package(name) => {
                let name = BlobName {
                    sha256: sha256.clone(),
                    ..name.clone()
                };
                self.inner.catalog.add_name(&name).await?;
            }
            Record::Mirror { mirror, path } => {
                let entry = MirrorEntry {
                    mirror: mirror.clone(),
                    path: path.clone(),
                    sha256: sha256.clone(),
                    size: len,
                    source: url.to_string(),
                    etag,
                    last_modified,
                    fetched_at: unix_now(),
                };
                self.inner.catalog.store_mirror_entry(&entry).await?;
                let name = BlobName {
                    sha256: sha256.clone(),
                    source: mirror.clone(),
                    filename: path.rsplit('/').next().unwrap_or(path).to_owned(),
                    url: url.to_string(),
                    project: String::new(),
                };
                self.inner.catalog.add_name(&name).await?;
            }
        }
        info!(url = %redact(&url), len, "cached");
        // Named by now, so a background prune it may wake sees what it is.
        self.note_stored(len);
        Ok((len, self.inner.store.path(&sha256)))
    }

    /// Asks the sources in order and returns the first usable answer.
    async fn first_answer(&self, job: &Job) -> Result<Answer> {
        let mut failure: Option<Error> = None;
        for (url, headers) in &job.sources {
            // With a stored copy to fall back on, a failing source is not worth a wait.
            let retries = if job.fallback.is_some() {
                0
            } else {
                self.inner.config.client.retries
            };
            let response = match self
                .inner
                .client
                .get_with_retries(url, headers, retries)
                .await
            {
                Ok(response) => response,
                Err(e) => {
                    debug!(url = %redact(url), "source failed: {e}");
                    failure = Some(e);
                    continue;
                }
            };
            let status = response.status();
            if status == StatusCode::NOT_MODIFIED && job.fallback.is_some() {
                return Ok(Answer::Keep { revalidated: true });
            }
            if status.is_success() {
                return Ok(Answer::Body(Box::new(response), url.clone()));
            }
            if !is_missing(status) {
                failure = Some(Error::new(
                    ErrorKind::Upstream,
                    format!("`{}` answered {status}", redact(url)),
                ));
            }
            debug!(url = %redact(url), %status, "source has nothing; trying the next");
        }
        match (failure, &job.fallback) {
            (Some(e), Some(_)) => {
                warn!(key = %job.key, "every source failed; serving the stored copy: {e}");
                Ok(Answer::Keep { revalidated: false })
            }
            (Some(e), None) => Err(Error::new(
                ErrorKind::Upstream,
                format!("no source could deliver `{}`; last error: {e}", job.key),
            )),
            (None, _) => Err(Error::not_found(format!("no source has `{}`", job.key))),
        }
    }

    /// Records that a stored copy was revalidated just now.
    async fn touch_record(&self, job: &Job, fallback: &Fallback) -> Result<()> {
        if let Record::Mirror { mirror, path } = &job.record
            && let Some(mut entry) = self.inner.catalog.mirror_entry(mirror, path).await?
            && entry.sha256 == fallback.sha256
        {
            entry.fetched_at = unix_now();
            self.inner.catalog.store_mirror_entry(&entry).await?;
        }
        Ok(())
    }
}
