//! A scratch directory that removes itself: where an export tree is built
//! before it is renamed into place, and where an archive's distributions are
//! unpacked before they are imported. Nothing half-written is left behind.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};

#[derive(Debug)]
pub struct Scratch {
    path: Option<PathBuf>,
}

impl Scratch {
    /// Creates `<parent>/.<stem>-<pid>-<n>` (hidden, unique).
    pub fn create_in(parent: &Path, stem: &str) -> Result<Self> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let name = format!(
            ".{stem}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let path = parent.join(name);
        std::fs::create_dir(&path)
            .map_err(|e| Error::storage(format!("cannot create `{}`", path.display()), e))?;
        Ok(Self { path: Some(path) })
    }

    pub fn path(&self) -> &Path {
        self.path.as_deref().unwrap_or(Path::new(""))
    }

    /// Renames the directory to `dest` and keeps it. `dest` may be an empty
    /// directory (it is replaced).
    pub fn persist_as(mut self, dest: &Path) -> Result<()> {
        let from = self.path().to_path_buf();
        std::fs::rename(&from, dest).map_err(|e| {
            Error::storage(format!("cannot move the tree to `{}`", dest.display()), e)
        })?;
        self.path = None;
        Ok(())
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Some(path) = self.path.take() {
            let _ = std::fs::remove_dir_all(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removed_on_drop_kept_when_persisted() {
        let dir = tempfile::tempdir().unwrap();
        let scratch = Scratch::create_in(dir.path(), "t").unwrap();
        std::fs::write(scratch.path().join("f"), b"x").unwrap();
        let path = scratch.path().to_path_buf();
        drop(scratch);
        assert!(!path.exists());

        let scratch = Scratch::create_in(dir.path(), "t").unwrap();
        std::fs::write(scratch.path().join("f"), b"x").unwrap();
        let dest = dir.path().join("out");
        std::fs::create_dir(&dest).unwrap();
        scratch.persist_as(&dest).unwrap();
        assert_eq!(std::fs::read(dest.join("f")).unwrap(), b"x");
    }
}
