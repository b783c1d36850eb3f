//! The filesystem blob store.
//!
//! Layout (version `v1`), under the data directory:
//!
//! ```text
//! blobs/v1/sha256/ab/cd/abcd…(64 hex)   immutable, content-addressed
//! staging/.larder-staging-…             in-progress writes, removed on drop
//! ```
//!
//! Blobs are never rewritten in place, so a reader holding one open always sees
//! whole, verified bytes; a commit of content that exists already is a success.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::model::Sha256Hex;

use super::staging::{Expected, Staged, StagingFile};

#[derive(Debug, Clone)]
pub struct BlobStore {
    blobs: PathBuf,
    staging: PathBuf,
}

impl BlobStore {
    /// Opens (creating if needed) the store under `data_dir`.
    pub async fn open(data_dir: &Path) -> Result<Self> {
        let store = Self {
            blobs: data_dir.join("blobs").join("v1").join("sha256"),
            staging: data_dir.join("staging"),
        };
        for dir in [&store.blobs, &store.staging] {
            tokio::fs::create_dir_all(dir).await.map_err(|e| {
                Error::storage(format!("cannot create directory `{}`", dir.display()), e)
            })?;
        }
        Ok(store)
    }

    /// Where the blob with this digest lives (whether or not it exists).
    pub fn path(&self, key: &Sha256Hex) -> PathBuf {
        let hex = key.as_str();
        self.blobs.join(&hex[0..2]).join(&hex[2..4]).join(hex)
    }

    /// The root of the sharded blob tree (`verify` walks it).
    pub fn blobs_dir(&self) -> &Path {
        &self.blobs
    }

    pub fn staging_dir(&self) -> &Path {
        &self.staging
    }

    /// Starts a new staging file for a blob.
    pub async fn stage(&self) -> Result<StagingFile> {
        StagingFile::create_in(&self.staging, false).await
    }

    /// Stores small bytes (a wheel's METADATA) as a blob through a staging
    /// file; returns its digest and size. `what` names them in errors.
    pub async fn put_bytes(&self, bytes: &[u8], what: &str) -> Result<(Sha256Hex, u64)> {
        let mut staging = self.stage().await?;
        staging.write(bytes).await?;
        let staged = staging.finish().await?;
        let len = staged.digests.len;
        let sha256 = self.commit(staged, &Expected::default(), what).await?;
        Ok((sha256, len))
    }

    /// The size of a stored blob, or `None` when it is not stored.
    pub async fn size(&self, key: &Sha256Hex) -> Result<Option<u64>> {
        match tokio::fs::metadata(self.path(key)).await {
            Ok(meta) => Ok(Some(meta.len())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::storage(format!("cannot stat blob `{key}`"), e)),
        }
    }

    /// Opens a stored blob for reading; `None` when it is not stored.
    pub async fn open_blob(&self, key: &Sha256Hex) -> Result<Option<(tokio::fs::File, u64)>> {
        let path = self.path(key);
        // Open and stat in one trip to the blocking pool: this is every warm
        // file request's only one.
        let opened = tokio::task::spawn_blocking(move || {
            let file = std::fs::File::open(&path)?;
            let len = file.metadata()?.len();
            Ok::<_, std::io::Error>((file, len))
        })
        .await
        .map_err(|e| {
            Error::storage(
                format!("cannot open blob `{key}`"),
                std::io::Error::other(e),
            )
        })?;
        match opened {
            Ok((file, len)) => Ok(Some((tokio::fs::File::from_std(file), len))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::storage(
                format!("cannot open or stat blob `{key}`"),
                e,
            )),
        }
    }

    /// Verifies `staged` against `expected` (`what` names the source in
    /// errors) and moves it into place under its SHA-256. Committing content
    /// that is already stored succeeds and drops the staged copy.
    pub async fn commit(
        &self,
        staged: Staged,
        expected: &Expected,
        what: &str,
    ) -> Result<Sha256Hex> {
        staged.verify(expected, what)?;
        let key = staged.digests.sha256.clone().ok_or_else(|| {
            Error::new(
                crate::error::ErrorKind::Storage,
                format!("{what} was staged without a SHA-256 and cannot become a blob"),
            )
        })?;
        let dest = self.path(&key);
        if self.size(&key).await? == Some(staged.digests.len) {
            return Ok(key);
        }
        let dir = dest.parent().unwrap_or(&self.blobs);
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(|e| Error::storage(format!("cannot create `{}`", dir.display()), e))?;
        staged.persist(&dest).await?;
        Ok(key)
    }

    /// Removes a blob; removing a missing blob is not an error.
    pub async fn delete(&self, key: &Sha256Hex) -> Result<()> {
        match tokio::fs::remove_file(self.path(key)).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::storage(format!("cannot delete blob `{key}`"), e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    async fn staged(store: &BlobStore, bytes: &[u8]) -> Staged {
        let mut staging = store.stage().await.unwrap();
        staging.write(bytes).await.unwrap();
        staging.finish().await.unwrap()
    }

    fn staging_entries(store: &BlobStore) -> usize {
        std::fs::read_dir(store.staging_dir()).unwrap().count()
    }

    #[tokio::test]
    async fn commit_places_blob_under_sharded_path() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).await.unwrap();
        let key = store
            .commit(staged(&store, b"abc").await, &Expected::default(), "test")
            .await
            .unwrap();
        let hex = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(key.as_str(), hex);
        let expected = dir.path().join(format!("blobs/v1/sha256/ba/78/{hex}"));
        assert_eq!(std::fs::read(expected).unwrap(), b"abc");
        assert_eq!(store.size(&key).await.unwrap(), Some(3));
        assert_eq!(staging_entries(&store), 0);
    }

    #[tokio::test]
    async fn committing_same_content_twice_succeeds() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).await.unwrap();
        let a = store
            .commit(staged(&store, b"same").await, &Expected::default(), "a")
            .await;
        let b = store
            .commit(staged(&store, b"same").await, &Expected::default(), "b")
            .await;
        assert_eq!(a.unwrap(), b.unwrap());
        assert_eq!(staging_entries(&store), 0);
    }

    #[tokio::test]
    async fn digest_mismatch_commits_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).await.unwrap();
        let wrong = Sha256Hex::parse(&"1".repeat(64)).unwrap();
        let expected = Expected {
            sha256: Some(wrong.clone()),
            ..Expected::default()
        };
        let err = store
            .commit(staged(&store, b"bytes").await, &expected, "`http://x/f`")
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ChecksumMismatch);
        assert_eq!(store.size(&wrong).await.unwrap(), None);
        assert_eq!(staging_entries(&store), 0);
        let blobs: Vec<_> = walk(&dir.path().join("blobs"));
        assert!(blobs.is_empty(), "{blobs:?}");
    }

    #[tokio::test]
    async fn size_mismatch_commits_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).await.unwrap();
        let expected = Expected {
            len: Some(10),
            ..Expected::default()
        };
        let err = store
            .commit(staged(&store, b"short").await, &expected, "f")
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ChecksumMismatch);
        assert!(walk(&dir.path().join("blobs")).is_empty());
    }

    fn walk(dir: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                out.extend(walk(&path));
            } else {
                out.push(path);
            }
        }
        out
    }
}
