//! `larder download`: fetch one URL or file, optionally through a download
//! cache with zc.buildout's semantics.
//!
//! With a cache directory, the copy lives at `DIR[/NAMESPACE]/<base name>` (or
//! `<md5 of the URL>` with hash names) and, once there, is used even if the
//! upstream changed. Checksums are checked on fresh downloads, cached copies
//! and local files. Every write goes through a [`StagingFile`] beside its
//! destination, so a failed or mismatching download leaves no file behind and
//! never replaces a good copy.

mod naming;

use std::path::{Path, PathBuf};

use futures::StreamExt;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use reqwest::header::HeaderMap;
use tracing::{debug, info, warn};

pub use naming::{Resource, cache_key, validate_namespace};

use crate::error::{Error, ErrorKind, Result};
use crate::store::{Expected, StagingFile, hash_file, parent_dir};
use crate::upstream::{self, Client};

/// The download cache a request goes through.
#[derive(Debug, Clone)]
pub struct CacheOptions {
    /// Must exist; larder does not create it.
    pub dir: PathBuf,
    /// A sub-directory of `dir`, created on demand.
    pub namespace: Option<String>,
    /// Name cached copies by the MD5 of their URL instead of their base name.
    pub hash_name: bool,
}

#[derive(Debug, Clone, Default)]
pub struct Request {
    /// The URL or path, exactly as the user gave it.
    pub url: String,
    pub cache: Option<CacheOptions>,
    /// Also place a copy here (or, without a cache, put the download here).
    pub output: Option<PathBuf>,
    pub expected: Expected,
    /// Never use the network; cached copies and local files still work.
    pub offline: bool,
    /// Try the network first, fall back to the cached copy when it fails.
    pub fallback: bool,
    /// Draw a progress bar on stderr (only ever drawn on a terminal).
    pub progress: bool,
}

/// Downloads per `request` and returns the path of the resulting file.
pub async fn download(client: &Client, request: &Request) -> Result<PathBuf> {
    let resource = Resource::parse(&request.url)?;
    let fetcher = Fetcher { client, request };
    let result = match &request.cache {
        Some(cache) => fetcher.through_cache(&resource, cache).await?,
        None => fetcher.direct(&resource).await?,
    };
    match &request.output {
        Some(output) if output != &result => {
            copy_file(
                &result,
                output,
                &Expected::default(),
                &result.display().to_string(),
            )
            .await?;
            Ok(output.clone())
        }
        _ => Ok(result),
    }
}

struct Fetcher<'a> {
    client: &'a Client,
    request: &'a Request,
}

impl Fetcher<'_> {
    async fn through_cache(&self, resource: &Resource, cache: &CacheOptions) -> Result<PathBuf> {
        if !tokio::fs::metadata(&cache.dir)
            .await
            .is_ok_and(|m| m.is_dir())
        {
            return Err(Error::invalid(format!(
                "the download cache directory `{}` does not exist",
                cache.dir.display()
            )));
        }
        let dir = match &cache.namespace {
            Some(namespace) => {
                let dir = cache.dir.join(validate_namespace(namespace)?);
                create_dir(&dir).await?;
                dir
            }
            None => cache.dir.clone(),
        };
        let cached = dir.join(cache_key(&self.request.url, resource, cache.hash_name)?);

        if tokio::fs::try_exists(&cached).await.unwrap_or(false) {
            if self.request.fallback {
                match self.fetch_to(resource, &cached).await {
                    Ok(()) => debug!(path = %cached.display(), "refreshed cached copy"),
                    // A mismatch is a real error, not a reason to use the old copy.
                    Err(e) if e.kind() == ErrorKind::ChecksumMismatch => return Err(e),
                    Err(e) => warn!("{e}; using the cached copy at `{}`", cached.display()),
                }
            }
            let what = format!(
                "cached download from `{resource}` at `{}`",
                cached.display()
            );
            self.check_existing(&cached, &what).await?;
            debug!(path = %cached.display(), "using cached copy");
        } else {
            debug!(path = %cached.display(), "cache miss");
            self.fetch_to(resource, &cached).await?;
        }
        Ok(cached)
    }

    async fn direct(&self, resource: &Resource) -> Result<PathBuf> {
        match (resource, &self.request.output) {
            // A local file needs no copy unless asked for one; `download` makes it.
            (Resource::Local(path), _) => {
                let what = format!("local resource at `{}`", path.display());
                self.check_existing(path, &what).await?;
                Ok(path.clone())
            }
            (Resource::Remote(_), output) => {
                let dest = match output {
                    Some(output) => output.clone(),
                    None => PathBuf::from(resource.basename()?),
                };
                self.fetch_to(resource, &dest).await?;
                Ok(dest)
            }
        }
    }

    /// Puts a verified copy of `resource` at `dest`, replacing what is there
    /// only once the new bytes are complete and verified.
    async fn fetch_to(&self, resource: &Resource, dest: &Path) -> Result<()> {
        match resource {
            Resource::Local(path) => {
                let what = format!("local resource at `{}`", path.display());
                copy_file(path, dest, &self.request.expected, &what).await
            }
            Resource::Remote(url) => {
                if self.request.offline {
                    return Err(Error::new(
                        ErrorKind::Offline,
                        format!("couldn't download `{resource}` in offline mode"),
                    ));
                }
                self.fetch_remote(url, dest).await
            }
        }
    }

    async fn fetch_remote(&self, url: &url::Url, dest: &Path) -> Result<()> {
        info!(url = %upstream::redact(url), "downloading");
        let response = self.client.get(url, &HeaderMap::new()).await?;
        let status = response.status();
        if !status.is_success() {
            let kind = if upstream::is_missing(status) {
                ErrorKind::NotFound
            } else {
                ErrorKind::Upstream
            };
            return Err(Error::new(
                kind,
                format!(
                    "cannot download `{}`: the server answered {status}",
                    upstream::redact(url)
                ),
            ));
        }
        let progress = progress_bar(self.request.progress, response.content_length());
        let expected = &self.request.expected;
        let mut staging = StagingFile::create_in(parent_dir(dest), expected.md5.is_some()).await?;
        if expected.sha256.is_none() {
            staging = staging.without_sha256();
        }
        let mut body = response.bytes_stream();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| upstream::transport_error(url, &e))?;
            staging.write(&chunk).await?;
            progress.set_position(staging.len());
        }
        progress.finish_and_clear();
        let staged = staging.finish().await?;
        staged.verify(
            &self.request.expected,
            &format!("download of `{}`", upstream::redact(url)),
        )?;
        staged.persist(dest).await
    }

    async fn check_existing(&self, path: &Path, what: &str) -> Result<()> {
        let expected = &self.request.expected;
        if expected.sha256.is_none() && expected.md5.is_none() {
            return if tokio::fs::try_exists(path).await.unwrap_or(false) {
                Ok(())
            } else {
                Err(Error::not_found(format!("{what}: no such file")))
            };
        }
        hash_file(path, expected.md5.is_some())
            .await?
            .verify(expected, what)
    }
}

/// Copies `from` to `to` through a staging file beside `to`, verifying the
/// bytes on the way; `to` is replaced only by a complete, verified copy.
async fn copy_file(from: &Path, to: &Path, expected: &Expected, what: &str) -> Result<()> {
    use tokio::io::AsyncReadExt;
    let read_error = |e| Error::storage(format!("cannot read `{}`", from.display()), e);
    let mut source = tokio::fs::File::open(from).await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::not_found(format!("{what}: no such file"))
        } else {
            read_error(e)
        }
    })?;
    let mut staging = StagingFile::create_in(parent_dir(to), expected.md5.is_some()).await?;
    let mut buf = vec![0; 256 * 1024];
    loop {
        let n = source.read(&mut buf).await.map_err(read_error)?;
        if n == 0 {
            break;
        }
        staging.write(&buf[..n]).await?;
    }
    let staged = staging.finish().await?;
    staged.verify(expected, what)?;
    staged.persist(to).await
}

async fn create_dir(dir: &Path) -> Result<()> {
    tokio::fs::create_dir_all(dir)
        .await
        .map_err(|e| Error::storage(format!("cannot create `{}`", dir.display()), e))
}

fn progress_bar(enabled: bool, total: Option<u64>) -> ProgressBar {
    if !enabled {
        return ProgressBar::hidden();
    }
    // indicatif draws nothing when stderr is not a terminal.
    let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr());
    if let Ok(style) =
        ProgressStyle::with_template("{bar:30} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
    {
        bar.set_style(style);
    }
    bar
}
