//! The private index: uploaded files, who may upload them (`access`), and
//! the admin commands on them.
//!
//! A project with uploaded files **shadows** its upstream namesake: its pages
//! list the private files only, and no upstream file of it is fetched, so a
//! public package cannot slip into a build under a private name (dependency
//! confusion). Projects named in `private.merge-upstream` list both, the
//! private file winning where both have the same filename ([`merge`]).

mod access;
mod known;
mod upload;
mod upload_form;

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

use tracing::info;

pub(crate) use access::Access;
pub use access::TokenInfo;
use known::PrivateProjects;
pub(crate) use upload::ShadowGuard;
pub use upload::{PartHeader, UploadParts, Uploaded};
pub use upload_form::UploadApi;

use super::clock::iso8601;
use crate::catalog::{Catalog, PrivateFile};
use crate::error::{Error, Result};
use crate::index;
use crate::model::{CoreMetadata, ProjectFile, ProjectName, ProjectPage, Sha256Hex, Yanked};
use crate::store::BlobStore;

/// What `larder delete` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deleted {
    /// How many blobs were freed (the file, its METADATA) because nothing
    /// else uses them.
    pub freed_blobs: usize,
}

#[derive(Debug)]
pub(crate) struct Private {
    catalog: Arc<dyn Catalog>,
    store: BlobStore,
    /// Projects whose upstream files are listed beside the uploaded ones.
    merge_upstream: BTreeSet<String>,
    /// `private.max-upload-size`.
    max_upload_size: u64,
    projects: PrivateProjects,
}

impl Private {
    pub(crate) fn new(
        catalog: Arc<dyn Catalog>,
        store: BlobStore,
        merge_upstream: BTreeSet<String>,
        max_upload_size: u64,
    ) -> Self {
        Self {
            catalog,
            store,
            merge_upstream,
            max_upload_size,
            projects: PrivateProjects::default(),
        }
    }

    /// The uploaded files of `project` as a page, or `None` when it has none
    /// (the caller then serves the upstream page as usual).
    pub(crate) async fn page(&self, project: &ProjectName) -> Result<Option<ProjectPage>> {
        if !self.may_be_private(project).await? {
            return Ok(None);
        }
        let uploaded = self.catalog.private_files(project.as_str()).await?;
        if uploaded.is_empty() {
            return Ok(None);
        }
        let files: Vec<ProjectFile> = uploaded.iter().map(page_file).collect();
        Ok(Some(ProjectPage {
            name: project.to_string(),
            versions: index::derive_versions(&files),
            files,
            // Uploads have no PEP 792 status (a merged project keeps this too).
            status: None,
        }))
    }

    /// Whether `project` has uploaded files.
    pub(crate) async fn has(&self, project: &ProjectName) -> Result<bool> {
        Ok(self.page(project).await?.is_some())
    }

    /// Whether the upstream's files of this private project are listed too.
    pub(crate) fn merges_upstream(&self, project: &ProjectName) -> bool {
        self.merge_upstream.contains(project.as_str())
    }

    /// Whether upstream files of `project` (normalized), which has uploaded
    /// files or not, must not be fetched: it has and is not merged.
    pub(crate) fn shadows(&self, project: &str, has_uploads: bool) -> bool {
        has_uploads && !self.merge_upstream.contains(project)
    }

    /// The METADATA blob of the uploaded wheel `dist` with digest `sha256`,
    /// for `/files/<sha256>/<dist>.metadata`; `None` when `dist` is not an
    /// uploaded file with that digest.
    pub(crate) async fn metadata(
        &self,
        sha256: &Sha256Hex,
        dist: &str,
    ) -> Result<Option<Sha256Hex>> {
        let Some(file) = self.catalog.private_file(dist).await? else {
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
    pub(crate) async fn yank(
        &self,
        project: &str,
        filename: &str,
        reason: Option<&str>,
    ) -> Result<()> {
        let reason = reason.map(str::trim).filter(|r| !r.is_empty());
        self.set_yanked(project, filename, Yanked::Yes(reason.map(str::to_owned)))
            .await
    }

    /// Undoes [`Self::yank`].
    pub(crate) async fn unyank(&self, project: &str, filename: &str) -> Result<()> {
        self.set_yanked(project, filename, Yanked::No).await
    }

    async fn set_yanked(&self, project: &str, filename: &str, yanked: Yanked) -> Result<()> {
        let project = ProjectName::new(project)?;
        if self
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
        let set = match self.projects.current() {
            Some(set) => set,
            None => {
                let names = self.catalog.private_projects().await?;
                let set: Arc<HashSet<String>> = Arc::new(names.into_iter().collect());
                self.projects.replace(set.clone());
                set
            }
        };
        Ok(set.contains(project.as_str()))
    }

    /// Removes an uploaded file from the index and deletes its bytes (and its
    /// METADATA's) unless something else still uses them.
    pub(crate) async fn delete(&self, project: &str, filename: &str) -> Result<Deleted> {
        let project = ProjectName::new(project)?;
        let Some(freed) = self
            .catalog
            .delete_private_file(project.as_str(), filename)
            .await?
        else {
            return Err(no_such_file(&project, filename));
        };
        self.projects.invalidate();
        for sha256 in &freed {
            self.store.delete(sha256).await?;
        }
        info!(%project, filename, freed = freed.len(), "deleted");
        Ok(Deleted {
            freed_blobs: freed.len(),
        })
    }
}

/// An uploaded project's page with its upstream's files added (a merged
/// project); an uploaded filename wins over the upstream's.
pub(crate) fn merge(mut uploaded: ProjectPage, upstream: Vec<ProjectFile>) -> ProjectPage {
    let taken: HashSet<String> = uploaded.files.iter().map(|f| f.filename.clone()).collect();
    uploaded.files.extend(
        upstream
            .into_iter()
            .filter(|f| !taken.contains(&f.filename)),
    );
    uploaded.versions = index::derive_versions(&uploaded.files);
    uploaded
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
        size: Some(file.size),
        upload_time: Some(iso8601(file.uploaded_at)),
        ..ProjectFile::bare(&file.filename, &file.sha256)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn private_file(filename: &str, sha: char) -> PrivateFile {
        PrivateFile {
            filename: filename.to_owned(),
            project: "demo".to_owned(),
            version: "1.0".to_owned(),
            sha256: Sha256Hex::parse(&sha.to_string().repeat(64)).unwrap(),
            size: 42,
            requires_python: Some(">=3.8".to_owned()),
            metadata: None,
            yanked: Yanked::No,
            uploaded_at: 0,
            uploaded_by: "user:alice".to_owned(),
        }
    }

    #[test]
    fn page_file_carries_hashes_metadata_and_yank() {
        let meta = Sha256Hex::parse(&"b".repeat(64)).unwrap();
        let file = PrivateFile {
            metadata: Some((meta.clone(), 7)),
            yanked: Yanked::Yes(Some("broken".to_owned())),
            ..private_file("demo-1.0-py3-none-any.whl", 'a')
        };
        let entry = page_file(&file);
        assert_eq!(entry.sha256(), Some(file.sha256.as_str()));
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

    #[test]
    fn merge_lets_the_uploaded_filename_win() {
        let uploaded = ProjectPage {
            name: "demo".to_owned(),
            files: vec![page_file(&private_file("demo-1.0.tar.gz", 'a'))],
            versions: vec!["1.0".to_owned()],
            status: None,
        };
        let sha = |c: char| Sha256Hex::parse(&c.to_string().repeat(64)).unwrap();
        let upstream = vec![
            ProjectFile::bare("demo-1.0.tar.gz", &sha('c')),
            ProjectFile::bare("demo-2.0.tar.gz", &sha('d')),
        ];
        let merged = merge(uploaded, upstream);
        let names: Vec<(&str, Option<&str>)> = merged
            .files
            .iter()
            .map(|f| (f.filename.as_str(), f.sha256()))
            .collect();
        assert_eq!(
            names,
            [
                ("demo-1.0.tar.gz", Some(sha('a').as_str())),
                ("demo-2.0.tar.gz", Some(sha('d').as_str()))
            ]
        );
        assert_eq!(merged.versions, ["1.0", "2.0"]);
    }
}
