//! The project list (`/simple/`), at the size of a real index: 750,000
//! names, 50 MB of HTML.
//!
//! Each upstream's list is fetched like a page (fresh for the upstream's
//! TTL, revalidated with its validators, served stale up to `max-stale` when
//! it fails, one fetch at a time however many clients ask), streamed to
//! disk and read as a stream into a sorted name file; it is never a document
//! in memory. The lists of all upstreams and the local names (stored and
//! uploaded projects) are merged into the two documents `/simple/` sends,
//! which leave from their files like stored blobs (`sendfile`). A local name
//! the upstreams do not list makes the merge run again; a local name they
//! list costs a binary search in the name file once. Everything survives a
//! restart: the files and their metadata are on disk.

mod build;
mod names;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;
use tracing::{info, warn};

use super::upstream_page::{self, Answer, Validators};
use crate::app::Upstream;
use crate::app::clock::unix_now;
use crate::error::{Error, ErrorKind, Result};
use crate::index::Format;
use crate::upstream::{Client, redact, transport_error};

/// After a failed fetch with nothing to serve, wait this long (seconds)
/// before asking that upstream again.
const RETRY_AFTER: i64 = 30;

/// The local names: stored and uploaded projects, sorted and normalized,
/// with a generation that changes whenever they do.
#[derive(Debug, Clone, Default)]
pub(crate) struct LocalNames {
    pub generation: u64,
    pub names: Arc<Vec<String>>,
}

/// What one upstream's list on disk is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct ListMeta {
    /// The URL it came from: another URL under the same name is another list.
    url: String,
    etag: Option<String>,
    last_modified: Option<String>,
    /// Unix seconds of the last fetch or revalidation.
    fetched_at: i64,
    /// Changes whenever the name file is replaced.
    content: u64,
}

/// The upstream lists the merged documents were made of.
type Parts = Vec<(String, u64)>;

#[derive(Debug)]
pub(crate) struct Listing {
    dir: PathBuf,
    client: Client,
    upstreams: Arc<[Upstream]>,
    retries: u32,
    /// The documents being served, for requests that need nothing else.
    served: Mutex<Option<Arc<Served>>>,
    /// Refreshes and merges, one at a time.
    state: tokio::sync::Mutex<State>,
}

#[derive(Debug)]
struct Served {
    html: Bytes,
    json: Bytes,
    /// Unix seconds until which no upstream needs asking.
    fresh_until: i64,
    local_generation: u64,
}

#[derive(Debug, Default)]
struct State {
    loaded: bool,
    lists: HashMap<String, ListMeta>,
    merged: Option<Parts>,
    /// Local names known to be in the merged name file.
    confirmed: HashSet<String>,
    /// Upstreams that failed with nothing to serve, until when to wait.
    failed_until: HashMap<String, i64>,
}

impl Listing {
    pub(crate) fn new(
        dir: PathBuf,
        client: Client,
        upstreams: Arc<[Upstream]>,
        retries: u32,
    ) -> Self {
        Self {
            dir,
            client,
            upstreams,
            retries,
            served: Mutex::default(),
            state: tokio::sync::Mutex::default(),
        }
    }

    /// The merged list in `format` with `local` names in it.
    pub(crate) async fn view(&self, format: Format, local: &LocalNames) -> Result<Bytes> {
        if let Some(served) = self.current(local) {
            return Ok(served.body(format));
        }
        let mut state = self.state.lock().await;
        // Whoever held the lock may have done the work.
        if let Some(served) = self.current(local) {
            return Ok(served.body(format));
        }
        if !state.loaded {
            self.load(&mut state).await?;
        }
        let now = unix_now();
        let mut parts = Parts::new();
        let mut fresh_until = i64::MAX;
        for upstream in self.upstreams.iter() {
            let name = upstream.name.to_string();
            let held = state
                .lists
                .get(&name)
                .filter(|meta| meta.url == upstream.url.as_str())
                .cloned();
            let ttl = secs(upstream.page_ttl);
            let due = held.as_ref().is_none_or(|m| now - m.fetched_at >= ttl)
                && state.failed_until.get(&name).is_none_or(|&t| now >= t);
            let mut list = held.clone();
            if due {
                match self.refresh(upstream, held.as_ref()).await {
                    Ok(meta) => {
                        state.failed_until.remove(&name);
                        list = Some(meta);
                    }
                    Err(e) => {
                        warn!(upstream = %upstream.name, "cannot refresh the project list: {e}");
                        state.failed_until.insert(name.clone(), now + RETRY_AFTER);
                    }
                }
            }
            let usable = list.filter(|m| now - m.fetched_at <= ttl + secs(upstream.max_stale));
            let retry = state.failed_until.get(&name).copied();
            match usable {
                Some(meta) => {
                    let next = (meta.fetched_at + ttl).max(retry.unwrap_or(0));
                    fresh_until = fresh_until.min(next.max(now + 1));
                    parts.push((name.clone(), meta.content));
                    state.lists.insert(name, meta);
                }
                None => fresh_until = fresh_until.min(retry.unwrap_or(now + RETRY_AFTER)),
            }
        }
        let missing = self.missing_locals(&mut state, &parts, local).await?;
        if state.merged.as_ref() != Some(&parts) || missing {
            self.merge(&mut state, &parts, local).await?;
        }
        let merged = build::Merged::in_dir(&self.dir);
        let served = Arc::new(Served {
            html: map(&merged.html).await?,
            json: map(&merged.json).await?,
            fresh_until,
            local_generation: local.generation,
        });
        *self.served.lock().expect("poisoned") = Some(served.clone());
        Ok(served.body(format))
    }

    fn current(&self, local: &LocalNames) -> Option<Arc<Served>> {
        let served = self.served.lock().expect("poisoned").clone()?;
        (unix_now() < served.fresh_until && served.local_generation == local.generation)
            .then_some(served)
    }

    /// Reads what a previous run left on disk.
    async fn load(&self, state: &mut State) -> Result<()> {
        tokio::fs::create_dir_all(&self.dir)
            .await
            .map_err(|e| Error::storage(format!("cannot create `{}`", self.dir.display()), e))?;
        for upstream in self.upstreams.iter() {
            let name = upstream.name.to_string();
            if let Some(meta) = read_json::<ListMeta>(&self.meta_path(&name)).await
                && tokio::fs::try_exists(self.names_path(&name))
                    .await
                    .unwrap_or(false)
            {
                state.lists.insert(name, meta);
            }
        }
        state.merged = read_json::<Parts>(&self.dir.join("index.parts.json")).await;
        state.loaded = true;
        Ok(())
    }

    /// Asks `upstream` for its list, conditionally when one is held; the
    /// list's metadata after the answer.
    async fn refresh(&self, upstream: &Upstream, held: Option<&ListMeta>) -> Result<ListMeta> {
        let url = &upstream.url;
        let validators = held.map(|m| Validators {
            etag: m.etag.as_deref(),
            last_modified: m.last_modified.as_deref(),
        });
        // With a list to fall back on, a failing upstream is not worth a wait.
        let retries = if held.is_some() { 0 } else { self.retries };
        let answer = upstream_page::request(
            &self.client,
            url,
            upstream.page_headers(),
            validators,
            retries,
        )
        .await?;
        let name = upstream.name.to_string();
        let meta = match answer {
            // Only a conditional request (with a held list) gets this answer.
            Answer::NotModified => ListMeta {
                fetched_at: unix_now(),
                ..held.cloned().ok_or_else(|| {
                    Error::new(
                        ErrorKind::Upstream,
                        format!("`{}` answered 304 unasked", redact(url)),
                    )
                })?
            },
            Answer::Missing => {
                return Err(Error::new(
                    ErrorKind::Upstream,
                    format!("`{}` has no project list (404)", redact(url)),
                ));
            }
            Answer::Body(head) => {
                let body = self.dir.join(format!(".larder-list-body-{name}"));
                let streamed = stream_to(head.response, &body, url).await;
                let read = match streamed {
                    Ok(()) => {
                        let (body, names) = (body.clone(), self.names_path(&name));
                        let is_json = head.is_json;
                        blocking(move || build::names_file(&body, is_json, &names)).await
                    }
                    Err(e) => Err(e),
                };
                let _ = tokio::fs::remove_file(&body).await;
                let read = read?;
                info!(upstream = %upstream.name, projects = read.names, "project list fetched");
                ListMeta {
                    url: url.to_string(),
                    etag: head.etag,
                    last_modified: head.last_modified,
                    fetched_at: unix_now(),
                    content: content_id(),
                }
            }
        };
        write_json(&self.meta_path(&name), &meta).await?;
        Ok(meta)
    }

    /// Whether a local name is missing from the merged documents (then they
    /// are merged again); each present name is looked up once.
    async fn missing_locals(
        &self,
        state: &mut State,
        parts: &Parts,
        local: &LocalNames,
    ) -> Result<bool> {
        if state.merged.as_ref() != Some(parts) {
            return Ok(true);
        }
        let unchecked: Vec<String> = local
            .names
            .iter()
            .filter(|n| !state.confirmed.contains(*n))
            .cloned()
            .collect();
        if unchecked.is_empty() {
            return Ok(false);
        }
        let path = build::Merged::in_dir(&self.dir).names;
        let (present, missing) = blocking(move || {
            let file = std::fs::File::open(&path).map_err(|e| read_error(&path, e))?;
            let len = file.metadata().map_err(|e| read_error(&path, e))?.len();
            let mut present = Vec::new();
            for name in unchecked {
                if names::contains(&file, len, &name).map_err(|e| read_error(&path, e))? {
                    present.push(name);
                } else {
                    return Ok((present, true));
                }
            }
            Ok((present, false))
        })
        .await?;
        state.confirmed.extend(present);
        Ok(missing)
    }

    async fn merge(&self, state: &mut State, parts: &Parts, local: &LocalNames) -> Result<()> {
        let files: Vec<PathBuf> = parts
            .iter()
            .map(|(name, _)| self.names_path(name))
            .collect();
        let (names, merged) = (local.names.clone(), build::Merged::in_dir(&self.dir));
        blocking(move || build::merge(&files, &names, &merged)).await?;
        write_json(&self.dir.join("index.parts.json"), parts).await?;
        state.merged = Some(parts.clone());
        state.confirmed = local.names.iter().cloned().collect();
        Ok(())
    }

    fn names_path(&self, upstream: &str) -> PathBuf {
        self.dir.join(format!("{upstream}.names"))
    }

    fn meta_path(&self, upstream: &str) -> PathBuf {
        self.dir.join(format!("{upstream}.meta.json"))
    }
}

impl Served {
    fn body(&self, format: Format) -> Bytes {
        match format {
            Format::Html => self.html.clone(),
            Format::Json => self.json.clone(),
        }
    }
}

/// Streams a response body to `path`.
async fn stream_to(response: reqwest::Response, path: &Path, url: &url::Url) -> Result<()> {
    let write_error = |e| Error::storage(format!("cannot write `{}`", path.display()), e);
    let mut out = tokio::fs::File::create(path).await.map_err(write_error)?;
    let mut body = response.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| transport_error(url, &e))?;
        out.write_all(&chunk).await.map_err(write_error)?;
    }
    out.flush().await.map_err(write_error)
}

/// A document's bytes as a memory map the socket sends from the file; read
/// into memory only where the filesystem cannot map files.
async fn map(path: &Path) -> Result<Bytes> {
    let path = path.to_path_buf();
    blocking(move || {
        let file = Arc::new(std::fs::File::open(&path).map_err(|e| read_error(&path, e))?);
        let len = file.metadata().map_err(|e| read_error(&path, e))?.len();
        match crate::zero_copy::map(file, 0, len) {
            Ok(bytes) => Ok(bytes),
            Err(_) => std::fs::read(&path)
                .map(Bytes::from)
                .map_err(|e| read_error(&path, e)),
        }
    })
    .await
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| Error::storage("the project list task failed", std::io::Error::other(e)))?
}

async fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Option<T> {
    let bytes = tokio::fs::read(path).await.ok()?;
    serde_json::from_slice(&bytes).ok()
}

async fn write_json(path: &Path, value: &impl Serialize) -> Result<()> {
    let bytes = serde_json::to_vec(value).map_err(|e| Error::invalid(e.to_string()))?;
    let tmp = path.with_extension("tmp");
    let write_error = |e| Error::storage(format!("cannot write `{}`", path.display()), e);
    tokio::fs::write(&tmp, bytes).await.map_err(write_error)?;
    tokio::fs::rename(&tmp, path).await.map_err(write_error)
}

fn read_error(path: &Path, e: std::io::Error) -> Error {
    Error::storage(format!("cannot read `{}`", path.display()), e)
}

fn secs(duration: std::time::Duration) -> i64 {
    i64::try_from(duration.as_secs()).unwrap_or(i64::MAX / 4)
}

/// A value that differs between two replacements of a name file.
fn content_id() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}
