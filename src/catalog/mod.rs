//! What larder knows: blobs, and what each blob is known as.
//!
//! The [`Catalog`] trait is the seam between larder and its metadata database.
//! SQLite (WAL, busy timeout, so the server and CLI commands can share one
//! file) is the embedded backend; a PostgreSQL backend implements the same
//! trait over the same SQL. Queries are plain `sqlx::query` text checked by the
//! tests, not compile-time macros, which keeps the build small.

mod inventory;
mod maintenance;
mod private;
mod sqlite;

use async_trait::async_trait;

use crate::error::Result;
use crate::model::{Sha256Hex, Source};

pub use inventory::Inventory;
pub use maintenance::{BlobUsage, Maintenance, UsageName};
pub use private::{PrivateFile, PrivateIndex, TokenRecord};
pub use sqlite::SqliteCatalog;

/// Lifecycle of a blob row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobState {
    /// Committed to the store and verified.
    Stored,
    /// Being removed by prune; not to be served.
    Deleting,
}

impl BlobState {
    fn parse(raw: &str) -> Self {
        if raw == "deleting" {
            Self::Deleting
        } else {
            Self::Stored
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobRecord {
    pub sha256: Sha256Hex,
    pub size: u64,
    pub state: BlobState,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub last_access_at: i64,
}

/// One name a blob is known by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobName {
    pub sha256: Sha256Hex,
    /// Where it came from.
    pub source: Source,
    pub filename: String,
    /// The URL it was fetched from; empty when it had none (uploads).
    pub url: String,
    /// The normalized project name; empty when not a package file.
    pub project: String,
}

/// An upstream project page as larder keeps it between restarts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPage {
    /// The normalized project name.
    pub project: String,
    /// The name of the upstream that served it.
    pub upstream: String,
    /// The page as PEP 691 JSON, file URLs pointing at the upstream.
    pub body: String,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    /// Unix seconds of the last successful fetch or revalidation.
    pub fetched_at: i64,
}

/// A file an upstream page announced: what `/files/<sha256>/…` may fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub sha256: Sha256Hex,
    /// The normalized project name.
    pub project: String,
    pub filename: String,
    pub url: String,
    pub upstream: String,
    pub size: Option<u64>,
    /// PEP 658: the upstream has `<url>.metadata`.
    pub has_metadata: bool,
    pub metadata_sha256: Option<Sha256Hex>,
}

/// A file of a generic mirror, by path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MirrorEntry {
    pub mirror: String,
    /// Normalized and relative (no leading `/`).
    pub path: String,
    pub sha256: Sha256Hex,
    pub size: u64,
    /// The URL it was fetched from.
    pub source: String,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    /// Unix seconds of the last fetch or revalidation.
    pub fetched_at: i64,
}

#[async_trait]
pub trait Catalog: PrivateIndex + Maintenance + Inventory + Send + Sync + std::fmt::Debug {
    /// Records a committed blob. Recording a known blob again keeps the
    /// original row (its creation time and size) and succeeds.
    async fn record_blob(&self, sha256: &Sha256Hex, size: u64, now: i64) -> Result<()>;

    /// Adds a name for a recorded blob; adding a known name is a no-op.
    async fn add_name(&self, name: &BlobName) -> Result<()>;

    /// The blob's row, or `None` when the catalog does not know it.
    async fn blob(&self, sha256: &Sha256Hex) -> Result<Option<BlobRecord>>;

    /// Every name recorded for the blob.
    async fn names(&self, sha256: &Sha256Hex) -> Result<Vec<BlobName>>;

    /// Sets last-access times in one transaction (the server batches them).
    async fn touch(&self, accesses: &[(Sha256Hex, i64)]) -> Result<()>;

    /// Saves (replacing) a project's cached page.
    async fn store_page(&self, page: &StoredPage) -> Result<()>;

    /// A project's cached page, or `None`.
    async fn page(&self, project: &str) -> Result<Option<StoredPage>>;

    /// Records the files a page announced, replacing earlier records of the
    /// same digest and filename; other names of the same digest are kept.
    async fn announce(&self, links: &[Link]) -> Result<()>;

    /// The file announced with this digest under this name, or `None` when
    /// no page announced that pair.
    async fn link(&self, sha256: &Sha256Hex, filename: &str) -> Result<Option<Link>>;

    /// Digest and filename of every stored package file of a project
    /// (core-metadata files excluded).
    async fn stored_in_project(&self, project: &str) -> Result<Vec<(Sha256Hex, String)>>;

    /// The stored blob last fetched from `url`, if any.
    async fn blob_by_url(&self, url: &str) -> Result<Option<Sha256Hex>>;

    /// Every project with at least one stored file.
    async fn stored_projects(&self) -> Result<Vec<String>>;

    /// A mirror's record of `path`, or `None`.
    async fn mirror_entry(&self, mirror: &str, path: &str) -> Result<Option<MirrorEntry>>;

    /// Saves (replacing) a mirror's record of a path.
    async fn store_mirror_entry(&self, entry: &MirrorEntry) -> Result<()>;

    /// Removes the blob's row and its names.
    async fn forget_blob(&self, sha256: &Sha256Hex) -> Result<()>;
}
