//! Package files and their PEP 658 `.metadata` files.
//!
//! A file is addressed by the SHA-256 its page announced. A stored blob is
//! served straight from the store. Otherwise the one download for it starts
//! (or is joined): it runs as its own task, not tied to the request that
//! started it, writes through a staging file that every requester follows,
//! and is committed only once its digest and size check out.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use tokio::sync::watch;
use tracing::{info, warn};
use url::Url;

use super::{App, offline_miss, unix_now};
use crate::catalog::{BlobName, Link};
use crate::error::{Error, ErrorKind, Result};
use crate::model::Sha256Hex;
use crate::store::{Expected, StagingFile};
use crate::upstream::{Spool, SpoolState, is_missing, redact, transport_error};

/// Downloads in progress, by upstream URL.
#[derive(Debug, Default)]
pub(super) struct InFlight {
    spools: Mutex<HashMap<String, Spool>>,
}

/// An opened file: its length when known, an `ETag`, and where its bytes are.
#[derive(Debug)]
pub struct OpenedFile {
    pub len: Option<u64>,
    pub etag: String,
    pub body: FileBody,
}

#[derive(Debug)]
pub enum FileBody {
    /// A committed blob: whole and verified.
    Stored(tokio::fs::File),
    /// A download in progress (or just finished) to follow.
    Following(Spool),
}

/// One download to run.
struct Job {
    url: Url,
    upstream: String,
    expected: Expected,
    name: BlobName,
}

impl App {
    /// Opens `/files/<sha256>/<filename>`: a package file whose page announced
    /// that digest, or (`<filename>` ending in `.metadata`) its core metadata.
    pub async fn open_file(&self, sha256: &Sha256Hex, filename: &str) -> Result<OpenedFile> {
        match filename.strip_suffix(".metadata") {
            Some(dist) if !dist.is_empty() => self.open_metadata(sha256, dist).await,
            _ => self.open_dist(sha256, filename).await,
        }
    }

    async fn open_dist(&self, sha256: &Sha256Hex, filename: &str) -> Result<OpenedFile> {
        if let Some(opened) = self.open_stored(sha256).await? {
            return Ok(opened);
        }
        if self.offline() {
            return Err(offline_miss(&format!("`{filename}`")));
        }
        let link = self.announced(sha256, filename).await?;
        let job = Job {
            url: parse_url(&link.url)?,
            expected: Expected {
                sha256: Some(sha256.clone()),
                md5: None,
                len: link.size,
            },
            name: name_for(&link, &link.filename, &link.url),
            upstream: link.upstream,
        };
        self.follow(job, sha256.to_string()).await
    }

    async fn open_metadata(&self, sha256: &Sha256Hex, dist: &str) -> Result<OpenedFile> {
        let link = self.announced(sha256, dist).await?;
        if !link.has_metadata {
            return Err(Error::not_found(format!(
                "`{dist}` has no core metadata file"
            )));
        }
        let url = format!("{}.metadata", link.url);
        let stored = match &link.metadata_sha256 {
            Some(sha) => Some(sha.clone()),
            None => self.inner.catalog.blob_by_url(&url).await?,
        };
        if let Some(sha) = &stored
            && let Some(opened) = self.open_stored(sha).await?
        {
            return Ok(opened);
        }
        if self.offline() {
            return Err(offline_miss(&format!("`{dist}.metadata`")));
        }
        let job = Job {
            url: parse_url(&url)?,
            expected: Expected {
                sha256: link.metadata_sha256.clone(),
                md5: None,
                len: None,
            },
            name: name_for(&link, &format!("{dist}.metadata"), &url),
            upstream: link.upstream.clone(),
        };
        let etag = link
            .metadata_sha256
            .map_or_else(|| format!("m-{sha256}"), |s| s.to_string());
        self.follow(job, etag).await
    }

    async fn open_stored(&self, sha256: &Sha256Hex) -> Result<Option<OpenedFile>> {
        let Some((file, len)) = self.inner.store.open_blob(sha256).await? else {
            return Ok(None);
        };
        self.inner.metrics.file_hit();
        Ok(Some(OpenedFile {
            len: Some(len),
            etag: sha256.to_string(),
            body: FileBody::Stored(file),
        }))
    }

    /// The link a page announced for this digest; only such files are fetched.
    async fn announced(&self, sha256: &Sha256Hex, filename: &str) -> Result<Link> {
        match self.inner.catalog.link(sha256).await? {
            Some(link) if link.filename == filename => Ok(link),
            _ => Err(Error::not_found(format!(
                "no index page announced `{filename}` with SHA-256 {sha256}"
            ))),
        }
    }

    /// Joins the download of `job.url`, starting it if none runs, and waits
    /// until the upstream answered.
    async fn follow(&self, job: Job, etag: String) -> Result<OpenedFile> {
        let mut spool = self.join_or_start(job).await?;
        match spool.started().await {
            Ok(len) => Ok(OpenedFile {
                len,
                etag,
                body: FileBody::Following(spool),
            }),
            Err((kind, message)) => Err(Error::new(kind, message.to_string())),
        }
    }

    async fn join_or_start(&self, job: Job) -> Result<Spool> {
        let key = job.url.to_string();
        if let Some(spool) = self.inner.files.spools.lock().expect("poisoned").get(&key) {
            return Ok(spool.clone());
        }
        // Created before taking the lock again: no await while holding it.
        let staging = self.inner.store.stage().await?;
        let (tx, rx) = watch::channel(SpoolState::Connecting);
        let spool = Spool {
            staging: staging.path().to_path_buf(),
            state: rx,
        };
        {
            let mut spools = self.inner.files.spools.lock().expect("poisoned");
            if let Some(existing) = spools.get(&key) {
                return Ok(existing.clone()); // lost the race; `staging` is dropped and removed
            }
            spools.insert(key.clone(), spool.clone());
        }
        self.inner.metrics.file_miss();
        let app = self.clone();
        self.inner.tasks.spawn(async move {
            app.inner.metrics.download_started();
            let result = app.download(&job, staging, &tx).await;
            app.inner.metrics.download_finished();
            // Leave the map before publishing the end, so a request that sees
            // the end state never joins this spool again.
            app.inner
                .files
                .spools
                .lock()
                .expect("poisoned")
                .remove(&key);
            match result {
                Ok((len, path)) => {
                    let _ = tx.send(SpoolState::Done { len, path });
                }
                Err(e) => {
                    app.inner.metrics.upstream_error();
                    warn!(url = %redact(&job.url), "download failed: {e}");
                    let _ = tx.send(SpoolState::Failed {
                        kind: e.kind(),
                        message: Arc::from(e.to_string()),
                    });
                }
            }
        });
        Ok(spool)
    }

    /// Fetches `job` into `staging`, publishing progress, then verifies and
    /// commits it. Returns the length and the committed blob's path.
    async fn download(
        &self,
        job: &Job,
        mut staging: StagingFile,
        tx: &watch::Sender<SpoolState>,
    ) -> Result<(u64, std::path::PathBuf)> {
        let headers = self
            .upstream(&job.upstream)
            .map(|u| u.headers_for(&job.url))
            .unwrap_or_default();
        let response = self.inner.client.get(&job.url, &headers).await?;
        let status = response.status();
        if !status.is_success() {
            let kind = if is_missing(status) {
                ErrorKind::NotFound
            } else {
                ErrorKind::Upstream
            };
            return Err(Error::new(
                kind,
                format!("upstream `{}` answered {status}", redact(&job.url)),
            ));
        }
        let total = match (job.expected.len, response.content_length()) {
            (Some(announced), Some(sent)) if announced != sent => {
                return Err(Error::new(
                    ErrorKind::ChecksumMismatch,
                    format!(
                        "`{}` is {sent} bytes, but its page announced {announced}",
                        redact(&job.url)
                    ),
                ));
            }
            (announced, sent) => announced.or(sent),
        };
        let _ = tx.send(SpoolState::Filling { written: 0, total });
        let mut body = response.bytes_stream();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| transport_error(&job.url, &e))?;
            staging.write(&chunk).await?;
            self.inner.metrics.bytes_from_upstream(chunk.len());
            let written = staging.len();
            let _ = tx.send(SpoolState::Filling { written, total });
        }
        if let Some(total) = total
            && staging.len() != total
        {
            return Err(Error::new(
                ErrorKind::Upstream,
                format!(
                    "`{}` ended after {} of {total} bytes",
                    redact(&job.url),
                    staging.len()
                ),
            ));
        }
        let staged = staging.finish().await?;
        let len = staged.digests.len;
        let what = format!("`{}`", redact(&job.url));
        let sha256 = self
            .inner
            .store
            .commit(staged, &job.expected, &what)
            .await?;
        let catalog = &self.inner.catalog;
        catalog.record_blob(&sha256, len, unix_now()).await?;
        catalog
            .add_name(&BlobName {
                sha256: sha256.clone(),
                ..job.name.clone()
            })
            .await?;
        info!(url = %redact(&job.url), len, "cached");
        Ok((len, self.inner.store.path(&sha256)))
    }
}

fn parse_url(raw: &str) -> Result<Url> {
    Url::parse(raw).map_err(|e| {
        Error::new(
            ErrorKind::Upstream,
            format!("announced URL `{raw}` is invalid: {e}"),
        )
    })
}

fn name_for(link: &Link, filename: &str, url: &str) -> BlobName {
    BlobName {
        sha256: link.sha256.clone(),
        source: link.upstream.clone(),
        filename: filename.to_owned(),
        url: url.to_owned(),
        project: link.project.clone(),
    }
}
