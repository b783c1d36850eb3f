//! The domain's pure types: project names, distribution filenames, digests and
//! the format-agnostic project page. Nothing here does I/O.

pub mod checksums;
mod digest;
mod filename;
pub mod mirror_path;
mod page;
pub mod percent;
mod project_name;
mod source;

pub use digest::{Blake2b256Hex, Md5Hex, Sha256Hex};
pub use filename::{DistFilename, InvalidFilename};
pub use page::{
    CoreMetadata, Hashes, ProjectFile, ProjectList, ProjectPage, ProjectStatus, Yanked,
};
pub use project_name::{InvalidName, ProjectName};
pub use source::{InvalidSourceName, MirrorName, RESERVED_SOURCE_NAMES, Source, UpstreamName};
