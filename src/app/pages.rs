//! Project pages: served from memory while fresh, revalidated with the
//! upstream's validators when not, kept in the catalog across restarts, and
//! served stale (up to `max-stale`) when every upstream fails.
//!
//! Upstreams are asked in priority order; the first that knows a project
//! serves its whole page (pages are not merged across upstreams, so a later
//! upstream can never slip a file into a project an earlier one owns).

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use reqwest::StatusCode;
use reqwest::header::{
    CONTENT_TYPE, ETAG, HeaderValue, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED,
};
use tracing::{debug, info, warn};
use url::Url;

use super::private::View;
use super::{App, Upstream, offline_miss, unix_now};
use crate::catalog::{Link, StoredPage};
use crate::error::{Error, ErrorKind, Result};
use crate::index::{self, Format};
use crate::model::{ProjectFile, ProjectList, ProjectName, ProjectPage, Sha256Hex};
use crate::upstream::{is_missing, redact};

/// How many pages (and remembered unknown names) are kept in memory.
const MAX_HOT_PAGES: usize = 4096;

/// One project's page as larder serves it, with its renderings cached.
#[derive(Debug)]
pub(super) struct PageEntry {
    /// File URLs point at the upstream; only files with a SHA-256 are kept.
    page: ProjectPage,
    upstream: String,
    etag: Option<String>,
    last_modified: Option<String>,
    /// Unix seconds of the last fetch or revalidation.
    fetched_at: i64,
    html: OnceLock<Bytes>,
    json: OnceLock<Bytes>,
}

/// A page ready to send: its body in the negotiated format, and its age when
/// it is older than its TTL (served stale or offline).
#[derive(Debug, Clone)]
pub struct PageView {
    pub body: Bytes,
    pub stale_age: Option<Duration>,
}

#[derive(Debug, Clone)]
pub struct ProjectListView {
    pub body: Bytes,
}

/// Hot pages, unknown projects, and one lock per project so concurrent
/// misses cause one upstream request.
#[derive(Debug, Default)]
pub(super) struct PageCache {
    entries: Mutex<HashMap<String, Arc<PageEntry>>>,
    not_found: Mutex<HashMap<String, Instant>>,
    flights: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// Links on a page at `/simple/<project>/` to larder's file route.
pub(crate) fn file_link(prefix: &str, file: &ProjectFile) -> String {
    let sha256 = file.sha256().unwrap_or_default();
    format!(
        "{prefix}files/{sha256}/{}",
        percent_encode_segment(&file.filename)
    )
}

fn percent_encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~+!".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

impl PageEntry {
    /// The page, file URLs pointing at the upstream.
    pub(super) fn page(&self) -> &ProjectPage {
        &self.page
    }

    fn render(&self, format: Format, prefix: &str) -> Bytes {
        let link = |file: &ProjectFile| file_link(prefix, file);
        match format {
            Format::Html => Bytes::from(index::html::render_project(&self.page, &link)),
            Format::Json => Bytes::from(index::json::render_project(&self.page, &link)),
        }
    }

    /// The rendering for `/simple/<project>/`, made once per page version.
    fn rendered(&self, format: Format) -> Bytes {
        let cell = match format {
            Format::Html => &self.html,
            Format::Json => &self.json,
        };
        cell.get_or_init(|| self.render(format, "../../")).clone()
    }

    fn age(&self) -> Duration {
        Duration::from_secs(u64::try_from(unix_now() - self.fetched_at).unwrap_or(0))
    }

    fn to_stored(&self, project: &str) -> StoredPage {
        StoredPage {
            project: project.to_owned(),
            upstream: self.upstream.clone(),
            body: index::json::render_project(&self.page, &|file| file.url.clone()),
            etag: self.etag.clone(),
            last_modified: self.last_modified.clone(),
            fetched_at: self.fetched_at,
        }
    }

    fn revalidated(&self) -> Self {
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
}

/// What asking the upstreams for a page came to.
enum Fetched {
    Page(Box<PageEntry>),
    NotModified,
    NotFound,
}

impl App {
    /// The project's page in `format`, for `/simple/<project>/`.
    pub async fn project_page(&self, project: &ProjectName, format: Format) -> Result<PageView> {
        // A project with uploaded files shadows (or merges) its upstream namesake.
        if let Some(view) = self.private_page(project, format, View::Index).await? {
            return Ok(view);
        }
        let entry = match self.page_entry(project).await {
            Ok(entry) => entry,
            // Offline, a project no cached page describes (imported files)
            // is listed from the store.
            Err(e) if self.offline() && e.kind() == ErrorKind::NotFound => {
                let page = self.local_page(project).await.map_err(|_| e)?;
                return Ok(PageView {
                    body: render_stored(page, format, "../../"),
                    stale_age: None,
                });
            }
            Err(e) => return Err(e),
        };
        let stale_age = self.stale_age(&entry);
        Ok(PageView {
            body: entry.rendered(format),
            stale_age,
        })
    }

    /// The project's page model as `/simple/<project>/` serves it (private
    /// files, else the upstream's with URLs pointing at it): what `warm`
    /// chooses files from, through the same freshness rules as the server.
    pub(crate) async fn project_model(&self, project: &ProjectName) -> Result<ProjectPage> {
        if let Some(page) = self.private_project_page(project, View::Index).await? {
            return Ok(page);
        }
        Ok(self.page_entry(project).await?.page().clone())
    }

    /// The local-only page: files already in the store, for
    /// `/local/simple/<project>/`. Never contacts an upstream.
    pub async fn local_project_page(
        &self,
        project: &ProjectName,
        format: Format,
    ) -> Result<PageView> {
        if let Some(view) = self.private_page(project, format, View::Local).await? {
            return Ok(view);
        }
        let page = self.local_page(project).await?;
        Ok(PageView {
            body: render_stored(page, format, "../../../"),
            stale_age: None,
        })
    }

    /// The stored files of a project, described by its cached page where it
    /// has one (URLs pointing at the upstream).
    pub(super) async fn local_page(&self, project: &ProjectName) -> Result<ProjectPage> {
        let catalog = &self.inner.catalog;
        let stored = catalog.stored_in_project(project.as_str()).await?;
        if stored.is_empty() {
            return Err(Error::not_found(format!(
                "no files of `{project}` are stored"
            )));
        }
        let known = match self.cached_entry(project).await? {
            Some(entry) => entry.page.clone(),
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
            if let crate::model::CoreMetadata::Present(hashes) = &file.core_metadata {
                let stored = match hashes.get("sha256").map(|h| Sha256Hex::parse(h)) {
                    Some(Ok(sha)) => self.inner.store.size(&sha).await?.is_some(),
                    _ => false,
                };
                if !stored {
                    file.core_metadata = crate::model::CoreMetadata::Absent;
                }
            }
        }
        // Stored files no cached page describes (the page was replaced, or
        // they were imported) still count.
        for (sha256, filename) in &stored {
            if !files.iter().any(|f| f.sha256() == Some(sha256.as_str())) {
                files.push(bare_file(sha256, filename));
            }
        }
        // A `.metadata` stored by name (imported, or announced without a
        // digest) is offered with its digest.
        for file in &mut files {
            if file.core_metadata == crate::model::CoreMetadata::Absent
                && let Some(sha) = catalog
                    .stored_metadata(project.as_str(), &file.filename)
                    .await?
            {
                file.core_metadata = crate::model::CoreMetadata::Present(
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
        })
    }

    /// The project list for `/local/simple/`.
    pub async fn local_project_list(&self, format: Format) -> Result<ProjectListView> {
        let projects = self.inner.catalog.stored_projects().await?;
        Ok(ProjectListView {
            body: render_list(&ProjectList { projects }, format),
        })
    }

    /// The project list for `/simple/`: every project any upstream lists,
    /// plus what is stored; only what is stored when offline or when no
    /// upstream answers.
    pub async fn project_list(&self, format: Format) -> Result<ProjectListView> {
        let mut names: BTreeSet<String> = self
            .inner
            .catalog
            .stored_projects()
            .await?
            .into_iter()
            .collect();
        if !self.offline() {
            for upstream in &self.inner.upstreams {
                match self.fetch_list(upstream).await {
                    Ok(list) => names.extend(
                        list.projects
                            .iter()
                            .filter_map(|name| ProjectName::new(name).ok())
                            .map(|name| name.as_str().to_owned()),
                    ),
                    Err(e) => warn!(upstream = %upstream.name, "cannot list projects: {e}"),
                }
            }
        }
        let list = ProjectList {
            projects: names.into_iter().collect(),
        };
        Ok(ProjectListView {
            body: render_list(&list, format),
        })
    }

    async fn fetch_list(&self, upstream: &Upstream) -> Result<ProjectList> {
        let response = self
            .inner
            .client
            .get(&upstream.url, &upstream.page_headers())
            .await?;
        if !response.status().is_success() {
            return Err(Error::new(
                ErrorKind::Upstream,
                format!("`{}` answered {}", redact(&upstream.url), response.status()),
            ));
        }
        let is_json = content_type_is_json(response.headers().get(CONTENT_TYPE));
        let body = response
            .bytes()
            .await
            .map_err(|e| crate::upstream::transport_error(&upstream.url, &e))?;
        Ok(if is_json {
            index::json::parse_list(&body)?
        } else {
            index::html::parse_list(&String::from_utf8_lossy(&body))?
        })
    }

    /// How old a page is, when it is older than its upstream's TTL.
    fn stale_age(&self, entry: &PageEntry) -> Option<Duration> {
        let ttl = self
            .upstream(&entry.upstream)
            .map_or(Duration::ZERO, |u| u.page_ttl);
        let age = entry.age();
        (age >= ttl).then_some(age)
    }

    fn is_fresh(&self, entry: &PageEntry) -> bool {
        self.upstream(&entry.upstream)
            .is_some_and(|u| entry.age() < u.page_ttl)
    }

    /// The page from memory, else from the catalog (loaded into memory).
    async fn cached_entry(&self, project: &ProjectName) -> Result<Option<Arc<PageEntry>>> {
        if let Some(entry) = self
            .inner
            .pages
            .entries
            .lock()
            .expect("poisoned")
            .get(project.as_str())
        {
            return Ok(Some(entry.clone()));
        }
        let Some(stored) = self.inner.catalog.page(project.as_str()).await? else {
            return Ok(None);
        };
        let base = Url::parse("http://invalid/").expect("static URL");
        let page = match index::json::parse_project(stored.body.as_bytes(), &base) {
            Ok(page) => page,
            Err(e) => {
                warn!(%project, "ignoring an unreadable cached page: {e}");
                return Ok(None);
            }
        };
        let entry = Arc::new(PageEntry {
            page,
            upstream: stored.upstream,
            etag: stored.etag,
            last_modified: stored.last_modified,
            fetched_at: stored.fetched_at,
            html: OnceLock::new(),
            json: OnceLock::new(),
        });
        self.remember(project, entry.clone());
        Ok(Some(entry))
    }

    fn remember(&self, project: &ProjectName, entry: Arc<PageEntry>) {
        let mut entries = self.inner.pages.entries.lock().expect("poisoned");
        // Bounded memory: past the cap an arbitrary page leaves memory (it
        // stays in the catalog and comes back on its next request).
        if entries.len() >= MAX_HOT_PAGES
            && !entries.contains_key(project.as_str())
            && let Some(victim) = entries.keys().next().cloned()
        {
            entries.remove(&victim);
        }
        entries.insert(project.as_str().to_owned(), entry);
    }

    fn known_missing(&self, project: &ProjectName) -> bool {
        let ttl = self.inner.config.not_found_ttl;
        let mut not_found = self.inner.pages.not_found.lock().expect("poisoned");
        match not_found.get(project.as_str()) {
            Some(at) if at.elapsed() < ttl => true,
            Some(_) => {
                not_found.remove(project.as_str());
                false
            }
            None => false,
        }
    }

    pub(super) async fn page_entry(&self, project: &ProjectName) -> Result<Arc<PageEntry>> {
        let cached = self.cached_entry(project).await?;
        if let Some(entry) = &cached
            && (self.is_fresh(entry) || self.offline())
        {
            self.inner.metrics.page_hit();
            return Ok(entry.clone());
        }
        if self.offline() {
            return Err(offline_miss(&format!("the page of `{project}`")));
        }
        if cached.is_none() && self.known_missing(project) {
            return Err(not_found(project));
        }

        // One refresh per project at a time; whoever waited re-checks first.
        let flight = {
            let mut flights = self.inner.pages.flights.lock().expect("poisoned");
            flights
                .entry(project.as_str().to_owned())
                .or_default()
                .clone()
        };
        let _guard = flight.lock().await;
        let cached = self.cached_entry(project).await?;
        if let Some(entry) = &cached
            && self.is_fresh(entry)
        {
            return Ok(entry.clone());
        }
        if cached.is_none() && self.known_missing(project) {
            return Err(not_found(project));
        }
        self.inner.metrics.page_miss();
        let result = self.refresh(project, cached.as_deref()).await;
        let outcome = self.settle(project, cached, result).await;
        // Only now, with the page remembered, may a new flight start: a
        // request arriving in between would otherwise fetch it again.
        self.inner
            .pages
            .flights
            .lock()
            .expect("poisoned")
            .remove(project.as_str());
        outcome
    }

    /// Keeps what a refresh brought (or serves the stale page it failed to replace).
    async fn settle(
        &self,
        project: &ProjectName,
        cached: Option<Arc<PageEntry>>,
        result: Result<Fetched>,
    ) -> Result<Arc<PageEntry>> {
        match result {
            Ok(Fetched::Page(entry)) => {
                let entry = Arc::new(*entry);
                self.keep_page(project, &entry).await?;
                Ok(entry)
            }
            Ok(Fetched::NotModified) => {
                let entry = Arc::new(cached.expect("a 304 needs a cached page").revalidated());
                self.inner
                    .catalog
                    .store_page(&entry.to_stored(project.as_str()))
                    .await?;
                self.remember(project, entry.clone());
                Ok(entry)
            }
            Ok(Fetched::NotFound) => {
                let mut missing = self.inner.pages.not_found.lock().expect("poisoned");
                // Bounded memory under a scan of made-up names: drop expired ones.
                if missing.len() >= MAX_HOT_PAGES {
                    let ttl = self.inner.config.not_found_ttl;
                    missing.retain(|_, at| at.elapsed() < ttl);
                }
                missing.insert(project.as_str().to_owned(), Instant::now());
                Err(not_found(project))
            }
            Err(e) => match cached {
                Some(entry) if self.within_max_stale(&entry) => {
                    warn!(%project, age = ?entry.age(), "serving a stale page: {e}");
                    Ok(entry)
                }
                _ => Err(e),
            },
        }
    }

    fn within_max_stale(&self, entry: &PageEntry) -> bool {
        self.upstream(&entry.upstream)
            .is_some_and(|u| entry.age() <= u.page_ttl + u.max_stale)
    }

    async fn keep_page(&self, project: &ProjectName, entry: &Arc<PageEntry>) -> Result<()> {
        let links: Vec<Link> = entry
            .page
            .files
            .iter()
            .filter_map(|file| link_for(project, &entry.upstream, file))
            .collect();
        self.inner.catalog.announce(&links).await?;
        self.inner
            .catalog
            .store_page(&entry.to_stored(project.as_str()))
            .await?;
        self.remember(project, entry.clone());
        Ok(())
    }

    /// Asks the upstreams in order. Errors fall through to the next upstream;
    /// the last error is returned only when no upstream answered at all.
    async fn refresh(&self, project: &ProjectName, cached: Option<&PageEntry>) -> Result<Fetched> {
        let mut last_error = None;
        for upstream in &self.inner.upstreams {
            let validators = cached.filter(|c| c.upstream == upstream.name);
            // With a page to fall back on, a failing upstream is not worth a wait.
            let retries = if cached.is_some() {
                0
            } else {
                self.inner.config.client.retries
            };
            match self
                .fetch_page(upstream, project, validators, retries)
                .await
            {
                Ok(Fetched::NotFound) => {}
                Ok(fetched) => return Ok(fetched),
                Err(e) => {
                    self.inner.metrics.upstream_error();
                    warn!(upstream = %upstream.name, %project, "page fetch failed: {e}");
                    last_error = Some(e);
                }
            }
        }
        match last_error {
            Some(e) => Err(e),
            None if self.inner.upstreams.is_empty() => {
                Err(Error::new(ErrorKind::Config, super::NO_UPSTREAM))
            }
            None => Ok(Fetched::NotFound),
        }
    }

    async fn fetch_page(
        &self,
        upstream: &Upstream,
        project: &ProjectName,
        cached: Option<&PageEntry>,
        retries: u32,
    ) -> Result<Fetched> {
        let Some(url) = upstream.project_url(project.as_str()) else {
            return Ok(Fetched::NotFound);
        };
        let mut headers = upstream.page_headers();
        if let Some(entry) = cached {
            if let Some(value) = entry
                .etag
                .as_deref()
                .and_then(|v| HeaderValue::from_str(v).ok())
            {
                headers.insert(IF_NONE_MATCH, value);
            }
            if let Some(value) = entry
                .last_modified
                .as_deref()
                .and_then(|v| HeaderValue::from_str(v).ok())
            {
                headers.insert(IF_MODIFIED_SINCE, value);
            }
        }
        let started = Instant::now();
        let response = self
            .inner
            .client
            .get_with_retries(&url, &headers, retries)
            .await?;
        let status = response.status();
        debug!(url = %redact(&url), %status, elapsed = ?started.elapsed(), "page answered");
        if status == StatusCode::NOT_MODIFIED && cached.is_some() {
            return Ok(Fetched::NotModified);
        }
        if is_missing(status) {
            return Ok(Fetched::NotFound);
        }
        if !status.is_success() {
            return Err(Error::new(
                ErrorKind::Upstream,
                format!("upstream `{}` answered {status}", redact(&url)),
            ));
        }
        let header = |name| {
            response
                .headers()
                .get(name)
                .and_then(|v: &HeaderValue| v.to_str().ok())
                .map(str::to_owned)
        };
        let etag = header(ETAG);
        let last_modified = header(LAST_MODIFIED);
        let is_json = content_type_is_json(response.headers().get(CONTENT_TYPE));
        // The final URL after redirects is the base relative links resolve against.
        let base = response.url().clone();
        let body = response
            .bytes()
            .await
            .map_err(|e| crate::upstream::transport_error(&url, &e))?;
        let mut page = if is_json {
            index::json::parse_project(&body, &base)?
        } else {
            index::html::parse_project(&String::from_utf8_lossy(&body), &base, project.as_str())?
        };
        let before = page.files.len();
        page.files.retain(|file| file.sha256().is_some());
        if page.files.len() < before {
            info!(%project, skipped = before - page.files.len(), "files without a SHA-256 are not offered");
        }
        Ok(Fetched::Page(Box::new(PageEntry {
            page,
            upstream: upstream.name.clone(),
            etag,
            last_modified,
            fetched_at: unix_now(),
            html: OnceLock::new(),
            json: OnceLock::new(),
        })))
    }
}

/// A page of stored files, links relative to `prefix`.
fn render_stored(page: ProjectPage, format: Format, prefix: &str) -> Bytes {
    let entry = PageEntry {
        page,
        upstream: String::new(),
        etag: None,
        last_modified: None,
        fetched_at: unix_now(),
        html: OnceLock::new(),
        json: OnceLock::new(),
    };
    entry.render(format, prefix)
}

fn not_found(project: &ProjectName) -> Error {
    Error::not_found(format!("no upstream knows the project `{project}`"))
}

fn content_type_is_json(value: Option<&HeaderValue>) -> bool {
    value
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"))
}

fn render_list(list: &ProjectList, format: Format) -> Bytes {
    match format {
        Format::Html => Bytes::from(index::html::render_list(list, &|name| format!("{name}/"))),
        Format::Json => Bytes::from(index::json::render_list(list)),
    }
}

fn link_for(project: &ProjectName, upstream: &str, file: &ProjectFile) -> Option<Link> {
    let sha256 = Sha256Hex::parse(file.sha256()?).ok()?;
    let (has_metadata, metadata_sha256) = match &file.core_metadata {
        crate::model::CoreMetadata::Absent => (false, None),
        crate::model::CoreMetadata::Present(hashes) => (
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

fn bare_file(sha256: &Sha256Hex, filename: &str) -> ProjectFile {
    ProjectFile {
        filename: filename.to_owned(),
        url: String::new(),
        hashes: [("sha256".to_owned(), sha256.to_string())]
            .into_iter()
            .collect(),
        requires_python: None,
        yanked: crate::model::Yanked::No,
        core_metadata: crate::model::CoreMetadata::Absent,
        gpg_sig: None,
        size: None,
        upload_time: None,
    }
}
