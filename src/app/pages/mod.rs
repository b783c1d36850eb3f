//! Upstream pages: served from memory while fresh, revalidated with the
//! upstream's validators when not, kept in the catalog across restarts, and
//! served stale (up to `max-stale`) when every upstream fails.
//!
//! Upstreams are asked in priority order; the first that knows a project
//! serves its whole page (pages are not merged across upstreams, so a later
//! upstream can never slip a file into a project an earlier one owns).
//! Uploaded projects are not this service's business: `app::views` puts
//! them in front.

mod entry;
mod flight;
mod hot;
mod list;
mod local;
mod upstream_page;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tracing::{info, warn};
use url::Url;

pub(crate) use entry::{INDEX_PREFIX, PageEntry, render};
use flight::Flights;
use hot::HotPages;
use list::Listing;
pub(crate) use list::LocalNames;
use upstream_page::{Answer, Validators};

use super::metrics::Metrics;
use super::recent_misses::RecentMisses;
use super::{NO_UPSTREAM, Upstream, clock::unix_now, offline_miss};
use crate::catalog::Catalog;
use crate::error::{Error, ErrorKind, Result};
use crate::index::{self, Format};
use crate::model::{ProjectList, ProjectName};
use crate::store::BlobStore;
use crate::upstream::Client;

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

/// What asking the upstreams for a page came to.
enum Fetched {
    Page(Box<PageEntry>),
    NotModified,
    NotFound,
}

#[derive(Debug)]
pub(crate) struct Pages {
    catalog: Arc<dyn Catalog>,
    store: BlobStore,
    client: Client,
    upstreams: Arc<[Upstream]>,
    metrics: Arc<Metrics>,
    offline: bool,
    /// Retries for a page larder holds no copy of.
    retries: u32,
    hot: HotPages,
    flights: Flights,
    /// Projects no upstream knows, remembered for `not-found-ttl`.
    not_found: RecentMisses<String>,
    /// The project list.
    listing: Listing,
}

/// What [`Pages`] is built from.
pub(crate) struct PagesSetup {
    pub catalog: Arc<dyn Catalog>,
    pub store: BlobStore,
    pub client: Client,
    pub upstreams: Arc<[Upstream]>,
    pub metrics: Arc<Metrics>,
    pub offline: bool,
    pub retries: u32,
    pub not_found_ttl: Duration,
    /// Where the project list's files live.
    pub lists_dir: std::path::PathBuf,
}

impl Pages {
    pub(crate) fn new(setup: PagesSetup) -> Self {
        Self {
            listing: Listing::new(
                setup.lists_dir,
                setup.client.clone(),
                setup.upstreams.clone(),
                setup.retries,
            ),
            catalog: setup.catalog,
            store: setup.store,
            client: setup.client,
            upstreams: setup.upstreams,
            metrics: setup.metrics,
            offline: setup.offline,
            retries: setup.retries,
            hot: HotPages::new(hot::DEFAULT_BUDGET),
            flights: Flights::default(),
            not_found: RecentMisses::new(setup.not_found_ttl),
        }
    }

    /// The upstream page of `project` in `format`, for `/simple/<project>/`.
    /// Offline, a project no cached page describes (imported files) is
    /// listed from the store.
    pub(crate) async fn view(&self, project: &ProjectName, format: Format) -> Result<PageView> {
        let entry = match self.entry(project).await {
            Ok(entry) => entry,
            Err(e) if self.offline && e.kind() == ErrorKind::NotFound => {
                let page = self.local_page(project).await.map_err(|_| e)?;
                return Ok(PageView {
                    body: render(&page, format, INDEX_PREFIX),
                    stale_age: None,
                });
            }
            Err(e) => return Err(e),
        };
        Ok(PageView {
            body: entry.rendered(format),
            stale_age: self.stale_age(&entry),
        })
    }

    /// The project list for `/simple/`: every project any upstream lists,
    /// and the `local` ones (stored, uploaded); only those when offline.
    pub(crate) async fn list(&self, local: &LocalNames, format: Format) -> Result<ProjectListView> {
        if self.offline || self.upstreams.is_empty() {
            let projects = local.names.as_ref().clone();
            return Ok(render_list(&ProjectList { projects }, format));
        }
        Ok(ProjectListView {
            body: self.listing.view(format, local).await?,
        })
    }

    /// The project's page, fresh by its upstream's TTL (see the module docs).
    pub(crate) async fn entry(&self, project: &ProjectName) -> Result<Arc<PageEntry>> {
        let cached = self.cached(project).await?;
        if let Some(entry) = &cached
            && (self.is_fresh(entry) || self.offline)
        {
            self.metrics.page_hit();
            return Ok(entry.clone());
        }
        if self.offline {
            return Err(offline_miss(&format!("the page of `{project}`")));
        }
        if cached.is_none() && self.not_found.contains(&project.as_str().to_owned()) {
            return Err(not_found(project));
        }

        let _flight = self.flights.join(project.as_str()).await;
        let cached = self.cached(project).await?;
        if let Some(entry) = &cached
            && self.is_fresh(entry)
        {
            return Ok(entry.clone());
        }
        if cached.is_none() && self.not_found.contains(&project.as_str().to_owned()) {
            return Err(not_found(project));
        }
        self.metrics.page_miss();
        let result = self.refresh(project, cached.as_deref()).await;
        self.settle(project, cached, result).await
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

    fn within_max_stale(&self, entry: &PageEntry) -> bool {
        self.upstream(&entry.upstream)
            .is_some_and(|u| entry.age() <= u.page_ttl + u.max_stale)
    }

    fn upstream(&self, name: &str) -> Option<&Upstream> {
        self.upstreams.iter().find(|u| u.name.as_str() == name)
    }

    /// The page from memory, else from the catalog (loaded into memory).
    async fn cached(&self, project: &ProjectName) -> Result<Option<Arc<PageEntry>>> {
        if let Some(entry) = self.hot.get(project.as_str()) {
            return Ok(Some(entry));
        }
        let Some(stored) = self.catalog.page(project.as_str()).await? else {
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
        let entry = Arc::new(PageEntry::from_stored(page, stored));
        self.hot.insert(project.as_str(), entry.clone());
        Ok(Some(entry))
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
                self.catalog.announce(&entry.links(project)).await?;
                self.keep(project, &entry).await?;
                Ok(entry)
            }
            Ok(Fetched::NotModified) => {
                let entry = Arc::new(cached.expect("a 304 needs a cached page").revalidated());
                self.keep(project, &entry).await?;
                Ok(entry)
            }
            Ok(Fetched::NotFound) => {
                self.not_found.insert(project.as_str().to_owned());
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

    async fn keep(&self, project: &ProjectName, entry: &Arc<PageEntry>) -> Result<()> {
        self.catalog.store_page(&entry.to_stored(project)).await?;
        self.hot.insert(project.as_str(), entry.clone());
        Ok(())
    }

    /// Asks the upstreams in order. Errors fall through to the next upstream;
    /// the last error is returned only when no upstream answered at all.
    async fn refresh(&self, project: &ProjectName, cached: Option<&PageEntry>) -> Result<Fetched> {
        let mut last_error = None;
        for upstream in self.upstreams.iter() {
            let held = cached.filter(|c| c.upstream == upstream.name.as_str());
            // With a page to fall back on, a failing upstream is not worth a wait.
            let retries = if cached.is_some() { 0 } else { self.retries };
            match self.fetch_page(upstream, project, held, retries).await {
                Ok(Fetched::NotFound) => {}
                Ok(fetched) => return Ok(fetched),
                Err(e) => {
                    self.metrics.upstream_error();
                    warn!(upstream = %upstream.name, %project, "page fetch failed: {e}");
                    last_error = Some(e);
                }
            }
        }
        match last_error {
            Some(e) => Err(e),
            None if self.upstreams.is_empty() => Err(Error::new(ErrorKind::Config, NO_UPSTREAM)),
            None => Ok(Fetched::NotFound),
        }
    }

    async fn fetch_page(
        &self,
        upstream: &Upstream,
        project: &ProjectName,
        held: Option<&PageEntry>,
        retries: u32,
    ) -> Result<Fetched> {
        let Some(url) = upstream.project_url(project.as_str()) else {
            return Ok(Fetched::NotFound);
        };
        let validators = held.map(|entry| Validators {
            etag: entry.etag.as_deref(),
            last_modified: entry.last_modified.as_deref(),
        });
        let headers = upstream.page_headers();
        let body =
            match upstream_page::get(&self.client, &url, headers, validators, retries).await? {
                Answer::NotModified => return Ok(Fetched::NotModified),
                Answer::Missing => return Ok(Fetched::NotFound),
                Answer::Body(body) => body,
            };
        let mut page = body.project_page(project)?;
        let before = page.files.len();
        page.files.retain(|file| file.sha256().is_some());
        if page.files.len() < before {
            info!(%project, skipped = before - page.files.len(), "files without a SHA-256 are not offered");
        }
        Ok(Fetched::Page(Box::new(PageEntry::new(
            page,
            upstream.name.to_string(),
            body.etag,
            body.last_modified,
            unix_now(),
        ))))
    }
}

fn not_found(project: &ProjectName) -> Error {
    Error::not_found(format!("no upstream knows the project `{project}`"))
}

/// The project list in `format`.
pub(crate) fn render_list(list: &ProjectList, format: Format) -> ProjectListView {
    let body = match format {
        Format::Html => Bytes::from(index::html::render_list(list, &|name| format!("{name}/"))),
        Format::Json => Bytes::from(index::json::render_list(list)),
    };
    ProjectListView { body }
}
