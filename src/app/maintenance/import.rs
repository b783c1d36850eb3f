//! `larder import`: distributions from a directory (a wheelhouse, a `pip
//! download` folder, a zc.buildout download cache, an export tree) or an
//! export archive become cached files, as if fetched: stored through a
//! staging file, recorded with source `import` under their project, so
//! `/local/simple/` and offline mode serve them. A wheel's METADATA is kept
//! as its PEP 658 `.metadata` file. Everything that is not a distribution
//! file is listed and skipped.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use tokio::io::AsyncReadExt;
use tracing::{info, warn};

use super::Maintenance;
use crate::app::clock::unix_now;
use crate::app::{Progress, wheel};
use crate::catalog::BlobName;
use crate::error::{Error, ErrorKind, Result};
use crate::export::{Scratch, archive, manifest};
use crate::model::{DistFilename, Sha256Hex, Source};
use crate::store::Expected;

/// What `larder import` did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ImportReport {
    /// The directory or archive imported.
    pub source: String,
    /// Distribution files whose bytes were new to the store.
    pub imported: Vec<ImportedFile>,
    /// Distribution files the store held already (now also named as imported).
    pub already_stored: Vec<ImportedFile>,
    /// Files that are not distributions.
    pub skipped: Vec<Skipped>,
    /// Distribution files that could not be imported, and why.
    pub failed: Vec<Skipped>,
    /// Bytes of the files in `imported`.
    pub bytes: u64,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ImportedFile {
    /// The path inside the imported directory or archive.
    pub path: String,
    pub filename: String,
    pub project: String,
    pub sha256: String,
    pub size: u64,
    /// Whether its core metadata (a wheel's METADATA) is stored too.
    pub metadata: bool,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Skipped {
    pub path: String,
    pub reason: String,
}

/// A distribution file found in the source.
struct Candidate {
    /// Relative to the source, `/`-separated.
    shown: String,
    path: PathBuf,
    dist: DistFilename,
    filename: String,
    expected: Expected,
    size: u64,
}

impl Maintenance {
    /// Imports every distribution file under `source` (a directory, walked
    /// recursively, or a `.tar.zst` / `.tar` archive).
    pub(crate) async fn import(
        &self,
        source: &Path,
        progress: &dyn Progress,
    ) -> Result<ImportReport> {
        let meta = tokio::fs::metadata(source).await.map_err(|e| {
            let kind = if e.kind() == std::io::ErrorKind::NotFound {
                ErrorKind::NotFound
            } else {
                ErrorKind::Storage
            };
            Error::new(kind, format!("cannot read `{}`", source.display())).with_source(e)
        })?;
        let mut report = ImportReport {
            source: source.display().to_string(),
            ..ImportReport::default()
        };
        if meta.is_dir() {
            let (candidates, skipped) = find_in_dir(source).await?;
            report.skipped = skipped;
            self.import_all(candidates, &mut report, progress).await;
        } else if archive::is_archive(source) {
            let scratch = Scratch::create_in(self.store.staging_dir(), "larder-import")?;
            let (archive_path, into) = (source.to_path_buf(), scratch.path().to_path_buf());
            let members = tokio::task::spawn_blocking(move || {
                archive::extract_files(&archive_path, &into, &|name| {
                    DistFilename::parse(name).is_ok() || name == manifest::FILE_NAME
                })
            })
            .await
            .map_err(|e| Error::storage("the archive reader failed", std::io::Error::other(e)))??;
            let (candidates, skipped) = from_members(&members).await?;
            report.skipped = skipped;
            self.import_all(candidates, &mut report, progress).await;
        } else {
            return Err(Error::invalid(format!(
                "`{}` is neither a directory nor a .tar.zst or .tar archive",
                source.display()
            )));
        }
        info!(
            source = %report.source,
            imported = report.imported.len(),
            already = report.already_stored.len(),
            skipped = report.skipped.len(),
            failed = report.failed.len(),
            "import finished"
        );
        Ok(report)
    }

    async fn import_all(
        &self,
        candidates: Vec<Candidate>,
        report: &mut ImportReport,
        progress: &dyn Progress,
    ) {
        progress.start(candidates.iter().map(|c| c.size).sum());
        for candidate in candidates {
            match self.import_one(&candidate).await {
                Ok((file, true)) => {
                    report.bytes += file.size;
                    report.imported.push(file);
                }
                Ok((file, false)) => report.already_stored.push(file),
                Err(e) => {
                    warn!(path = %candidate.shown, "not imported: {e}");
                    report.failed.push(Skipped {
                        path: candidate.shown.clone(),
                        reason: e.to_string(),
                    });
                }
            }
            progress.advance(candidate.size, &candidate.filename);
        }
    }

    /// Stores one file (and a wheel's METADATA); `true` when its bytes were new.
    async fn import_one(&self, candidate: &Candidate) -> Result<(ImportedFile, bool)> {
        let what = format!("`{}`", candidate.shown);
        let read_error = |e| Error::storage(format!("cannot read {what}"), e);
        let mut input = tokio::fs::File::open(&candidate.path)
            .await
            .map_err(read_error)?;
        let mut staging = self.store.stage().await?;
        let mut buf = vec![0; 256 * 1024];
        loop {
            let n = input.read(&mut buf).await.map_err(read_error)?;
            if n == 0 {
                break;
            }
            staging.write(&buf[..n]).await?;
        }
        let staged = staging.finish().await?;
        staged.verify(&candidate.expected, &what)?;
        let metadata = if candidate.dist.is_wheel() {
            let (path, dist, filename) = (
                staged.path().to_path_buf(),
                candidate.dist.clone(),
                candidate.filename.clone(),
            );
            match tokio::task::spawn_blocking(move || wheel::read(&path, &dist, &filename)).await {
                Ok(Ok(metadata)) => Some(metadata),
                Ok(Err(e)) => {
                    warn!(path = %candidate.shown, "imported without core metadata: {e}");
                    None
                }
                Err(e) => {
                    return Err(Error::storage(
                        "the wheel reader failed",
                        std::io::Error::other(e),
                    ));
                }
            }
        } else {
            None
        };
        let size = staged.digests.len;
        let known = match &staged.digests.sha256 {
            Some(sha) => self.store.size(sha).await?.is_some(),
            None => false,
        };
        let sha256 = self
            .store
            .commit(staged, &candidate.expected, &what)
            .await?;
        let project = candidate.dist.project_name().as_str().to_owned();
        let catalog = &self.catalog;
        let now = unix_now();
        catalog.record_blob(&sha256, size, now).await?;
        catalog
            .add_name(&imported_name(&sha256, &candidate.filename, &project))
            .await?;
        if let Some(metadata) = &metadata {
            let (meta_sha, meta_len) = self
                .store
                .put_bytes(
                    &metadata.bytes,
                    &format!("`{}.metadata`", candidate.filename),
                )
                .await?;
            catalog.record_blob(&meta_sha, meta_len, now).await?;
            let name = format!("{}.metadata", candidate.filename);
            catalog
                .add_name(&imported_name(&meta_sha, &name, &project))
                .await?;
        }
        Ok((
            ImportedFile {
                path: candidate.shown.clone(),
                filename: candidate.filename.clone(),
                project,
                sha256: sha256.to_string(),
                size,
                metadata: metadata.is_some(),
            },
            !known,
        ))
    }
}

fn imported_name(sha256: &Sha256Hex, filename: &str, project: &str) -> BlobName {
    BlobName {
        sha256: sha256.clone(),
        source: Source::Import,
        filename: filename.to_owned(),
        url: String::new(),
        project: project.to_owned(),
    }
}

/// The distribution files under `dir` (checked against its `MANIFEST`, when
/// it has one), and everything else as skipped.
async fn find_in_dir(dir: &Path) -> Result<(Vec<Candidate>, Vec<Skipped>)> {
    let root = dir.to_path_buf();
    let files = tokio::task::spawn_blocking(move || archive::files_under(&root))
        .await
        .map_err(|e| Error::storage("the directory walk failed", std::io::Error::other(e)))??;
    let listed: Vec<(String, PathBuf)> = files
        .iter()
        .map(|relative| (slashed(relative), dir.join(relative)))
        .collect();
    classify(dir, &listed).await
}

/// The extracted members of an archive, as [`find_in_dir`] sees a tree.
async fn from_members(members: &[archive::Member]) -> Result<(Vec<Candidate>, Vec<Skipped>)> {
    let mut listed = Vec::new();
    let mut skipped = Vec::new();
    let mut root = None;
    for member in members {
        match &member.extracted {
            Some(path) => {
                root = path.parent().map(Path::to_path_buf);
                listed.push((member.path.clone(), path.clone()));
            }
            None => skipped.push(Skipped {
                path: member.path.clone(),
                reason: "not a distribution file".to_owned(),
            }),
        }
    }
    let Some(root) = root else {
        return Ok((Vec::new(), skipped));
    };
    // The archive's MANIFEST was extracted flat, next to the files.
    let (candidates, more) = classify_with(&root, &listed, true).await?;
    skipped.extend(more);
    Ok((candidates, skipped))
}

async fn classify(
    root: &Path,
    listed: &[(String, PathBuf)],
) -> Result<(Vec<Candidate>, Vec<Skipped>)> {
    classify_with(root, listed, false).await
}

/// Splits `listed` (shown path, real path) into distributions and the rest.
/// `flat`: the MANIFEST's paths are matched by file name (an extracted archive).
async fn classify_with(
    root: &Path,
    listed: &[(String, PathBuf)],
    flat: bool,
) -> Result<(Vec<Candidate>, Vec<Skipped>)> {
    let manifest = read_manifest(&root.join(manifest::FILE_NAME)).await?;
    let mut candidates = Vec::new();
    let mut skipped = Vec::new();
    for (shown, path) in listed {
        let filename = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let dist = match DistFilename::parse(&filename) {
            Ok(dist) => dist,
            Err(_) => {
                if !(flat && filename == manifest::FILE_NAME) {
                    skipped.push(Skipped {
                        path: shown.clone(),
                        reason: "not a distribution file".to_owned(),
                    });
                }
                continue;
            }
        };
        let size = tokio::fs::metadata(path)
            .await
            .map_err(|e| Error::storage(format!("cannot stat `{}`", path.display()), e))?
            .len();
        let key = if flat {
            filename.clone()
        } else {
            shown.clone()
        };
        let expected = manifest
            .get(&key)
            .map(|entry| Expected {
                sha256: Some(entry.sha256.clone()),
                md5: None,
                len: Some(entry.size),
            })
            .unwrap_or_default();
        candidates.push(Candidate {
            shown: shown.clone(),
            path: path.clone(),
            dist,
            filename,
            expected,
            size,
        });
    }
    Ok((candidates, skipped))
}

/// A tree's MANIFEST by path (and by file name, for flat lookups); empty
/// when there is none.
async fn read_manifest(path: &Path) -> Result<HashMap<String, manifest::Entry>> {
    let text = match tokio::fs::read_to_string(path).await {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(HashMap::new()),
        Err(e) => {
            return Err(Error::storage(
                format!("cannot read `{}`", path.display()),
                e,
            ));
        }
    };
    let mut by_key = HashMap::new();
    for entry in manifest::parse(&text)? {
        if let Some((_, name)) = entry.path.rsplit_once('/') {
            by_key.insert(name.to_owned(), entry.clone());
        }
        by_key.insert(entry.path.clone(), entry);
    }
    Ok(by_key)
}

/// A relative path with `/` separators.
fn slashed(relative: &Path) -> String {
    relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}
