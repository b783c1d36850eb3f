//! One upstream project page as larder keeps it: the model, where it came
//! from, its validators, and its renderings, made once per page version.

use std::sync::OnceLock;
use std::time::Duration;

use bytes::Bytes;

use crate::app::clock::unix_now;
use crate::catalog::{Link, StoredPage};
use crate::index::{self, Format};
use crate::model::{CoreMetadata, ProjectFile, ProjectName, ProjectPage, Sha256Hex, percent};

/// A page's renderings link files relative to the page: `/simple/<p>/` is
/// two levels below the root.
pub(crate) const INDEX_PREFIX: &str = "../../";

#[derive(Debug)]
pub(crate) struct PageEntry {
    /// File URLs point at the upstream; only files with a SHA-256 are kept.
    pub(super) page: ProjectPage,
    /// The name of the upstream that served it.
    pub(super) upstream: String,
    pub(super) etag: Option<String>,
    pub(super) last_modified: Option<String>,
    /// Unix seconds of the last fetch or revalidation.
    pub(super) fetched_at: i64,
    html: OnceLock<Bytes>,
    json: OnceLock<Bytes>,
}

impl PageEntry {
    pub(super) fn new(
        page: ProjectPage,
        upstream: String,
        etag: Option<String>,
        last_modified: Option<String>,
        fetched_at: i64,
    ) -> Self {
        Self {
            page,
            upstream,
            etag,
            last_modified,
            fetched_at,
            html: OnceLock::new(),
            json: OnceLock::new(),
        }
    }

    /// The page as the catalog keeps it.
    pub(super) fn from_stored(page: ProjectPage, stored: StoredPage) -> Self {
        Self::new(
            page,
            stored.upstream,
            stored.etag,
            stored.last_modified,
            stored.fetched_at,
        )
    }

    /// The page, file URLs pointing at the upstream.
    pub(crate) fn page(&self) -> &ProjectPage {
        &self.page
    }

    /// The rendering for `/simple/<project>/`, made once per page version.
    pub(super) fn rendered(&self, format: Format) -> Bytes {
        let cell = match format {
            Format::Html => &self.html,
            Format::Json => &self.json,
        };
        cell.get_or_init(|| render(&self.page, format, INDEX_PREFIX))
            .clone()
    }

    pub(super) fn age(&self) -> Duration {
        Duration::from_secs(u64::try_from(unix_now() - self.fetched_at).unwrap_or(0))
    }

    pub(super) fn to_stored(&self, project: &ProjectName) -> StoredPage {
        StoredPage {
            project: project.as_str().to_owned(),
            upstream: self.upstream.clone(),
            body: index::json::render_project(&self.page, &|file| file.url.clone()),
            etag: self.etag.clone(),
            last_modified: self.last_modified.clone(),
            fetched_at: self.fetched_at,
        }
    }

    /// The same page, confirmed fresh just now (a 304); renderings kept.
    pub(super) fn revalidated(&self) -> Self {
        Self {
            page: self.page.clone(),
            upstream: self.upstream.clone(),
            etag: self.etag.clone(),
            last_modified: self.last_modified.clone(),
            fetched_at: unix_now(),
            html: self.html.clone(),
            json: self.json.clone(),
        }
    }

    /// The files this page lets `/files/` fetch.
    pub(super) fn links(&self, project: &ProjectName) -> Vec<Link> {
        self.page
            .files
            .iter()
            .filter_map(|file| link_for(project, &self.upstream, file))
            .collect()
    }

    /// Roughly what the entry holds in memory, for the hot cache's budget:
    /// the model and both renderings, which are made after the entry is
    /// kept, so they are counted ahead (measured on real pages, a file costs
    /// about 700 bytes of structure beside its strings, and each rendering
    /// repeats the name and link).
    pub(super) fn weight(&self) -> usize {
        self.page
            .files
            .iter()
            .map(|f| f.filename.len() * 4 + f.url.len() * 2 + 700)
            .sum::<usize>()
            + 1024
    }
}

/// Where a page links a file: larder's `/files/<sha256>/<filename>`,
/// relative to the page by `prefix`.
pub(crate) fn file_link(prefix: &str, file: &ProjectFile) -> String {
    let sha256 = file.sha256().unwrap_or_default();
    format!(
        "{prefix}files/{sha256}/{}",
        percent::encode_segment(&file.filename)
    )
}

/// A page in `format`, its files linked to larder's file route.
pub(crate) fn render(page: &ProjectPage, format: Format, prefix: &str) -> Bytes {
    let link = |file: &ProjectFile| file_link(prefix, file);
    match format {
        Format::Html => Bytes::from(index::html::render_project(page, &link)),
        Format::Json => Bytes::from(index::json::render_project(page, &link)),
    }
}

fn link_for(project: &ProjectName, upstream: &str, file: &ProjectFile) -> Option<Link> {
    let sha256 = Sha256Hex::parse(file.sha256()?).ok()?;
    let (has_metadata, metadata_sha256) = match &file.core_metadata {
        CoreMetadata::Absent | CoreMetadata::No => (false, None),
        CoreMetadata::Present(hashes) => (
            true,
            hashes.get("sha256").and_then(|h| Sha256Hex::parse(h).ok()),
        ),
    };
    Some(Link {
        sha256,
        project: project.as_str().to_owned(),
        filename: file.filename.clone(),
        url: file.url.clone(),
        upstream: upstream.to_owned(),
        size: file.size,
        has_metadata,
        metadata_sha256,
    })
}
