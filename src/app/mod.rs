//! The use cases: what the server's handlers and the CLI commands call.
//!
//! [`App`] is a thin facade over services that each own their state and
//! take only the handles they need:
//!
//! | service | owns |
//! | --- | --- |
//! | [`fetch::Fetcher`] | the downloads in flight and the spools their followers read |
//! | [`pages::Pages`] | upstream pages: the hot cache, single flight, freshness |
//! | [`files::PackageFiles`] | `/files/`: announced links, the one download per file |
//! | [`mirror::Mirrors`] | generic mirrors and their path memory |
//! | [`private::Private`], [`private::Access`] | uploads, shadowing, yank/delete; credentials and tokens |
//! | [`maintenance::Maintenance`] | prune, verify, stats, export, import, housekeeping |
//!
//! `views` composes the private index with the pages, `warm` drives the
//! same paths a client's requests take. Nothing here sees HTTP types;
//! `http` turns the answers into responses.

pub(crate) mod clock;
mod fetch;
mod files;
mod local_names;
mod maintenance;
mod metrics;
mod mirror;
mod pages;
mod private;
mod progress;
mod recent_misses;
mod upstreams;
mod views;
mod warm;
pub(crate) mod wheel;

use std::path::Path;
use std::sync::Arc;

pub(crate) use clock::iso8601;
pub use fetch::{FileBody, OpenedFile};
pub use maintenance::{
    Destination, ExportReport, ExportedFile, Finding, ImportReport, ImportedFile, KeepList,
    Missing, Origin, Problem, PruneOptions, PruneReport, PrunedBlob, Selection, Skipped, Stats,
    Tally, Traffic, VerifyReport,
};
pub use metrics::Metrics;
pub use pages::{PageView, ProjectListView};
pub use private::{Deleted, PartHeader, TokenInfo, UploadApi, UploadParts, Uploaded};
pub use progress::{NoProgress, Progress};
pub use upstreams::Upstream;
pub use warm::{
    FileOutcome, FileStatus, NoteOutcome, RequirementOutcome, RequirementStatus, WarmOptions,
    WarmProgress, WarmReport,
};

use crate::auth::{Credentials, Identity, Scope};
use crate::catalog::{Catalog, SqliteCatalog};
use crate::config::Config;
use crate::error::{Error, ErrorKind, Result};
use crate::export::Layout;
use crate::model::Sha256Hex;
use crate::store::BlobStore;
use crate::upstream::Client;
use fetch::Fetcher;
use files::PackageFiles;
use local_names::LocalProjects;
use maintenance::{Maintenance, MaintenanceSetup, Usage};
use mirror::Mirrors;
use pages::{Pages, PagesSetup};
use private::{Access, Private};

/// Larder, assembled. Cheap to clone (one `Arc`).
#[derive(Debug, Clone)]
pub struct App {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: Config,
    metrics: Arc<Metrics>,
    catalog: Arc<dyn Catalog>,
    usage: Arc<Usage>,
    /// Projects with stored or uploaded files, for the project lists.
    local: LocalProjects,
    fetcher: Fetcher,
    pages: Pages,
    files: PackageFiles,
    mirrors: Mirrors,
    private: Arc<Private>,
    access: Access,
    maintenance: Arc<Maintenance>,
}

impl App {
    /// Opens the data directory (store and catalog) and builds the services.
    pub async fn open(config: Config) -> Result<Self> {
        tokio::fs::create_dir_all(&config.data_dir)
            .await
            .map_err(|e| {
                Error::storage(
                    format!(
                        "cannot create data directory `{}`",
                        config.data_dir.display()
                    ),
                    e,
                )
            })?;
        let store = BlobStore::open(&config.data_dir).await?;
        let catalog: Arc<dyn Catalog> =
            Arc::new(SqliteCatalog::open(&config.data_dir.join("catalog.sqlite")).await?);
        let client = Client::new(&config.client)?;
        let upstreams: Arc<[Upstream]> = config
            .upstreams
            .iter()
            .map(Upstream::new)
            .collect::<Result<Vec<_>>>()?
            .into();
        let metrics = Arc::new(Metrics::default());
        let usage = Arc::new(Usage::new(config.prune.max_size));
        let retries = config.client.retries;
        let fetcher = Fetcher::new(
            store.clone(),
            catalog.clone(),
            client.clone(),
            metrics.clone(),
            usage.clone(),
            retries,
        );
        let private = Arc::new(Private::new(
            catalog.clone(),
            store.clone(),
            config.private.merge_upstream.clone(),
            config.private.max_upload_size,
        ));
        let inner = Inner {
            pages: Pages::new(PagesSetup {
                catalog: catalog.clone(),
                store: store.clone(),
                client: client.clone(),
                upstreams: upstreams.clone(),
                metrics: metrics.clone(),
                offline: config.offline,
                retries,
                not_found_ttl: config.not_found_ttl,
                lists_dir: config.data_dir.join("lists"),
            }),
            files: PackageFiles::new(
                catalog.clone(),
                fetcher.clone(),
                private.clone(),
                upstreams,
                config.offline,
            ),
            mirrors: Mirrors::new(
                &config.mirrors,
                catalog.clone(),
                client,
                fetcher.clone(),
                config.offline,
                config.not_found_ttl,
            )?,
            access: Access::new(config.auth.clone(), catalog.clone()),
            maintenance: Arc::new(Maintenance::new(MaintenanceSetup {
                store,
                catalog: catalog.clone(),
                data_dir: config.data_dir.clone(),
                prune: config.prune.clone(),
                mirrors: config.mirrors.iter().map(|m| m.name.clone()).collect(),
                usage: usage.clone(),
                metrics: metrics.clone(),
            })),
            local: LocalProjects::new(catalog.clone(), usage.clone()),
            usage,
            private,
            fetcher,
            catalog,
            metrics,
            config,
        };
        Ok(Self {
            inner: Arc::new(inner),
        })
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    pub fn offline(&self) -> bool {
        self.inner.config.offline
    }

    /// Checks that the store and catalog answer (for `/healthz`).
    pub async fn health(&self) -> Result<()> {
        self.inner.maintenance.health().await
    }

    /// Starts the server's background loop (call once, from `serve`).
    pub fn start_housekeeping(&self) {
        self.inner.maintenance.start_housekeeping();
    }

    /// Graceful shutdown: stops the background loop, lets downloads in
    /// flight finish and commit until `deadline` (those still running are
    /// then dropped with the runtime: their staging files are removed,
    /// nothing is committed half-way), then writes the last observations.
    pub async fn shutdown(&self, deadline: tokio::time::Instant) {
        self.inner.maintenance.stop_housekeeping().await;
        let downloads = self.inner.metrics.downloads_in_flight();
        if downloads > 0 {
            tracing::info!(downloads, "waiting for downloads in flight");
        }
        if tokio::time::timeout_at(deadline, self.finish_downloads())
            .await
            .is_err()
        {
            tracing::warn!(
                downloads = self.inner.metrics.downloads_in_flight(),
                "shutdown timeout: abandoning the downloads still running"
            );
        }
        self.inner.maintenance.flush_observations().await;
    }

    /// Waits for downloads still running (graceful shutdown lets them finish
    /// and commit rather than leave work half done).
    pub async fn finish_downloads(&self) {
        self.inner.fetcher.finish().await;
    }

    /// Opens `/files/<sha256>/<filename>`: a package file whose page announced
    /// that digest, or (`<filename>` ending in `.metadata`) its core metadata.
    pub async fn open_file(&self, sha256: &Sha256Hex, filename: &str) -> Result<OpenedFile> {
        self.inner.files.open(sha256, filename).await
    }

    /// Opens `path` (as requested, still percent-encoded) of the mirror
    /// `name`; `query` is passed on only when the mirror allows it.
    pub async fn open_mirror_file(
        &self,
        name: &str,
        path: &str,
        query: Option<&str>,
    ) -> Result<OpenedFile> {
        self.inner.mirrors.open(name, path, query).await
    }

    /// The identity behind `credentials` if it may do what `needed` asks.
    /// Reads need no credentials unless the config says so; uploads always do.
    pub async fn authorize(
        &self,
        credentials: Option<&Credentials>,
        needed: Scope,
    ) -> Result<Identity> {
        self.inner.access.authorize(credentials, needed).await
    }

    /// Creates a token and returns it; only its hash is kept, so this is the
    /// one time it can be shown.
    pub async fn create_token(&self, name: &str, scope: Scope) -> Result<String> {
        self.inner.access.create_token(name, scope).await
    }

    /// Every token, by name.
    pub async fn tokens(&self) -> Result<Vec<TokenInfo>> {
        self.inner.access.tokens().await
    }

    /// Revokes a token: the next request with it fails.
    pub async fn revoke_token(&self, name: &str) -> Result<()> {
        self.inner.access.revoke_token(name).await
    }

    /// Checks the credentials (upload scope), then reads, verifies and
    /// records the upload.
    pub async fn upload(
        &self,
        credentials: Option<&Credentials>,
        api: UploadApi,
        parts: &mut dyn UploadParts,
    ) -> Result<Uploaded> {
        let identity = self.authorize(credentials, Scope::Upload).await?;
        let uploaded = self.inner.private.upload(&identity, api, parts).await?;
        self.inner.usage.note_named();
        Ok(uploaded)
    }

    /// Marks an uploaded file yanked (PEP 592).
    pub async fn yank(&self, project: &str, filename: &str, reason: Option<&str>) -> Result<()> {
        self.inner.private.yank(project, filename, reason).await
    }

    /// Undoes [`Self::yank`].
    pub async fn unyank(&self, project: &str, filename: &str) -> Result<()> {
        self.inner.private.unyank(project, filename).await
    }

    /// Removes an uploaded file from the index and frees its bytes.
    pub async fn delete_private(&self, project: &str, filename: &str) -> Result<Deleted> {
        let deleted = self.inner.private.delete(project, filename).await?;
        self.inner.usage.note_named();
        Ok(deleted)
    }

    /// Prunes the store by `options` (see [`PruneOptions`]).
    pub async fn prune(&self, options: &PruneOptions) -> Result<PruneReport> {
        let report = self.inner.maintenance.prune(options).await?;
        self.inner.usage.note_named();
        Ok(report)
    }

    /// Rehashes every blob and reconciles the catalog with the store.
    pub async fn verify(&self, repair: bool, progress: &dyn Progress) -> Result<VerifyReport> {
        self.inner.maintenance.verify(repair, progress).await
    }

    /// What the store holds, and the all-time traffic figures.
    pub async fn stats(&self) -> Result<Stats> {
        self.inner.maintenance.stats().await
    }

    /// Writes the noted accesses to the catalog now.
    pub async fn flush_accesses(&self) -> Result<usize> {
        self.inner.maintenance.flush_accesses().await
    }

    /// Adds what the counters gained since the last flush to the catalog.
    pub async fn flush_counters(&self) -> Result<()> {
        self.inner.maintenance.flush_counters().await
    }

    /// Exports the selected stored files to `destination` in `layout`.
    pub async fn export(
        &self,
        selection: &Selection,
        destination: &Destination,
        layout: Layout,
        progress: &dyn Progress,
    ) -> Result<ExportReport> {
        let maintenance = &self.inner.maintenance;
        let projects: &Inner = &self.inner;
        maintenance
            .export(projects, selection, destination, layout, progress)
            .await
    }

    /// Imports every distribution file under `source`.
    pub async fn import(&self, source: &Path, progress: &dyn Progress) -> Result<ImportReport> {
        let report = self.inner.maintenance.import(source, progress).await?;
        self.inner.usage.note_named();
        Ok(report)
    }
}

/// What larder says when it has no upstream to ask.
pub const NO_UPSTREAM: &str = "no upstream is configured: pass `--upstream URL` with your \
     index's simple URL, set LARDER_UPSTREAM, or add an [[upstream]] to the config file \
     (see config.example.toml)";

fn offline_miss(what: &str) -> Error {
    Error::new(
        ErrorKind::NotFound,
        format!("{what} is not cached and larder runs offline"),
    )
}
