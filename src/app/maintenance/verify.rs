//! `larder verify [--repair]`: rehash every blob and reconcile the catalog
//! with the store both ways (see `verify_classify` for what counts as what).
//!
//! Repairs, with `--repair`:
//! - corrupt blobs and stray files are MOVED to `<data-dir>/quarantine/`
//!   (kept for inspection, never served); a corrupt cached blob's row is
//!   forgotten so the next request fetches it again;
//! - rows whose blob is missing are forgotten (the next request fetches it);
//! - orphans (valid content, no row) are recorded, without names: they are
//!   intact, cost nothing to keep, and prune can remove them like any other
//!   cached blob;
//! - stale staging files (untouched for an hour) are removed;
//! - rows stuck in `deleting` are finished: file deleted, row forgotten.
//!
//! An uploaded file cannot be fetched again, so its rows are never
//! forgotten: a corrupt upload is quarantined and reported, and the fix is
//! `larder delete` and a new upload. Missing and orphan findings are checked
//! again just before they are reported, so a download committing while
//! verify runs is not mistaken for damage.

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures::StreamExt;
use serde::Serialize;

use super::Maintenance;
use super::verify_classify::{FileCheck, Found, Problem, classify};
use crate::app::Progress;
use crate::app::clock::unix_now;
use crate::error::{Error, ErrorKind, Result};
use crate::model::Sha256Hex;
use crate::store::{Hasher, STAGING_PREFIX};

/// Staging files untouched for this long belong to no live download (those
/// write at least every read timeout) or upload.
const STALE_STAGING: Duration = Duration::from_hours(1);

/// Files hashed at once: enough to keep a disk busy, few enough for 2 cores.
const MAX_PARALLEL_HASHES: usize = 4;

#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    pub repair: bool,
    pub blobs_checked: u64,
    pub bytes_checked: u64,
    pub findings: Vec<Finding>,
}

impl VerifyReport {
    /// Whether anything was wrong (repaired or not).
    pub fn found_damage(&self) -> bool {
        !self.findings.is_empty()
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub problem: Problem,
    pub sha256: Option<String>,
    pub path: Option<String>,
    pub detail: String,
    /// What `--repair` did; `None` without `--repair`.
    pub action: Option<String>,
}

impl Maintenance {
    /// Hashing is reported to `progress` in bytes, one call per blob.
    pub(crate) async fn verify(
        &self,
        repair: bool,
        progress: &dyn Progress,
    ) -> Result<VerifyReport> {
        // Rows first: a blob committed after this read shows up as an orphan,
        // which is checked again below, never as missing.
        let rows = self.catalog.blob_usage().await?;
        let root = self.store.blobs_dir().to_path_buf();
        let paths = blocking(move || walk(&root)).await?;
        let total = paths.len() as u64;
        progress.start(paths.iter().map(|(_, len)| len).sum());
        let root = self.store.blobs_dir().to_path_buf();
        let mut checks = Vec::with_capacity(paths.len());
        let mut hashing = futures::stream::iter(paths)
            .map(|(path, len)| {
                let named = blob_name(&root, &path);
                async move {
                    let probe = path.clone();
                    let actual = blocking(move || hash(&probe))
                        .await
                        .map_err(|e| e.to_string());
                    let check = FileCheck {
                        path,
                        named,
                        actual,
                    };
                    (check, len)
                }
            })
            .buffer_unordered(parallelism());
        while let Some((check, len)) = hashing.next().await {
            let name = check.path.file_name().map(|n| n.to_string_lossy());
            progress.advance(len, name.as_deref().unwrap_or_default());
            checks.push(check);
        }
        checks.sort_by(|a, b| a.path.cmp(&b.path));
        let bytes_checked = checks
            .iter()
            .filter_map(|c| c.actual.as_ref().ok().map(|(_, len)| len))
            .sum();

        let mut found = classify(&rows, &checks);
        found.extend(self.stale_staging().await?);
        let mut findings = Vec::new();
        for f in found {
            if !self.still_damaged(&f).await? {
                continue;
            }
            let action = if repair {
                Some(self.repair(&f).await?)
            } else {
                None
            };
            findings.push(Finding {
                problem: f.problem,
                sha256: f.sha256.as_ref().map(ToString::to_string),
                path: f.path.as_ref().map(|p| p.display().to_string()),
                detail: f.detail,
                action,
            });
        }
        Ok(VerifyReport {
            repair,
            blobs_checked: total,
            bytes_checked,
            findings,
        })
    }

    async fn stale_staging(&self) -> Result<Vec<Found>> {
        let dir = self.store.staging_dir().to_path_buf();
        let stale = blocking(move || {
            let mut stale = Vec::new();
            for entry in std::fs::read_dir(&dir)? {
                let entry = entry?;
                let is_staging = entry
                    .file_name()
                    .to_str()
                    .is_some_and(|n| n.starts_with(STAGING_PREFIX));
                let age = entry
                    .metadata()?
                    .modified()?
                    .elapsed()
                    .unwrap_or(Duration::ZERO);
                if is_staging && age >= STALE_STAGING {
                    stale.push((entry.path(), age));
                }
            }
            Ok(stale)
        })
        .await?;
        Ok(stale
            .into_iter()
            .map(|(path, age)| Found {
                problem: Problem::StaleStaging,
                sha256: None,
                path: Some(path),
                private: false,
                size: 0,
                detail: format!("untouched for {} min", age.as_secs() / 60),
            })
            .collect())
    }

    /// Looks again at findings a running server could have caused meanwhile.
    async fn still_damaged(&self, found: &Found) -> Result<bool> {
        let Some(sha256) = &found.sha256 else {
            return Ok(true);
        };
        Ok(match found.problem {
            Problem::Missing => self.store.size(sha256).await?.is_none(),
            Problem::Orphan => self.catalog.blob(sha256).await?.is_none(),
            _ => true,
        })
    }

    /// Repairs one finding; returns what was done.
    async fn repair(&self, found: &Found) -> Result<String> {
        let catalog = &self.catalog;
        let sha256 = found.sha256.as_ref();
        Ok(match (found.problem, sha256) {
            (Problem::Corrupt, Some(sha256)) => {
                let moved = self.quarantine(found.path.as_deref()).await?;
                if found.private {
                    format!(
                        "moved to `{moved}`; an upload's bytes cannot be fetched again: \
                         `larder delete` the file and upload it again"
                    )
                } else {
                    catalog.forget_cached(sha256, false).await?;
                    format!("moved to `{moved}` and forgotten; the next request fetches it again")
                }
            }
            (Problem::Missing, Some(sha256)) if !found.private => {
                catalog.forget_cached(sha256, false).await?;
                "forgotten; the next request fetches it again".to_owned()
            }
            (Problem::Missing, _) => "none possible: an upload's bytes are gone; \
                `larder delete` the file and upload it again"
                .to_owned(),
            (Problem::Orphan, Some(sha256)) => {
                catalog.record_blob(sha256, found.size, unix_now()).await?;
                "recorded (nameless: prune may remove it)".to_owned()
            }
            (Problem::StuckDeleting, Some(sha256)) => {
                self.store.delete(sha256).await?;
                catalog.forget_cached(sha256, true).await?;
                "removal finished".to_owned()
            }
            (Problem::StaleStaging, _) => {
                if let Some(path) = &found.path {
                    remove(path).await?;
                }
                "removed".to_owned()
            }
            (Problem::Stray | Problem::Corrupt | Problem::Orphan | Problem::StuckDeleting, _) => {
                let moved = self.quarantine(found.path.as_deref()).await?;
                format!("moved to `{moved}`")
            }
        })
    }

    /// Moves a file into `<data-dir>/quarantine/`, never over another one.
    async fn quarantine(&self, path: Option<&Path>) -> Result<String> {
        let Some(path) = path else {
            return Ok("nowhere (no file)".to_owned());
        };
        let dir = self.data_dir.join("quarantine");
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(|e| Error::storage(format!("cannot create `{}`", dir.display()), e))?;
        let name = path
            .file_name()
            .map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned());
        let mut dest = dir.join(&name);
        let mut n = 1;
        while tokio::fs::try_exists(&dest).await.unwrap_or(false) {
            dest = dir.join(format!("{name}.{n}"));
            n += 1;
        }
        tokio::fs::rename(path, &dest).await.map_err(|e| {
            Error::storage(
                format!("cannot move `{}` to `{}`", path.display(), dest.display()),
                e,
            )
        })?;
        Ok(dest.display().to_string())
    }
}

/// The digest a blob file's name and place announce (`ab/cd/abcd…`), or
/// `None` for anything else.
fn blob_name(root: &Path, path: &Path) -> Option<Sha256Hex> {
    let relative = path.strip_prefix(root).ok()?;
    let parts: Vec<&str> = relative.iter().map(|p| p.to_str()).collect::<Option<_>>()?;
    let [first, second, hex] = parts.as_slice() else {
        return None;
    };
    let sha = Sha256Hex::parse(hex).ok()?;
    let placed = sha.as_str() == *hex
        && sha.as_str().get(0..2) == Some(*first)
        && sha.as_str().get(2..4) == Some(*second);
    placed.then_some(sha)
}

/// Every regular file under `dir`, recursively, with its size.
fn walk(dir: &Path) -> std::io::Result<Vec<(PathBuf, u64)>> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                pending.push(entry.path());
            } else {
                out.push((entry.path(), entry.metadata()?.len()));
            }
        }
    }
    Ok(out)
}

/// Streams a file through SHA-256 (memory does not grow with its size).
fn hash(path: &Path) -> std::io::Result<(Sha256Hex, u64)> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Hasher::new(false);
    let mut buf = vec![0; 256 * 1024];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    let digests = hasher.finish();
    let sha = digests
        .sha256
        .ok_or_else(|| std::io::Error::other("no SHA-256 was computed"))?;
    Ok((sha, digests.len))
}

/// Runs file-system work on the blocking pool.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| Error::new(ErrorKind::Storage, format!("verify task failed: {e}")))?
        .map_err(|e| Error::storage("cannot read the store", e))
}

async fn remove(path: &Path) -> Result<()> {
    match tokio::fs::remove_file(path).await {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::storage(
            format!("cannot remove `{}`", path.display()),
            e,
        )),
    }
}

fn parallelism() -> usize {
    std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(MAX_PARALLEL_HASHES)
}
