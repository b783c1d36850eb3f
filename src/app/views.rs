//! The index as clients see it: uploaded projects in front of the upstream
//! pages (`/simple/`), and the local view of what is stored (`/local/simple/`,
//! exports). Composes the private index and the pages service, which know
//! nothing of each other.

use async_trait::async_trait;
use tracing::warn;

use super::OpenedFile;
use super::maintenance::StoredProjects;
use super::pages::{INDEX_PREFIX, PageView, ProjectListView, render, render_list};
use super::private::merge;
use super::{App, Inner};
use crate::error::{Error, ErrorKind, Result};
use crate::index::Format;
use crate::model::{ProjectFile, ProjectList, ProjectName, ProjectPage, Sha256Hex};

/// Which view a page is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum View {
    /// `/simple/<project>/`: may ask the upstreams.
    Index,
    /// `/local/simple/<project>/`: never contacts an upstream.
    Local,
}

impl App {
    /// The project's page in `format`, for `/simple/<project>/`.
    pub async fn project_page(&self, project: &ProjectName, format: Format) -> Result<PageView> {
        // A project with uploaded files shadows (or merges) its upstream namesake.
        if let Some(page) = self.inner.private_page(project, View::Index).await? {
            return Ok(PageView {
                body: render(&page, format, INDEX_PREFIX),
                stale_age: None,
            });
        }
        self.inner.pages.view(project, format).await
    }

    /// The project's page model as `/simple/<project>/` serves it (private
    /// files, else the upstream's with URLs pointing at it): what `warm`
    /// chooses files from, through the same freshness rules as the server.
    pub(crate) async fn project_model(&self, project: &ProjectName) -> Result<ProjectPage> {
        if let Some(page) = self.inner.private_page(project, View::Index).await? {
            return Ok(page);
        }
        Ok(self.inner.pages.entry(project).await?.page().clone())
    }

    /// The local-only page: files already in the store, for
    /// `/local/simple/<project>/` (and `/local/<project>/`), its files
    /// linked relative to `files_prefix`. Never contacts an upstream.
    pub async fn local_project_page(
        &self,
        project: &ProjectName,
        format: Format,
        files_prefix: &str,
    ) -> Result<PageView> {
        let page = match self.inner.private_page(project, View::Local).await? {
            Some(page) => page,
            None => self.inner.pages.local_page(project).await?,
        };
        Ok(PageView {
            body: render(&page, format, files_prefix),
            stale_age: None,
        })
    }

    /// A project's file by its name (pypicache's `/packages/source/…` URLs):
    /// from the store when it is there, else found on the project's page as
    /// `/simple/` serves it (uploads first, shadowing honoured) and fetched
    /// like any `/files/` request. A name the page does not list is 404.
    pub async fn open_by_name(&self, project: &ProjectName, filename: &str) -> Result<OpenedFile> {
        let stored = self
            .inner
            .catalog
            .stored_in_project(project.as_str())
            .await?;
        if let Some((sha256, _)) = stored.iter().find(|(_, name)| name == filename) {
            match self.open_file(sha256, filename).await {
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                opened => return opened,
            }
        }
        let page = self.project_model(project).await?;
        let listed = page
            .files
            .iter()
            .find(|f| f.filename == filename)
            .and_then(|f| Sha256Hex::parse(f.sha256()?).ok())
            .ok_or_else(|| {
                Error::not_found(format!(
                    "the page of `{project}` lists no file `{}`",
                    filename.escape_debug()
                ))
            })?;
        self.open_file(&listed, filename).await
    }

    /// The project list for `/simple/`: every project any upstream lists,
    /// plus what is stored; only what is stored when offline or when no
    /// upstream answers.
    pub async fn project_list(&self, format: Format) -> Result<ProjectListView> {
        let local = self.inner.local.current().await?;
        self.inner.pages.list(&local, format).await
    }

    /// The project list for `/local/simple/`.
    pub async fn local_project_list(&self, format: Format) -> Result<ProjectListView> {
        let local = self.inner.local.current().await?;
        let projects = local.names.as_ref().clone();
        Ok(render_list(&ProjectList { projects }, format))
    }
}

impl Inner {
    /// The page of a project that has uploaded files (with its upstream's
    /// files when merged), or `None` when it has none.
    async fn private_page(&self, project: &ProjectName, view: View) -> Result<Option<ProjectPage>> {
        let Some(uploaded) = self.private.page(project).await? else {
            return Ok(None);
        };
        if !self.private.merges_upstream(project) {
            return Ok(Some(uploaded));
        }
        let upstream = self.upstream_files(project, view).await;
        Ok(Some(merge(uploaded, upstream)))
    }

    /// The upstream's files of a merged project; none when the upstream does
    /// not know it or fails (the private files are served regardless).
    async fn upstream_files(&self, project: &ProjectName, view: View) -> Vec<ProjectFile> {
        let result = match view {
            View::Index => self
                .pages
                .entry(project)
                .await
                .map(|e| e.page().files.clone()),
            View::Local => self.pages.local_page(project).await.map(|page| page.files),
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
}

#[async_trait]
impl StoredProjects for Inner {
    async fn stored_page(&self, project: &ProjectName) -> Result<Option<ProjectPage>> {
        let page = match self.private_page(project, View::Local).await? {
            Some(page) => page,
            None => match self.pages.local_page(project).await {
                Ok(page) => page,
                Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(e),
            },
        };
        Ok((!page.files.is_empty()).then_some(page))
    }
}
