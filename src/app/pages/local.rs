//! The local view of a project: only files already in the store, described
//! by the cached upstream page where there is one. Never contacts an
//! upstream (`/local/simple/`, offline mode, exports).

use std::collections::BTreeSet;

use super::Pages;
use crate::error::{Error, Result};
use crate::index;
use crate::model::{CoreMetadata, ProjectFile, ProjectName, ProjectPage, Sha256Hex};

impl Pages {
    /// The stored files of a project; `NotFound` when none is stored.
    pub(crate) async fn local_page(&self, project: &ProjectName) -> Result<ProjectPage> {
        let stored = self.catalog.stored_in_project(project.as_str()).await?;
        if stored.is_empty() {
            return Err(Error::not_found(format!(
                "no files of `{project}` are stored"
            )));
        }
        let known = match self.cached(project).await? {
            Some(entry) => entry.page().clone(),
            None => ProjectPage::default(),
        };
        let stored_digests: BTreeSet<&str> = stored.iter().map(|(sha, _)| sha.as_str()).collect();
        let mut files: Vec<ProjectFile> = known
            .files
            .into_iter()
            .filter(|f| f.sha256().is_some_and(|sha| stored_digests.contains(sha)))
            .collect();
        // Offer `.metadata` files only where they are stored: this view never fetches.
        for file in &mut files {
            if let CoreMetadata::Present(hashes) = &file.core_metadata {
                let stored = match hashes.get("sha256").map(|h| Sha256Hex::parse(h)) {
                    Some(Ok(sha)) => self.store.size(&sha).await?.is_some(),
                    _ => false,
                };
                if !stored {
                    file.core_metadata = CoreMetadata::Absent;
                }
            }
        }
        // Stored files no cached page describes (the page was replaced, or
        // they were imported) still count.
        for (sha256, filename) in &stored {
            if !files.iter().any(|f| f.sha256() == Some(sha256.as_str())) {
                files.push(ProjectFile::bare(filename, sha256));
            }
        }
        // A `.metadata` stored by name (imported, or announced without a
        // digest) is offered with its digest.
        for file in &mut files {
            if !file.core_metadata.is_present()
                && let Some(sha) = self
                    .catalog
                    .stored_metadata(project.as_str(), &file.filename)
                    .await?
            {
                file.core_metadata = CoreMetadata::Present(
                    [("sha256".to_owned(), sha.to_string())]
                        .into_iter()
                        .collect(),
                );
            }
        }
        Ok(ProjectPage {
            name: if known.name.is_empty() {
                project.to_string()
            } else {
                known.name
            },
            versions: index::derive_versions(&files),
            files,
            status: known.status,
        })
    }
}
