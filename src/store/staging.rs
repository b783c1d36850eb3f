//! Staging files: where bytes land before anything may see them.
//!
//! A [`StagingFile`] hashes (SHA-256, and MD5 or BLAKE2b-256 when asked) and counts while it is
//! written, so verifying a file never needs a second read. It lives in a
//! directory on the same filesystem as its destination so that publishing it is
//! one `rename`. Until it is persisted the file is removed on drop: an error, a
//! cancelled task or a mismatch leaves nothing behind.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use blake2::Blake2b;
use blake2::digest::consts::U32;
use md5::Md5;
use sha2::{Digest, Sha256};
use tokio::fs::File;
use tokio::io::AsyncWriteExt;

use crate::error::{Error, ErrorKind, Result};
use crate::model::{Blake2b256Hex, Md5Hex, Sha256Hex};

/// BLAKE2b with a 256-bit output, as uploads declare it (`blake2_256_digest`).
type Blake2b256 = Blake2b<U32>;

/// Prefix of every staging file name, so `verify` can recognise leftovers.
pub const STAGING_PREFIX: &str = ".larder-staging-";

/// Writes are gathered into batches of this size: one write (one trip to
/// the blocking pool) per batch instead of one per network chunk.
const WRITE_BATCH: usize = 256 * 1024;

/// A file being written; removed on drop unless [`Staged::persist`] moved it.
#[derive(Debug)]
pub struct StagingFile {
    guard: RemoveOnDrop,
    file: File,
    hasher: Hasher,
    /// Bytes hashed but not yet written.
    pending: Vec<u8>,
    /// Bytes written to the file, visible to other readers.
    visible: u64,
}

/// A fully written, fsynced staging file with its digests.
#[derive(Debug)]
pub struct Staged {
    guard: RemoveOnDrop,
    pub digests: Digests,
}

/// The digests and size of some bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digests {
    /// Always computed, except for downloads that asked for no checksum
    /// (see [`Hasher::without_sha256`]).
    pub sha256: Option<Sha256Hex>,
    /// Computed only when asked for (it costs a third of SHA-256's speed again).
    pub md5: Option<Md5Hex>,
    /// Computed only when asked for (uploads that declare one).
    pub blake2b_256: Option<Blake2b256Hex>,
    pub len: u64,
}

/// Hashes bytes as they pass: SHA-256 always, MD5 and BLAKE2b-256 on request.
#[derive(Debug, Clone)]
pub struct Hasher {
    sha256: Option<Sha256>,
    md5: Option<Md5>,
    blake2b_256: Option<Blake2b256>,
    len: u64,
}

impl Hasher {
    pub fn new(with_md5: bool) -> Self {
        Self {
            sha256: Some(Sha256::new()),
            md5: with_md5.then(Md5::new),
            blake2b_256: None,
            len: 0,
        }
    }

    /// Also computes BLAKE2b-256. Only meaningful before the first
    /// [`Self::update`]: a digest of part of the bytes would be wrong.
    #[must_use]
    pub fn with_blake2b_256(mut self) -> Self {
        if self.len == 0 {
            self.blake2b_256 = Some(Blake2b256::new());
        }
        self
    }

    /// Skips SHA-256: for bytes nobody will verify or key by it (a plain
    /// `larder download`), where hashing would be the bottleneck.
    #[must_use]
    pub fn without_sha256(mut self) -> Self {
        if self.len == 0 {
            self.sha256 = None;
        }
        self
    }

    pub fn update(&mut self, chunk: &[u8]) {
        if let Some(sha256) = &mut self.sha256 {
            sha256.update(chunk);
        }
        if let Some(md5) = &mut self.md5 {
            md5.update(chunk);
        }
        if let Some(blake2b) = &mut self.blake2b_256 {
            blake2b.update(chunk);
        }
        self.len += chunk.len() as u64;
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn finish(self) -> Digests {
        Digests {
            sha256: self.sha256.map(|s| Sha256Hex::from_bytes(&s.finalize())),
            md5: self.md5.map(|m| Md5Hex::from_bytes(&m.finalize())),
            blake2b_256: self
                .blake2b_256
                .map(|b| Blake2b256Hex::from_bytes(&b.finalize())),
            len: self.len,
        }
    }
}

/// Hashes a whole file by streaming it (memory does not grow with its size).
pub async fn hash_file(path: &Path, with_md5: bool) -> Result<Digests> {
    use tokio::io::AsyncReadExt;
    let read_error = |e| Error::storage(format!("cannot read `{}`", path.display()), e);
    let mut file = File::open(path).await.map_err(read_error)?;
    let mut hasher = Hasher::new(with_md5);
    let mut buf = vec![0; 256 * 1024];
    loop {
        let n = file.read(&mut buf).await.map_err(read_error)?;
        if n == 0 {
            return Ok(hasher.finish());
        }
        hasher.update(&buf[..n]);
    }
}

/// What a staged file must match before it may be kept.
#[derive(Debug, Default, Clone)]
pub struct Expected {
    pub sha256: Option<Sha256Hex>,
    pub md5: Option<Md5Hex>,
    pub len: Option<u64>,
}

impl StagingFile {
    /// Creates a new, uniquely named staging file in `dir`.
    pub async fn create_in(dir: &Path, with_md5: bool) -> Result<Self> {
        let path = dir.join(unique_name());
        let file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .await
            .map_err(|e| {
                Error::storage(
                    format!("cannot create staging file `{}`", path.display()),
                    e,
                )
            })?;
        Ok(Self {
            guard: RemoveOnDrop(Some(path)),
            file,
            hasher: Hasher::new(with_md5),
            pending: Vec::with_capacity(WRITE_BATCH),
            visible: 0,
        })
    }

    /// See [`Hasher::without_sha256`]; call before the first write.
    #[must_use]
    pub fn without_sha256(mut self) -> Self {
        self.hasher = self.hasher.without_sha256();
        self
    }

    /// Also computes BLAKE2b-256 (see [`Hasher::with_blake2b_256`]); call
    /// before the first write.
    #[must_use]
    pub fn with_blake2b_256(mut self) -> Self {
        self.hasher = self.hasher.with_blake2b_256();
        self
    }

    /// The path of the file being written (readers may follow it).
    pub fn path(&self) -> &Path {
        self.guard.path()
    }

    /// Bytes written so far (some may still be gathered in memory).
    pub fn len(&self) -> u64 {
        self.hasher.len()
    }

    /// Bytes other readers of [`Self::path`] can see.
    pub fn visible_len(&self) -> u64 {
        self.visible
    }

    pub fn is_empty(&self) -> bool {
        self.hasher.is_empty()
    }

    /// Appends `chunk`, hashing it on the way. The bytes reach the file in
    /// batches; [`Self::visible_len`] says how many other readers can see.
    pub async fn write(&mut self, chunk: &[u8]) -> Result<()> {
        self.hasher.update(chunk);
        self.pending.extend_from_slice(chunk);
        if self.pending.len() >= WRITE_BATCH {
            self.flush().await?;
        }
        Ok(())
    }

    /// Writes every gathered byte, making it visible to other readers.
    pub async fn flush(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let result = self.file.write_all(&self.pending).await;
        let result = match result {
            Ok(()) => self.file.flush().await,
            Err(e) => Err(e),
        };
        result.map_err(|e| self.io_error("cannot write", e))?;
        self.visible += self.pending.len() as u64;
        self.pending.clear();
        Ok(())
    }

    /// Writes what is left, fsyncs the file and returns its digests.
    pub async fn finish(mut self) -> Result<Staged> {
        self.flush().await?;
        self.file
            .sync_all()
            .await
            .map_err(|e| self.io_error("cannot sync", e))?;
        Ok(Staged {
            digests: self.hasher.finish(),
            guard: self.guard,
        })
    }

    fn io_error(&self, what: &str, e: io::Error) -> Error {
        Error::storage(
            format!("{what} staging file `{}`", self.path().display()),
            e,
        )
    }
}

impl Staged {
    pub fn path(&self) -> &Path {
        self.guard.path()
    }

    /// Checks the digests and size against `expected`; `what` names the
    /// resource in the error (a URL or a path).
    pub fn verify(&self, expected: &Expected, what: &str) -> Result<()> {
        self.digests.verify(expected, what)
    }

    /// Atomically moves the file to `dest` (replacing it) and fsyncs the
    /// destination directory so the rename survives a crash.
    pub async fn persist(mut self, dest: &Path) -> Result<()> {
        let from = self.guard.path().to_path_buf();
        tokio::fs::rename(&from, dest).await.map_err(|e| {
            Error::storage(
                format!("cannot move staged file to `{}`", dest.display()),
                e,
            )
        })?;
        self.guard.disarm();
        sync_parent(dest).await
    }
}

impl Digests {
    /// Checks against `expected`; `what` names the resource in the error.
    pub fn verify(&self, expected: &Expected, what: &str) -> Result<()> {
        if let Some(len) = expected.len
            && len != self.len
        {
            return Err(Error::new(
                ErrorKind::ChecksumMismatch,
                format!(
                    "size mismatch for {what}: expected {len} bytes, got {}",
                    self.len
                ),
            ));
        }
        if let Some(sha256) = &expected.sha256 {
            let actual = self
                .sha256
                .as_ref()
                .map_or("(not computed)", Sha256Hex::as_str);
            if sha256.as_str() != actual {
                return Err(mismatch(what, "SHA-256", sha256.as_str(), actual));
            }
        }
        if let Some(md5) = &expected.md5 {
            let actual = self.md5.as_ref().map_or("(not computed)", Md5Hex::as_str);
            if md5.as_str() != actual {
                return Err(mismatch(what, "MD5", md5.as_str(), actual));
            }
        }
        Ok(())
    }

    /// Checks the BLAKE2b-256 digest (kept apart from [`Expected`] because
    /// only uploads declare one); `what` names the resource in the error.
    pub fn verify_blake2b_256(&self, expected: &Blake2b256Hex, what: &str) -> Result<()> {
        let actual = self
            .blake2b_256
            .as_ref()
            .map_or("(not computed)", Blake2b256Hex::as_str);
        if expected.as_str() == actual {
            Ok(())
        } else {
            Err(mismatch(what, "BLAKE2b-256", expected.as_str(), actual))
        }
    }
}

fn mismatch(what: &str, algorithm: &str, expected: &str, actual: &str) -> Error {
    Error::new(
        ErrorKind::ChecksumMismatch,
        format!("checksum mismatch for {what}: expected {algorithm} {expected}, got {actual}"),
    )
}

/// Fsyncs the directory holding `path`, making a rename into it durable.
pub async fn sync_parent(path: &Path) -> Result<()> {
    let dir = parent_dir(path).to_path_buf();
    tokio::task::spawn_blocking(move || std::fs::File::open(&dir).and_then(|d| d.sync_all()))
        .await
        .map_err(|e| Error::storage("directory sync task failed", io::Error::other(e)))?
        .map_err(|e| Error::storage(format!("cannot sync directory of `{}`", path.display()), e))
}

/// The directory a path's file lives in (`.` for a bare file name).
pub fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

fn unique_name() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "{STAGING_PREFIX}{}-{}-{nanos:08x}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Removes the file at its path when dropped, unless disarmed.
#[derive(Debug)]
struct RemoveOnDrop(Option<PathBuf>);

impl RemoveOnDrop {
    fn path(&self) -> &Path {
        self.0.as_deref().unwrap_or(Path::new(""))
    }

    fn disarm(&mut self) {
        self.0 = None;
    }
}

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            // Best effort: the file may not exist if creation itself failed.
            let _ = std::fs::remove_file(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(dir: &Path) -> usize {
        std::fs::read_dir(dir).unwrap().count()
    }

    #[tokio::test]
    async fn dropped_before_persist_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut staging = StagingFile::create_in(dir.path(), false).await.unwrap();
        staging.write(b"partial").await.unwrap();
        assert_eq!(entries(dir.path()), 1);
        drop(staging);
        assert_eq!(entries(dir.path()), 0);

        let mut staging = StagingFile::create_in(dir.path(), false).await.unwrap();
        staging
            .write(b"finished but never persisted")
            .await
            .unwrap();
        let staged = staging.finish().await.unwrap();
        drop(staged);
        assert_eq!(entries(dir.path()), 0);
    }

    #[tokio::test]
    async fn hashes_while_writing_and_verifies() {
        let dir = tempfile::tempdir().unwrap();
        let mut staging = StagingFile::create_in(dir.path(), true).await.unwrap();
        staging.write(b"hello ").await.unwrap();
        staging.write(b"world\r\n").await.unwrap();
        let staged = staging.finish().await.unwrap();
        // sha256sum / md5sum of the raw bytes, CRLF included.
        assert_eq!(staged.digests.len, 13);
        assert_eq!(
            staged.digests.sha256.as_ref().unwrap().as_str(),
            "572a95fee9c0f320030789e4883707affe12482fbb1ea04b3ea8267c87a890fb"
        );
        assert_eq!(
            staged.digests.md5.as_ref().unwrap().as_str(),
            "a0f2a3c1dcd5b1cac71bf0c03f2ff1bd"
        );
        let good = Expected {
            sha256: staged.digests.sha256.clone(),
            md5: staged.digests.md5.clone(),
            len: Some(13),
        };
        staged.verify(&good, "`x`").unwrap();
        let bad = Expected {
            sha256: Some(Sha256Hex::parse(&"0".repeat(64)).unwrap()),
            ..Expected::default()
        };
        let err = staged.verify(&bad, "`x`").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ChecksumMismatch);
        assert!(
            err.to_string().contains("checksum mismatch for `x`"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn blake2b_256_on_request() {
        let dir = tempfile::tempdir().unwrap();
        let mut staging = StagingFile::create_in(dir.path(), false)
            .await
            .unwrap()
            .with_blake2b_256();
        staging.write(b"abc").await.unwrap();
        let staged = staging.finish().await.unwrap();
        // RFC 7693's test vector is for BLAKE2b-512; this is b2sum -l 256 of "abc".
        let known = Blake2b256Hex::parse(
            "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319",
        )
        .unwrap();
        staged.digests.verify_blake2b_256(&known, "`x`").unwrap();
        let wrong = Blake2b256Hex::parse(&"0".repeat(64)).unwrap();
        let err = staged
            .digests
            .verify_blake2b_256(&wrong, "`x`")
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ChecksumMismatch);

        let mut plain = StagingFile::create_in(dir.path(), false).await.unwrap();
        plain.write(b"abc").await.unwrap();
        let staged = plain.finish().await.unwrap();
        assert_eq!(staged.digests.blake2b_256, None);
        assert!(staged.digests.verify_blake2b_256(&known, "`x`").is_err());
    }

    #[tokio::test]
    async fn persist_moves_and_disarms() {
        let dir = tempfile::tempdir().unwrap();
        let mut staging = StagingFile::create_in(dir.path(), false).await.unwrap();
        staging.write(b"kept").await.unwrap();
        let dest = dir.path().join("final");
        staging
            .finish()
            .await
            .unwrap()
            .persist(&dest)
            .await
            .unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"kept");
        assert_eq!(entries(dir.path()), 1);
    }
}

#[cfg(test)]
mod batching_tests {
    use super::*;

    #[tokio::test]
    async fn bytes_become_visible_in_batches_and_all_at_finish() {
        let dir = tempfile::tempdir().unwrap();
        let mut staging = StagingFile::create_in(dir.path(), false).await.unwrap();
        staging.write(&[1; 1000]).await.unwrap();
        assert_eq!((staging.len(), staging.visible_len()), (1000, 0));
        assert_eq!(std::fs::metadata(staging.path()).unwrap().len(), 0);
        staging.write(&vec![2; WRITE_BATCH]).await.unwrap();
        let all = 1000 + WRITE_BATCH as u64;
        assert_eq!((staging.len(), staging.visible_len()), (all, all));
        assert_eq!(std::fs::metadata(staging.path()).unwrap().len(), all);
        staging.write(b"tail").await.unwrap();
        let staged = staging.finish().await.unwrap();
        assert_eq!(std::fs::metadata(staged.path()).unwrap().len(), all + 4);
        assert_eq!(staged.digests.len, all + 4);
    }

    #[tokio::test]
    async fn without_sha256_computes_none_and_cannot_satisfy_an_expected_one() {
        let dir = tempfile::tempdir().unwrap();
        let mut staging = StagingFile::create_in(dir.path(), false)
            .await
            .unwrap()
            .without_sha256();
        staging.write(b"x").await.unwrap();
        let staged = staging.finish().await.unwrap();
        assert_eq!(staged.digests.sha256, None);
        let expected = Expected {
            sha256: Some(Sha256Hex::parse(&"0".repeat(64)).unwrap()),
            ..Expected::default()
        };
        assert!(staged.verify(&expected, "x").is_err());
    }
}
