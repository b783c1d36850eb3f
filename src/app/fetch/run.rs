//! A download's own task: ask the sources in order, stream the first good
//! answer into the staging file (publishing progress to followers), verify,
//! commit and record.

use std::path::PathBuf;

use futures::{FutureExt, StreamExt};
use reqwest::StatusCode;
use reqwest::header::{ETAG, LAST_MODIFIED};
use tokio::sync::watch;
use tracing::{debug, info, warn};
use url::Url;

use super::{Fallback, Fetcher, Job, Record};
use crate::app::clock::unix_now;
use crate::catalog::{BlobName, MirrorEntry};
use crate::error::{Error, ErrorKind, Result};
use crate::model::Source;
use crate::store::StagingFile;
use crate::upstream::{SpoolState, UpstreamError, is_missing, redact, transport_error};

/// The first usable answer of a job's sources.
enum Answer {
    Body(Box<reqwest::Response>, Url),
    /// Keep the stored copy: revalidated (304) or, when every source
    /// failed, served stale.
    Keep {
        revalidated: bool,
    },
}

impl Fetcher {
    /// Fetches the job into `staging`, publishing progress, then verifies,
    /// commits and records it. Returns the length and the blob's path.
    pub(super) async fn run(
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
                return Ok((fallback.size, self.0.store.path(&fallback.sha256)));
            }
        };
        let total = match (job.expected.len, response.content_length()) {
            (Some(announced), Some(sent)) if announced != sent => {
                return Err(UpstreamError::size_mismatch(&url, sent, announced).into());
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
            self.0.metrics.bytes_from_upstream(chunk.len());
            publish(staging.visible_len());
        }
        if let Some(total) = total
            && staging.len() != total
        {
            return Err(UpstreamError::truncated(&url, staging.len(), total).into());
        }
        let staged = staging.finish().await?;
        let len = staged.digests.len;
        let sha256 = self
            .0
            .store
            .commit(staged, &job.expected, &format!("`{}`", redact(&url)))
            .await?;
        self.0.catalog.record_blob(&sha256, len, unix_now()).await?;
        // A blob stored again (after a prune) keeps its old row: note it.
        self.0.usage.note_access(&sha256);
        match &job.record {
            Record::Package(name) => {
                let name = BlobName {
                    sha256: sha256.clone(),
                    ..name.clone()
                };
                self.0.catalog.add_name(&name).await?;
                self.0.usage.note_named();
            }
            Record::Mirror { mirror, path } => {
                let entry = MirrorEntry {
                    mirror: mirror.to_string(),
                    path: path.clone(),
                    sha256: sha256.clone(),
                    size: len,
                    source: url.to_string(),
                    etag,
                    last_modified,
                    fetched_at: unix_now(),
                };
                self.0.catalog.store_mirror_entry(&entry).await?;
                let name = BlobName {
                    sha256: sha256.clone(),
                    source: Source::Mirror(mirror.clone()),
                    filename: path.rsplit('/').next().unwrap_or(path).to_owned(),
                    url: url.to_string(),
                    project: String::new(),
                };
                self.0.catalog.add_name(&name).await?;
            }
        }
        info!(url = %redact(&url), len, "cached");
        // Named by now, so a background prune it may wake sees what it is.
        self.0.usage.note_stored(len);
        Ok((len, self.0.store.path(&sha256)))
    }

    /// Asks the sources in order and returns the first usable answer.
    async fn first_answer(&self, job: &Job) -> Result<Answer> {
        let mut failure: Option<Error> = None;
        for (url, headers) in &job.sources {
            // With a stored copy to fall back on, a failing source is not worth a wait.
            let retries = if job.fallback.is_some() {
                0
            } else {
                self.0.retries
            };
            let response = match self.0.client.get_with_retries(url, headers, retries).await {
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
                failure = Some(UpstreamError::status(url, status).into());
            }
            debug!(url = %redact(url), %status, "source has nothing; trying the next");
        }
        match (failure, &job.fallback) {
            (Some(e), Some(_)) => {
                warn!(key = %job.key, "every source failed; serving the stored copy: {e}");
                Ok(Answer::Keep { revalidated: false })
            }
            (Some(e), None) => Err(e.context(
                ErrorKind::Upstream,
                format!("no source could deliver `{}`", job.key),
            )),
            (None, _) => Err(Error::not_found(format!("no source has `{}`", job.key))),
        }
    }

    /// Records that a stored copy was revalidated just now.
    async fn touch_record(&self, job: &Job, fallback: &Fallback) -> Result<()> {
        if let Record::Mirror { mirror, path } = &job.record
            && let Some(mut entry) = self.0.catalog.mirror_entry(mirror.as_str(), path).await?
            && entry.sha256 == fallback.sha256
        {
            entry.fetched_at = unix_now();
            self.0.catalog.store_mirror_entry(&entry).await?;
        }
        Ok(())
    }
}
