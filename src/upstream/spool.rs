//! A download in progress that any number of readers follow.
//!
//! The one task fetching a file (the leader) writes it to a staging file and
//! publishes its progress on a watch channel; every reader (a follower) opens
//! the file itself, reads what is written, and sleeps on the channel when it
//! has caught up — no polling, no second fetch. When the length is known, a
//! follower never hands out the final byte before the leader has verified the
//! digest and committed the blob, so no client ever receives a complete,
//! successful response for bytes that turn out to be wrong.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use futures::Stream;
use tokio::fs::File;
use tokio::sync::watch;

use crate::error::{Error, ErrorKind, Result};

/// What followers see when the leader went away without saying how it ended.
fn abandoned() -> Error {
    Error::new(ErrorKind::Upstream, "the download was abandoned")
}

/// How a spooled download is doing.
#[derive(Debug, Clone)]
pub enum SpoolState {
    /// Waiting for the upstream's answer.
    Connecting,
    /// Bytes are arriving; `total` is known from the page or `Content-Length`.
    Filling { written: u64, total: Option<u64> },
    /// Verified and committed to the store at `path`.
    Done { len: u64, path: PathBuf },
    /// The leader's error, causes included, for every follower.
    Failed(Error),
}

/// The follower's view of one download: where its bytes are and how far it got.
#[derive(Debug, Clone)]
pub struct Spool {
    /// The staging file while filling.
    pub staging: PathBuf,
    pub state: watch::Receiver<SpoolState>,
}

const CHUNK: usize = 256 * 1024;

impl Spool {
    /// Waits until the upstream answered: the total length if known, or the
    /// failure that ended the download.
    pub async fn started(&mut self) -> Result<Option<u64>> {
        loop {
            match &*self.state.borrow_and_update() {
                SpoolState::Connecting => {}
                SpoolState::Filling { total, .. } => return Ok(*total),
                SpoolState::Done { len, .. } => return Ok(Some(*len)),
                SpoolState::Failed(e) => return Err(e.clone()),
            }
            if self.state.changed().await.is_err() {
                return Err(abandoned());
            }
        }
    }

    /// Waits until the download is committed: its length and the blob's path.
    pub async fn finished(&mut self) -> Result<(u64, PathBuf)> {
        loop {
            match &*self.state.borrow_and_update() {
                SpoolState::Done { len, path } => return Ok((*len, path.clone())),
                SpoolState::Failed(e) => return Err(e.clone()),
                SpoolState::Connecting | SpoolState::Filling { .. } => {}
            }
            if self.state.changed().await.is_err() {
                return Err(abandoned());
            }
        }
    }

    /// The bytes `start..end` (`end` exclusive; `None` = to the end) as they
    /// become available. The stream ends with an error if the download fails.
    pub fn follow(
        self,
        start: u64,
        end: Option<u64>,
    ) -> impl Stream<Item = io::Result<Bytes>> + Send {
        let follower = Follower {
            spool: self,
            file: None,
            pos: start,
            end,
        };
        futures::stream::unfold(follower, |mut follower| async move {
            match follower.next_chunk().await {
                Ok(Some(bytes)) => Some((Ok(bytes), follower)),
                Ok(None) => None,
                Err(e) => {
                    // End after the error: one error is all a body can report.
                    follower.end = Some(follower.pos);
                    Some((Err(e), follower))
                }
            }
        })
    }
}

struct Follower {
    spool: Spool,
    file: Option<Arc<std::fs::File>>,
    pos: u64,
    end: Option<u64>,
}

impl Follower {
    async fn next_chunk(&mut self) -> io::Result<Option<Bytes>> {
        loop {
            if self.end.is_some_and(|end| self.pos >= end) {
                return Ok(None);
            }
            let state = self.spool.state.borrow_and_update().clone();
            let (readable, done) = match &state {
                SpoolState::Connecting => (0, false),
                // Hold the last byte back until the digest is verified.
                SpoolState::Filling {
                    written,
                    total: Some(total),
                } => ((*written).min(total.saturating_sub(1)), false),
                SpoolState::Filling {
                    written,
                    total: None,
                } => (*written, false),
                SpoolState::Done { len, .. } => (*len, true),
                SpoolState::Failed(e) => return Err(io::Error::other(e.clone())),
            };
            let limit = self.end.map_or(readable, |end| end.min(readable));
            if self.pos < limit {
                if self.file.is_none() {
                    match self.open(&state).await? {
                        Some(file) => self.file = Some(file),
                        // Renamed away just now: the next state says where to.
                        None => {
                            self.wait().await?;
                            continue;
                        }
                    }
                }
                return self.read(limit).await.map(Some);
            }
            if done {
                return Ok(None);
            }
            self.wait().await?;
        }
    }

    async fn wait(&mut self) -> io::Result<()> {
        self.spool
            .state
            .changed()
            .await
            .map_err(|_| io::Error::other(abandoned()))
    }

    /// Everything written from `pos` up to `limit`, mapped: the bytes go out
    /// with `sendfile` (see `zero_copy`), however many followers there are.
    /// The staging file is only ever appended to, so the map stays whole.
    /// Where files cannot be mapped, a copied chunk instead.
    async fn read(&mut self, limit: u64) -> io::Result<Bytes> {
        let Some(file) = self.file.clone() else {
            return Err(io::Error::other("spooled file not open"));
        };
        let bytes = match crate::zero_copy::map(file.clone(), self.pos, limit) {
            Ok(bytes) => bytes,
            Err(_) => read_chunk(file, self.pos, limit).await?,
        };
        self.pos += bytes.len() as u64;
        Ok(bytes)
    }

    /// Opens the staging file while filling, the committed blob once done;
    /// `None` when the staging file was just moved (an open handle would
    /// have survived that rename, a new open does not).
    async fn open(&self, state: &SpoolState) -> io::Result<Option<Arc<std::fs::File>>> {
        let path = match state {
            SpoolState::Done { path, .. } => path,
            _ => &self.spool.staging,
        };
        let file = match File::open(path).await {
            Ok(file) => Arc::new(file.into_std().await),
            Err(e)
                if e.kind() == io::ErrorKind::NotFound
                    && !matches!(state, SpoolState::Done { .. }) =>
            {
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        Ok(Some(file))
    }
}

/// Up to [`CHUNK`] bytes from `pos` (below `limit`), read on the blocking pool.
async fn read_chunk(file: Arc<std::fs::File>, pos: u64, limit: u64) -> io::Result<Bytes> {
    use std::os::unix::fs::FileExt;

    let want = usize::try_from(limit - pos).unwrap_or(CHUNK).min(CHUNK);
    let mut buf = BytesMut::zeroed(want);
    tokio::task::spawn_blocking(move || {
        let n = file.read_at(&mut buf, pos)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the spooled file ended early",
            ));
        }
        buf.truncate(n);
        Ok(buf.freeze())
    })
    .await
    .map_err(io::Error::other)?
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;

    async fn collect(stream: impl Stream<Item = io::Result<Bytes>>) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        futures::pin_mut!(stream);
        while let Some(chunk) = stream.next().await {
            out.extend_from_slice(&chunk?);
        }
        Ok(out)
    }

    /// Appends, as a staging file is written: never truncated, never rewritten.
    fn append(path: &std::path::Path, bytes: &[u8]) {
        use std::io::Write;
        let mut file = std::fs::OpenOptions::new().append(true).open(path).unwrap();
        file.write_all(bytes).unwrap();
    }

    fn spool(dir: &std::path::Path) -> (watch::Sender<SpoolState>, Spool) {
        let (tx, rx) = watch::channel(SpoolState::Connecting);
        let spool = Spool {
            staging: dir.join("staging"),
            state: rx,
        };
        (tx, spool)
    }

    #[tokio::test]
    async fn follower_reads_as_bytes_arrive_and_ends_at_done() {
        let dir = tempfile::tempdir().unwrap();
        let (tx, spool) = spool(dir.path());
        let reader = tokio::spawn(collect(spool.clone().follow(0, None)));
        let ranged = tokio::spawn(collect(spool.follow(3, Some(7))));
        std::fs::write(dir.path().join("staging"), b"hello").unwrap();
        tx.send(SpoolState::Filling {
            written: 5,
            total: Some(10),
        })
        .unwrap();
        tokio::task::yield_now().await;
        append(&dir.path().join("staging"), b" worl");
        tx.send(SpoolState::Filling {
            written: 10,
            total: Some(10),
        })
        .unwrap();
        std::fs::rename(dir.path().join("staging"), dir.path().join("committed")).unwrap();
        tx.send(SpoolState::Done {
            len: 10,
            path: dir.path().join("committed"),
        })
        .unwrap();
        assert_eq!(reader.await.unwrap().unwrap(), b"hello worl");
        assert_eq!(ranged.await.unwrap().unwrap(), b"lo w");
    }

    #[tokio::test]
    async fn last_byte_is_held_back_and_failure_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let (tx, spool) = spool(dir.path());
        std::fs::write(dir.path().join("staging"), b"abcd").unwrap();
        tx.send(SpoolState::Filling {
            written: 4,
            total: Some(4),
        })
        .unwrap();
        let stream = spool.follow(0, None);
        futures::pin_mut!(stream);
        assert_eq!(&stream.next().await.unwrap().unwrap()[..], b"abc");
        tx.send(SpoolState::Failed(Error::new(
            ErrorKind::ChecksumMismatch,
            "checksum mismatch",
        )))
        .unwrap();
        let err = stream.next().await.unwrap().unwrap_err();
        assert!(err.to_string().contains("checksum mismatch"));
        assert!(stream.next().await.is_none());
    }
}
