//! The catalog's part of keeping the cache in shape: what `prune`, `verify`
//! and `stats` read and change, and the server's persisted counters.
//!
//! A separate trait (a supertrait of [`super::Catalog`]) so these queries
//! live apart from the request path's, in `sqlite/maintenance.rs`.

use async_trait::async_trait;

use super::BlobState;
use crate::error::Result;
use crate::model::{Sha256Hex, Source};

/// A blob row with every name it is known by: what prune, verify and stats
/// decide on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobUsage {
    pub sha256: Sha256Hex,
    pub size: u64,
    pub state: BlobState,
    /// Unix seconds.
    pub last_access_at: i64,
    /// An uploaded file (or its METADATA) uses it: never pruned, and its row
    /// cannot be forgotten while the upload exists.
    pub private: bool,
    pub names: Vec<UsageName>,
}

/// One name of a blob, as far as maintenance cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageName {
    pub source: Source,
    /// The normalized project name; empty when not a package file.
    pub project: String,
    pub filename: String,
}

#[async_trait]
pub trait Maintenance: Send + Sync {
    /// Every blob row with its names, ordered by digest.
    async fn blob_usage(&self) -> Result<Vec<BlobUsage>>;

    /// The bytes of every `stored` blob (cheap: the server checks it often).
    async fn stored_bytes(&self) -> Result<u64>;

    /// Marks a cached blob `deleting` before its file is removed. `false`
    /// (and no change) when the blob is not `stored` any more or an upload
    /// uses it.
    async fn mark_deleting(&self, sha256: &Sha256Hex) -> Result<bool>;

    /// Forgets a cached blob: its row, its names and the mirror paths that
    /// point at it, in one transaction, so the next request fetches it again.
    /// With `only_deleting`, only a row still marked `deleting` (a request
    /// that stored the blob again meanwhile wins). `false` when nothing was
    /// forgotten; a blob an upload uses is never forgotten.
    async fn forget_cached(&self, sha256: &Sha256Hex, only_deleting: bool) -> Result<bool>;

    /// Adds to the persisted counters (creating them at zero).
    async fn add_counters(&self, deltas: &[(&str, u64)]) -> Result<()>;

    /// Every persisted counter, by name.
    async fn counters(&self) -> Result<Vec<(String, u64)>>;
}
