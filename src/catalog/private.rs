//! The private index's part of the catalog: uploaded files and API tokens.
//!
//! A separate trait (a supertrait of [`super::Catalog`]) so the private
//! index's queries live apart from the cache's, in `sqlite/private.rs`.

use async_trait::async_trait;

use super::Link;
use crate::auth::Scope;
use crate::error::Result;
use crate::model::{Sha256Hex, Yanked};

/// One uploaded file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrivateFile {
    pub filename: String,
    /// The normalized project name.
    pub project: String,
    /// The version as the upload declared it.
    pub version: String,
    pub sha256: Sha256Hex,
    pub size: u64,
    pub requires_python: Option<String>,
    /// The wheel's `METADATA` (PEP 658) as a blob: its digest and size.
    pub metadata: Option<(Sha256Hex, u64)>,
    pub yanked: Yanked,
    /// Unix seconds.
    pub uploaded_at: i64,
    /// `token:<name>` or `user:<name>`.
    pub uploaded_by: String,
}

/// An API token as the catalog keeps it: never the token itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    pub name: String,
    /// The public part of the token that finds this row.
    pub id: String,
    /// An argon2 PHC string of the whole token.
    pub hash: String,
    pub scope: Scope,
    /// Unix seconds.
    pub created_at: i64,
}

#[async_trait]
pub trait PrivateIndex: Send + Sync {
    /// Records an uploaded file whose blobs (file and metadata) are committed
    /// to the store: blob rows, their names and the file row, in one
    /// transaction. A taken filename is a `Conflict` and changes nothing.
    async fn add_private_file(&self, file: &PrivateFile) -> Result<()>;

    /// The uploaded file with this name, or `None`.
    async fn private_file(&self, filename: &str) -> Result<Option<PrivateFile>>;

    /// Every project with at least one uploaded file.
    async fn private_projects(&self) -> Result<Vec<String>>;

    /// Every uploaded file of a (normalized) project, yanked ones included.
    async fn private_files(&self, project: &str) -> Result<Vec<PrivateFile>>;

    /// [`super::Catalog::link`], and whether the link's project has uploaded
    /// files, in one query (this sits on the path of every file download,
    /// where an extra round trip would be felt).
    async fn link_and_privacy(
        &self,
        sha256: &Sha256Hex,
        filename: &str,
    ) -> Result<Option<(Link, bool)>>;

    /// Sets a file's PEP 592 yank state; `false` when the project has no
    /// such file.
    async fn set_yanked(&self, project: &str, filename: &str, yanked: &Yanked) -> Result<bool>;

    /// Removes an uploaded file and its names. Blobs nothing else names any
    /// more lose their rows too; their digests are returned so the caller
    /// can delete the bytes. `None` when the project has no such file.
    async fn delete_private_file(
        &self,
        project: &str,
        filename: &str,
    ) -> Result<Option<Vec<Sha256Hex>>>;

    /// Adds a token; a taken name is a `Conflict`.
    async fn add_token(&self, token: &TokenRecord) -> Result<()>;

    /// The token with this public id, or `None`.
    async fn token_by_id(&self, id: &str) -> Result<Option<TokenRecord>>;

    /// Every token, by name.
    async fn tokens(&self) -> Result<Vec<TokenRecord>>;

    /// Removes a token; `false` when there is none by that name.
    async fn remove_token(&self, name: &str) -> Result<bool>;
}
