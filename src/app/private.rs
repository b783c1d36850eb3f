//! Private projects in the index, and the admin commands on their files.
//!
//! A project with uploaded files **shadows** its upstream namesake: its pages
//! list the private files only, and no upstream file of it is fetched, so a
//! public package cannot slip into a build under a private name (dependency
//! confusion). Projects named in `private.merge-upstream` list both, the
//! private file winning where both have the same filename.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tracing::{info, warn};

use super::{App, PageView};
use crate::catalog::PrivateFile;
use crate::error::{Error, ErrorKind, Result};
use crate::index::{self, Format};
use crate::model::{CoreMetadata, ProjectFile, ProjectName, ProjectPage, Sha256Hex, Yanked};

/// Which view a page is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum View {
    /// `/simple/<project>/`: may ask the upstreams (merged projects only).
    Index,
    /// `/local/simple/<project>/`: never contacts an upstream.
    Local,
}

/// Which projects have uploaded files, in memory, so that a page request
/// does not pay a catalog query to learn that a project is *not* private (the
/// common case, on the hot path). Reloaded after [`RELOAD_AFTER`] so uploads
/// and deletes made by another process show up.
#[derive(Debug, Default)]
pub(super) struct PrivateProjects(Mutex<Option<(Instant, Arc<HashSet<String>>)>>);

const RELOAD_AFTER: Duration = Duration::from_secs(5);

impl PrivateProjects {
    fn current(&self) -> Option<Arc<HashSet<String>>> {
        match &*self.0.lock().expect("poisoned") {
            Some((at, set)) if at.elapsed() < RELOAD_AFTER => Some(set.clone()),
            _ => None,
        }
    }

    fn replace(&self, set: Arc<HashSet<String>>) {
        *self.0.lock().expect("poisoned") = Some((Instant::now(), set));
    }

    /// Adds a project at once (an upload through this process).
    pub(super) fn insert(&self, project: &str) {
        if let Some((_, set)) = &mut *self.0.lock().expect("poisoned") {
            Arc::make_mut(set).insert(project.to_owned());
        }
    }

    /// Forgets the set, so the next request reloads it (after a delete).
    pub(super) fn invalidate(&self) {
        *self.0.lock().expect("poisoned") = None;
    }
}

/// What `larder delete` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deleted {
    /// How many blobs were freed (the file, its METADATA) because nothing
    /// else uses them.
    pub freed_blobs: usize,
}

impl App {
    /// The page of a project that has uploaded files, or `None` when it has
    /// none (the caller then serves the upstream page as usual).
    pub(super) async fn private_page(
        &self,
        project: &ProjectName,
        format: Format,
        view: View,
    ) -> Result<Option<PageView>> {
        let Some(page) = self.private_project_page(project, view).await? else {
            return Ok(None);
        };
        let prefix = match view {
            View::Index => "../../",
            View::Local => "../../../",
        };
        let link = |file: &ProjectFile| super::pages::file_link(prefix, file);
        let body = match format {
            Format::Html => index::html::render_project(&page, &link),
            Format::Json => index::json::render_project(&page, &link),
        };
        Ok(Some(PageView {
            body: Bytes::from(body),
            stale_age: None,
        }))
    }

    /// The page model of a project that has uploaded files (with its
    /// upstream's files when merged), or `None` when it has none.
    pub(super) async fn private_project_page(
        &self,
        project: &ProjectName,
        view: View,
    ) -> Result<Option<ProjectPage>> {
        if !self.may_be_private(project).await? {
            return Ok(None);
        }
        let uploaded = self.inner.catalog.private_files(project.as_str()).await?;
        if uploaded.is_empty() {
            return Ok(None);
        }
        let mut files: Vec<ProjectFile> = uploaded.iter().map(page_file).collect();
        if self.merges_upstream(project) {
            let taken: HashSet<String> = files.iter().map(|f| f.filename.clone()).collect();
            let upstream = self.upstream_files(project, view).await;
            files.extend(
                upstream
                    .into_iter()
                    .filter(|f| !taken.contains(&f.filename)),
            );
        }
        Ok(Some(ProjectPage {
            name: project.to_string(),
            versions: index::derive_versions(&files),
            files,
        }))
    }

    fn merges_upstream(&self, project: &ProjectName) -> bool {
        self.inner
            .config
            .private
            .merge_upstream
            .contains(project.as_str())
    }

    /// The upstream's files of a merged project; none when the upstream does
    /// not know it or fails (the private files are served regardless).
    async fn upstream_files(&self, project: &ProjectName, view: View) -> Vec<ProjectFile> {
        let result = match view {
            View::Index => self
                .page_entry(project)
                .await
                .map(|e| e.page().files.clone()),
            View::Local => self.local_page(project).await.map(|page| page.files),
        };
        match result {
            Ok(files) => files,
            Err(e) => {
                if e.kind() != ErrorKind::NotFound {
                    warn!(%project, "serving the private files only: {e}");
                }
                Vec::new()
            }
        }
    }

    /// Whether upstream files of `project` (normalized), which has uploaded
    /// files or not, must not be fetched: it has and is not merged.
    pub(super) fn shadows(&self, project: &str, has_uploads: bool) -> bool {
        has_uploads && !self.inner.config.private.merge_upstream.contains(project)
    }

    /// The METADATA blob of the uploaded wheel `dist` with digest `sha256`,
    /// for `/files/<sha256>/<dist>.metadata`; `None` when `dist` is not an
    /// uploaded file with that digest.
    pub(super) async fn private_metadata(
        &self,
        sha256: &Sha256Hex,
        dist: &str,
    ) -> Result<Option<Sha256Hex>> {
        let Some(file) = self.inner.catalog.private_file(dist).await? else {
            return Ok(None);
        };
        if file.sha256 != *sha256 {
            return Ok(None);
        }
        match file.metadata {
            Some((metadata, _)) => Ok(Some(metadata)),
            None => Err(Error::not_found(format!(
                "`{dist}` has no core metadata file"
            ))),
        }
    }

    /// Marks an uploaded file yanked (PEP 592): installers skip it unless
    /// it is pinned exactly. `reason` is shown to users.
    pub async fn yank(&self, project: &str, filename: &str, reason: Option<&str>) -> Result<()> {
        let reason = reason.map(str::trim).filter(|r| !r.is_empty());
        self.set_yanked(project, filename, Yanked::Yes(reason.map(str::to_owned)))
            .await
    }

    /// Undoes [`Self::yank`].
    pub async fn unyank(&self, project: &str, filename: &str) -> Result<()> {
        self.set_yanked(project, filename, Yanked::No).await
    }

    async fn set_yanked(&self, project: &str, filename: &str, yanked: Yanked) -> Result<()> {
        let project = ProjectName::new(project)?;
        if self
            .inner
            .catalog
            .set_yanked(project.as_str(), filename, &yanked)
            .await?
        {
            info!(%project, filename, ?yanked, "yank state changed");
            Ok(())
        } else {
            Err(no_such_file(&project, filename))
        }
    }

    /// Whether the project has uploaded files, as of at most a few seconds ago
    /// (uploads through this process count at once).
    async fn may_be_private(&self, project: &ProjectName) -> Result<bool> {
        let projects = &self.inner.private_projects;
        let set = match projects.current() {
            Some(set) => set,
            None => {
                let names = self.inner.catalog.private_projects().await?;
                let set: Arc<HashSet<String>> = Arc::new(names.into_iter().collect());
                projects.replace(set.clone());
                set
            }
        };
        Ok(set.contains(project.as_str()))
    }

    /// Removes an uploaded file from the index and deletes its bytes (and its
    /// METADATA's) unless something else still uses them.
    pub async fn delete_private(&self, project: &str, filename: &str) -> Result<Deleted> {
        let project = ProjectName::new(project)?;
        let Some(freed) = self
            .inner
            .catalog
            .delete_private_file(project.as_str(), filename)
            .await?
        else {
            return Err(no_such_file(&project, filename));
        };
        self.inner.private_projects.invalidate();
        for sha256 in &freed {
            self.inner.store.delete(sha256).await?;
        }
        info!(%project, filename, freed = freed.len(), "deleted");
        Ok(Deleted {
            freed_blobs: freed.len(),
        })
    }
}

fn no_such_file(project: &ProjectName, filename: &str) -> Error {
    Error::not_found(format!(
        "project `{project}` has no uploaded file `{}`",
        filename.escape_debug()
    ))
}

/// An uploaded file as a page lists it.
fn page_file(file: &PrivateFile) -> ProjectFile {
    ProjectFile {
        filename: file.filename.clone(),
        url: String::new(),
        hashes: [("sha256".to_owned(), file.sha256.to_string())]
            .into_iter()
            .collect(),
        requires_python: file.requires_python.clone(),
        yanked: file.yanked.clone(),
        core_metadata: match &file.metadata {
            Some((sha256, _)) => CoreMetadata::Present(
                [("sha256".to_owned(), sha256.to_string())]
                    .into_iter()
                    .collect(),
            ),
            None => CoreMetadata::Absent,
        },
        gpg_sig: None,
        size: Some(file.size),
        upload_time: Some(iso8601(file.uploaded_at)),
    }
}

/// Unix seconds as `YYYY-MM-DDTHH:MM:SSZ` (PEP 700 `upload-time`, and how
/// the CLI shows times).
pub(crate) fn iso8601(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let seconds = unix.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        seconds / 3600,
        seconds % 3600 / 60,
        seconds % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso8601_table() {
        for (unix, expected) in [
            (0, "1970-01-01T00:00:00Z"),
            (1_735_689_600, "2025-01-01T00:00:00Z"),
            (951_782_400, "2000-02-29T00:00:00Z"),
            (1_709_251_199, "2024-02-29T23:59:59Z"),
            (4_102_444_800, "2100-01-01T00:00:00Z"),
            (-1, "1969-12-31T23:59:59Z"),
        ] {
            assert_eq!(iso8601(unix), expected, "{unix}");
        }
    }

    #[test]
    fn page_file_carries_hashes_metadata_and_yank() {
        let sha = Sha256Hex::parse(&"a".repeat(64)).unwrap();
        let meta = Sha256Hex::parse(&"b".repeat(64)).unwrap();
        let file = PrivateFile {
            filename: "demo-1.0-py3-none-any.whl".to_owned(),
            project: "demo".to_owned(),
            version: "1.0".to_owned(),
            sha256: sha.clone(),
            size: 42,
            requires_python: Some(">=3.8".to_owned()),
            metadata: Some((meta.clone(), 7)),
            yanked: Yanked::Yes(Some("broken".to_owned())),
            uploaded_at: 0,
            uploaded_by: "user:alice".to_owned(),
        };
        let entry = page_file(&file);
        assert_eq!(entry.sha256(), Some(sha.as_str()));
        assert_eq!(entry.size, Some(42));
        assert_eq!(entry.requires_python.as_deref(), Some(">=3.8"));
        assert_eq!(entry.yanked, Yanked::Yes(Some("broken".to_owned())));
        let CoreMetadata::Present(hashes) = entry.core_metadata else {
            panic!("no core metadata");
        };
        assert_eq!(
            hashes.get("sha256").map(String::as_str),
            Some(meta.as_str())
        );
    }
}
