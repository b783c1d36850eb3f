//! Warming the cache: fetch, ahead of need, the files a list of
//! requirements or a lock file names, through the same page and file paths
//! the server uses (same freshness rules, same single download per file, same
//! verification).
//!
//! With `deps`, each chosen version's core metadata is read and its
//! `Requires-Dist` entries (markers evaluated for the targets, extras
//! propagated) are warmed too, until nothing new turns up. That gathers a
//! *superset* for caching; it is not a resolver: every requirement is
//! satisfied on its own with the newest version it allows, conflicts are
//! not detected, and a project can be warmed in several versions.
//!
//! URLs in lock files are never fetched: only the file names and digests
//! they give are matched against the project's index page, so warming (from
//! the CLI or `POST /requirements.txt`) cannot make larder fetch anything an
//! upstream page did not announce.

use std::collections::HashSet;
use std::path::PathBuf;

use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use serde::Serialize;

use super::App;
use super::fetch::FileBody;
use crate::error::{Error, ErrorKind, Result};
use crate::model::{CoreMetadata, DistFilename, ProjectFile, Sha256Hex};
use crate::requirements::{
    Choice, Note, NoteKind, Parsed, Rounds, Targets, Wanted, choose_files, dependencies, describe,
    requires_dist,
};

/// How to warm.
#[derive(Debug, Clone)]
pub struct WarmOptions {
    pub targets: Targets,
    /// Follow dependencies through core metadata.
    pub deps: bool,
    /// Downloads (and page fetches) at a time.
    pub concurrency: usize,
}

impl Default for WarmOptions {
    fn default() -> Self {
        Self {
            targets: Targets::default(),
            deps: false,
            concurrency: 8,
        }
    }
}

/// Told about progress as it happens (the CLI draws a bar with it).
pub trait WarmProgress: Send + Sync {
    /// `count` more files are about to be fetched or checked.
    fn planned(&self, count: usize);
    /// One file is done.
    fn finished(&self, outcome: &FileOutcome);
}

/// No progress display.
impl WarmProgress for () {
    fn planned(&self, _: usize) {}
    fn finished(&self, _: &FileOutcome) {}
}

/// Everything a warm did, for `--json` and `POST /requirements.txt`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct WarmReport {
    pub requirements: Vec<RequirementOutcome>,
    pub files: Vec<FileOutcome>,
    /// Lines and packages that were not requirements larder can act on.
    pub notes: Vec<NoteOutcome>,
}

/// What became of one requirement.
#[derive(Debug, Clone, Serialize)]
pub struct RequirementOutcome {
    /// As written (`demo[fast]>=1.0`), or `demo==1.0` for lock files.
    pub requirement: String,
    /// Where it was written, or `dependency of <project> <version>`.
    pub origin: String,
    pub project: String,
    pub status: RequirementStatus,
    /// The version chosen, when one was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RequirementStatus {
    /// A version was chosen and its files are listed under `files`.
    Chosen,
    /// Its markers hold for none of the targets.
    NotForTargets,
    /// No version or file qualifies, or the index does not know the project.
    Unsatisfiable,
}

/// What became of one file.
#[derive(Debug, Clone, Serialize)]
pub struct FileOutcome {
    pub project: String,
    pub filename: String,
    pub sha256: String,
    pub status: FileStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FileStatus {
    Fetched,
    AlreadyCached,
    Failed,
}

/// A [`Note`] in the report.
#[derive(Debug, Clone, Serialize)]
pub struct NoteOutcome {
    pub kind: &'static str,
    pub origin: String,
    pub text: String,
    pub reason: String,
}

impl From<&Note> for NoteOutcome {
    fn from(note: &Note) -> Self {
        Self {
            kind: match note.kind {
                NoteKind::Ignored => "ignored",
                NoteKind::Unsupported => "unsupported",
                NoteKind::Invalid => "invalid",
            },
            origin: note.origin.clone(),
            text: note.text.clone(),
            reason: note.reason.clone(),
        }
    }
}

impl WarmReport {
    /// Whether anything failed: a file, a requirement, or a malformed line.
    pub fn failed(&self) -> bool {
        self.files.iter().any(|f| f.status == FileStatus::Failed)
            || self
                .requirements
                .iter()
                .any(|r| r.status == RequirementStatus::Unsatisfiable)
            || self.notes.iter().any(|n| n.kind == "invalid")
    }

    pub fn count(&self, status: FileStatus) -> usize {
        self.files.iter().filter(|f| f.status == status).count()
    }
}

/// A chosen version, remembered for following its dependencies.
struct Chosen {
    wanted: Wanted,
    choice: Choice,
}

impl App {
    /// Fetches what `parsed` asks for (see the module docs). Failures of
    /// single requirements or files are in the report, not an `Err`; an
    /// `Err` means larder itself could not work (storage, config).
    pub async fn warm(
        &self,
        parsed: &Parsed,
        options: &WarmOptions,
        progress: &dyn WarmProgress,
    ) -> Result<WarmReport> {
        let mut report = WarmReport {
            notes: parsed.notes.iter().map(NoteOutcome::from).collect(),
            ..WarmReport::default()
        };
        let concurrency = options.concurrency.max(1);
        let mut rounds = Rounds::default();
        let mut seen_files: HashSet<String> = HashSet::new();
        let mut wave: Vec<Wanted> = parsed.wanted.clone();
        while let Some(this_round) = rounds.next(wave)? {
            let chosen = self
                .choose_all(this_round, options, concurrency, &mut report)
                .await?;
            let files: Vec<(String, ProjectFile)> = chosen
                .iter()
                .flat_map(|c| {
                    c.choice
                        .files
                        .iter()
                        .map(|f| (c.wanted.name.to_string(), f.clone()))
                })
                .filter(|(_, f)| seen_files.insert(f.filename.clone()))
                .collect();
            self.fetch_all(&files, concurrency, progress, &mut report)
                .await?;
            if !options.deps {
                break;
            }
            wave = self
                .dependencies(&chosen, options, concurrency, &mut report)
                .await?;
        }
        Ok(report)
    }

    /// Chooses a version for each requirement whose markers apply.
    async fn choose_all(
        &self,
        wave: Vec<Wanted>,
        options: &WarmOptions,
        concurrency: usize,
        report: &mut WarmReport,
    ) -> Result<Vec<Chosen>> {
        let lookups: Vec<BoxFuture<'_, _>> = wave
            .into_iter()
            .map(|wanted| {
                async move {
                    if !options.targets.marker_applies(&wanted.marker, &[]) {
                        return (wanted, Ok(Ok(None)));
                    }
                    let page = self.project_model(&wanted.name).await;
                    let choice =
                        page.map(|page| choose_files(&page, &wanted, &options.targets).map(Some));
                    (wanted, choice)
                }
                .boxed()
            })
            .collect();
        let mut results = futures::stream::iter(lookups).buffered(concurrency);
        let mut chosen = Vec::new();
        while let Some((wanted, result)) = results.next().await {
            let mut outcome = RequirementOutcome {
                requirement: describe(&wanted),
                origin: wanted.origin.clone(),
                project: wanted.name.to_string(),
                status: RequirementStatus::Chosen,
                version: None,
                reason: None,
            };
            match result {
                Ok(Ok(Some(choice))) => {
                    outcome.version = Some(choice.version.clone());
                    chosen.push(Chosen { wanted, choice });
                }
                Ok(Ok(None)) => {
                    outcome.status = RequirementStatus::NotForTargets;
                    outcome.reason = Some("its markers hold for none of the targets".into());
                }
                Ok(Err(reason)) => {
                    outcome.status = RequirementStatus::Unsatisfiable;
                    outcome.reason = Some(reason);
                }
                Err(e) if e.kind() == ErrorKind::Storage => return Err(e),
                Err(e) => {
                    outcome.status = RequirementStatus::Unsatisfiable;
                    outcome.reason = Some(e.to_string());
                }
            }
            report.requirements.push(outcome);
        }
        Ok(chosen)
    }

    /// Fetches each file (and its `.metadata` file when the page announces
    /// one) into the store.
    async fn fetch_all(
        &self,
        files: &[(String, ProjectFile)],
        concurrency: usize,
        progress: &dyn WarmProgress,
        report: &mut WarmReport,
    ) -> Result<()> {
        let mut jobs = Vec::new();
        for (project, file) in files {
            let Some(sha) = file.sha256().and_then(|s| Sha256Hex::parse(s).ok()) else {
                continue;
            };
            if matches!(file.core_metadata, CoreMetadata::Present(_)) {
                jobs.push((project, sha.clone(), format!("{}.metadata", file.filename)));
            }
            jobs.push((project, sha, file.filename.clone()));
        }
        progress.planned(jobs.len());
        let downloads: Vec<BoxFuture<'_, _>> = jobs
            .into_iter()
            .map(|(project, sha, filename)| {
                async move {
                    let result = self.fetch_to_store(&sha, &filename).await;
                    (project, sha, filename, result)
                }
                .boxed()
            })
            .collect();
        let mut results = futures::stream::iter(downloads).buffer_unordered(concurrency);
        while let Some((project, sha, filename, result)) = results.next().await {
            let mut outcome = FileOutcome {
                project: project.clone(),
                filename,
                sha256: sha.to_string(),
                status: FileStatus::Failed,
                size: None,
                error: None,
            };
            match result {
                Ok((status, size, _)) => {
                    outcome.status = status;
                    outcome.size = Some(size);
                }
                Err(e) if e.kind() == ErrorKind::Storage => return Err(e),
                Err(e) => outcome.error = Some(e.to_string()),
            }
            progress.finished(&outcome);
            report.files.push(outcome);
        }
        Ok(())
    }

    /// Gets `/files/<sha256>/<filename>` into the store the way a client's
    /// request would, without a client: joins or starts the one download and
    /// waits for its commit. Returns the blob's path when it is known (a
    /// stored `.metadata` file's own digest is not at hand here).
    async fn fetch_to_store(
        &self,
        sha256: &Sha256Hex,
        filename: &str,
    ) -> Result<(FileStatus, u64, Option<PathBuf>)> {
        let opened = self.open_file(sha256, filename).await?;
        match opened.body {
            FileBody::Stored(file) => {
                let len = match opened.len {
                    Some(len) => len,
                    None => file
                        .metadata()
                        .await
                        .map_err(|e| Error::storage("cannot stat a stored blob", e))?
                        .len(),
                };
                let path = (!filename.ends_with(".metadata"))
                    .then(|| self.inner.fetcher.blob_path(sha256));
                Ok((FileStatus::AlreadyCached, len, path))
            }
            FileBody::Following(mut spool) => {
                let (len, path) = spool.finished().await?;
                Ok((FileStatus::Fetched, len, Some(path)))
            }
        }
    }

    /// The requirements the chosen versions' core metadata declares, for
    /// the targets and the extras asked for.
    async fn dependencies(
        &self,
        chosen: &[Chosen],
        options: &WarmOptions,
        concurrency: usize,
        report: &mut WarmReport,
    ) -> Result<Vec<Wanted>> {
        let reads: Vec<BoxFuture<'_, _>> = chosen
            .iter()
            .map(|c| async move { (c, self.requires_dist(&c.choice.files).await) }.boxed())
            .collect();
        let mut results = futures::stream::iter(reads).buffered(concurrency);
        let mut next = Vec::new();
        while let Some((c, result)) = results.next().await {
            let lines = match result {
                Ok(Some(lines)) => lines,
                Ok(None) => {
                    report.notes.push(NoteOutcome {
                        kind: "unsupported",
                        origin: c.wanted.origin.clone(),
                        text: format!("{} {}", c.wanted.name, c.choice.version),
                        reason: "no wheel or metadata file to read dependencies from".into(),
                    });
                    continue;
                }
                Err(e) if e.kind() == ErrorKind::Storage => return Err(e),
                Err(e) => {
                    report.notes.push(NoteOutcome {
                        kind: "invalid",
                        origin: c.wanted.origin.clone(),
                        text: format!("{} {}", c.wanted.name, c.choice.version),
                        reason: format!("cannot read its core metadata: {e}"),
                    });
                    continue;
                }
            };
            let found = dependencies(lines, &c.wanted, &c.choice.version, &options.targets);
            for line in found.unsupported {
                report.notes.push(NoteOutcome {
                    kind: "unsupported",
                    origin: found.origin.clone(),
                    text: line,
                    reason: "not a requirement larder can fetch from an index".into(),
                });
            }
            next.extend(found.wanted);
        }
        Ok(next)
    }

    /// `Requires-Dist` of a chosen version: from a wheel's `.metadata` file,
    /// else from the stored wheel itself; `None` when only sdists were chosen.
    async fn requires_dist(&self, files: &[ProjectFile]) -> Result<Option<Vec<String>>> {
        let wheels: Vec<&ProjectFile> = files
            .iter()
            .filter(|f| f.filename.ends_with(".whl"))
            .collect();
        if let Some(wheel) = wheels
            .iter()
            .find(|f| matches!(f.core_metadata, CoreMetadata::Present(_)))
        {
            let sha = Sha256Hex::parse(wheel.sha256().unwrap_or_default())
                .map_err(|e| Error::invalid(e.to_string()))?;
            let mut opened = self
                .open_file(&sha, &format!("{}.metadata", wheel.filename))
                .await?;
            let bytes = read_all(&mut opened.body).await?;
            return Ok(Some(requires_dist(&String::from_utf8_lossy(&bytes))));
        }
        let Some(wheel) = wheels.first() else {
            return Ok(None);
        };
        let sha = Sha256Hex::parse(wheel.sha256().unwrap_or_default())
            .map_err(|e| Error::invalid(e.to_string()))?;
        let Some(path) = self.fetch_to_store(&sha, &wheel.filename).await?.2 else {
            return Ok(None);
        };
        let dist =
            DistFilename::parse(&wheel.filename).map_err(|e| Error::invalid(e.to_string()))?;
        let filename = wheel.filename.clone();
        let metadata =
            tokio::task::spawn_blocking(move || super::wheel::read(&path, &dist, &filename))
                .await
                .map_err(|e| {
                    Error::new(ErrorKind::Storage, format!("metadata reader failed: {e}"))
                })??;
        Ok(Some(requires_dist(&String::from_utf8_lossy(
            &metadata.bytes,
        ))))
    }
}

/// The bytes of a (small) opened file: a stored blob or a download to wait for.
async fn read_all(body: &mut FileBody) -> Result<Vec<u8>> {
    use tokio::io::AsyncReadExt;
    match body {
        FileBody::Stored(file) => {
            let mut bytes = Vec::new();
            file.read_to_end(&mut bytes)
                .await
                .map_err(|e| Error::storage("cannot read a stored metadata file", e))?;
            Ok(bytes)
        }
        FileBody::Following(spool) => {
            let mut stream = std::pin::pin!(spool.clone().follow(0, None));
            let mut bytes = Vec::new();
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(|e| Error::new(ErrorKind::Upstream, e.to_string()))?;
                bytes.extend_from_slice(&chunk);
            }
            Ok(bytes)
        }
    }
}
