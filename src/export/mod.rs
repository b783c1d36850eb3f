//! Offline bundles: the layouts `larder export` writes (and `larder import`
//! reads back), the `MANIFEST` format, and `.tar.zst` archives of a tree.
//!
//! The index layout (`files/`, `simple/`, `MANIFEST`) installs with pip and
//! uv and no network; the buildout layout (`dist/`, `MANIFEST`) is a
//! zc.buildout download cache. What goes in, and reading the store, is
//! `app::export`'s business.

pub mod archive;
pub mod manifest;
mod scratch;

pub use scratch::Scratch;

/// Which tree `larder export` writes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    /// `files/<filename>` (and `.metadata`), static `simple/` pages, `MANIFEST`.
    #[default]
    Index,
    /// zc.buildout's download cache: `dist/<filename>`, `MANIFEST`.
    Buildout,
}

impl Layout {
    /// The directory distributions go in, relative to the tree.
    pub fn files_dir(self) -> &'static str {
        match self {
            Self::Index => "files",
            Self::Buildout => "dist",
        }
    }

    /// Whether the layout has static `simple/` pages and `.metadata` files.
    pub fn has_pages(self) -> bool {
        self == Self::Index
    }
}
