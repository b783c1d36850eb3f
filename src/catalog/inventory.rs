//! What `export` and `import` ask of the catalog beyond the cache's own
//! queries: the stored core metadata of a file that no page announced
//! (imported files, and files whose page gave no metadata digest).
//!
//! A separate trait (a supertrait of [`super::Catalog`]) so these queries
//! live apart, in `sqlite/inventory.rs`.

use async_trait::async_trait;

use crate::error::Result;
use crate::model::Sha256Hex;

#[async_trait]
pub trait Inventory: Send + Sync {
    /// The stored `.metadata` blob of the (normalized) project's
    /// distribution `dist`, by name; `None` when none is stored.
    async fn stored_metadata(&self, project: &str, dist: &str) -> Result<Option<Sha256Hex>>;
}
