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

/// A file name as a relative link (`files/<this>`): percent-encoded so it
/// stays one path segment.
pub fn link_segment(filename: &str) -> String {
    let mut out = String::with_capacity(filename.len());
    for byte in filename.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~!".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_segments_stay_one_segment() {
        for (name, expected) in [
            ("demo-1.0-py3-none-any.whl", "demo-1.0-py3-none-any.whl"),
            ("a+b-1.0.tar.gz", "a%2Bb-1.0.tar.gz"),
            ("x y/z", "x%20y%2Fz"),
        ] {
            assert_eq!(link_segment(name), expected);
        }
    }
}
