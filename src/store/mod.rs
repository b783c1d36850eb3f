//! Bytes: content-addressed blobs under the data directory.
//!
//! Every byte larder keeps enters through a [`StagingFile`] in
//! `<data-dir>/staging/` and becomes a blob only after its size and digest were
//! verified. The blob store knows nothing but SHA-256 keys; what a blob is
//! called (URL, filename, project) is the catalog's business.

mod blobs;
mod staging;

pub use blobs::BlobStore;
pub use staging::{
    Digests, Expected, Hasher, STAGING_PREFIX, Staged, StagingFile, hash_file, parent_dir,
    sync_parent,
};
