//! The connection type: a TCP stream whose writes of mapped file bytes go
//! out with `sendfile(2)`.

// mincore needs `unsafe`; its one use says why it is sound.
#![allow(unsafe_code)]

use std::fs::File;
use std::future::Future;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

use super::mapping::{self, Source};

/// The most one `sendfile` call is asked to send: bounds the page-cache
/// check before it (one byte per page, on the stack).
const SEND_WINDOW: usize = 4 * 1024 * 1024;
/// Pages in [`SEND_WINDOW`] at the smallest page size, plus one for an
/// unaligned start.
const WINDOW_PAGES: usize = SEND_WINDOW / 4096 + 1;

/// A client connection. Reads, flushes and writes of ordinary buffers pass
/// straight through to the TCP stream.
pub struct Socket {
    tcp: TcpStream,
    /// A `sendfile` of bytes not in the page cache, running on the blocking
    /// pool so that the disk read stalls no runtime thread; with the address
    /// of the first byte it sends.
    cold: Option<(usize, JoinHandle<io::Result<usize>>)>,
    /// Mapped addresses `start..end` last found in the page cache: a large
    /// file leaves in many `sendfile` calls, and asking again for each would
    /// cost more than the rare page evicted in between (which merely makes
    /// that call wait for the disk, as a static web server's would).
    cached: (u64, std::ops::Range<usize>),
}

impl Socket {
    pub fn new(tcp: TcpStream) -> Self {
        Self {
            tcp,
            cold: None,
            cached: (u64::MAX, 0..0),
        }
    }

    /// Sends (some of) the `len` mapped bytes at `ptr`, which come from
    /// `source`.
    fn poll_send_file(
        &mut self,
        cx: &mut Context<'_>,
        ptr: *const u8,
        len: usize,
        source: Source,
    ) -> Poll<io::Result<usize>> {
        let addr = ptr as usize;
        let checked = self.cached.0 == source.map && self.cached.1.contains(&addr);
        let len = if checked {
            len.min(self.cached.1.end - addr)
        } else {
            len.min(SEND_WINDOW)
        };
        loop {
            if let Some((from, task)) = &mut self.cold {
                let sent = ready!(Pin::new(task).poll(cx));
                let from = *from;
                self.cold = None;
                if from != addr {
                    // hyper repeats a write that returned Pending with the
                    // same buffer; anything else would corrupt the stream.
                    return Poll::Ready(Err(io::Error::other(
                        "a write was retried with other bytes than it started with",
                    )));
                }
                match sent.map_err(io::Error::other).and_then(|sent| sent) {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        // The socket was full: forget its stale readiness
                        // and wait for room below.
                        let _ = self.tcp.try_io(Interest::WRITABLE, || {
                            Err::<(), _>(io::Error::from(io::ErrorKind::WouldBlock))
                        });
                    }
                    sent => return Poll::Ready(sent.and_then(some_sent)),
                }
            }
            ready!(self.tcp.poll_write_ready(cx))?;
            if checked {
                // Found in the page cache by an earlier call.
            } else if in_page_cache(ptr, len) {
                self.cached = (source.map, addr..addr + len);
            } else {
                let socket = rustix::io::dup(&self.tcp)?;
                let (file, offset) = (source.file.clone(), source.offset);
                let task =
                    tokio::task::spawn_blocking(move || send_file(&socket, &file, offset, len));
                self.cold = Some((addr, task));
                continue;
            }
            match self.tcp.try_io(Interest::WRITABLE, || {
                send_file(&self.tcp, &source.file, source.offset, len)
            }) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                sent => return Poll::Ready(sent.and_then(some_sent)),
            }
        }
    }

    /// Writes ordinary buffers; `more` says file bytes follow them at once,
    /// so that small headers wait to leave in one packet with those (as
    /// nginx's `tcp_nopush` does).
    fn poll_send_plain(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
        more: bool,
    ) -> Poll<io::Result<usize>> {
        let [single] = bufs else {
            return Pin::new(&mut self.tcp).poll_write_vectored(cx, bufs);
        };
        if !more {
            return Pin::new(&mut self.tcp).poll_write(cx, single);
        }
        loop {
            ready!(self.tcp.poll_write_ready(cx))?;
            match self.tcp.try_io(Interest::WRITABLE, || {
                rustix::net::send(&self.tcp, single, rustix::net::SendFlags::MORE)
                    .map_err(io::Error::from)
            }) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                sent => return Poll::Ready(sent),
            }
        }
    }
}

fn send_file(
    socket: impl rustix::fd::AsFd,
    file: &File,
    mut offset: u64,
    len: usize,
) -> io::Result<usize> {
    rustix::fs::sendfile(socket, file, Some(&mut offset), len).map_err(io::Error::from)
}

/// `sendfile` sends nothing only at the file's end: the file is shorter
/// than the response announced, which must end the connection, not hang it.
fn some_sent(sent: usize) -> io::Result<usize> {
    if sent == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "a stored file ended before the bytes being sent",
        ));
    }
    Ok(sent)
}

/// Whether every page of the `len` mapped bytes at `ptr` is in the page
/// cache, so that sending them cannot wait for the disk. Asks the kernel
/// (`mincore`) without touching the map. When in doubt: no.
fn in_page_cache(ptr: *const u8, len: usize) -> bool {
    let page = rustix::param::page_size();
    let start = ptr as usize & !(page - 1);
    let end = ptr as usize + len;
    let pages = (end - start).div_ceil(page);
    let mut resident = [0u8; WINDOW_PAGES];
    if pages > resident.len() {
        return false;
    }
    // SAFETY: `start..end` lies in one live map (the caller found `ptr` in
    // the registry, and hyper holds the map's `Bytes` while it writes them);
    // `resident` has a byte for each of its pages.
    let rc = unsafe {
        libc::mincore(
            start as *mut libc::c_void,
            end - start,
            resident.as_mut_ptr(),
        )
    };
    rc == 0 && resident[..pages].iter().all(|page| page & 1 == 1)
}

impl AsyncRead for Socket {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_read(cx, buf)
    }
}

impl AsyncWrite for Socket {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_vectored(cx, &[IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let Some(first) = bufs.iter().position(|buf| !buf.is_empty()) else {
            return Poll::Ready(Ok(0));
        };
        let bufs = &bufs[first..];
        if let Some(source) = mapping::source_of(bufs[0].as_ptr()) {
            return self.poll_send_file(cx, bufs[0].as_ptr(), bufs[0].len(), source);
        }
        let plain = bufs
            .iter()
            .take_while(|buf| buf.is_empty() || mapping::source_of(buf.as_ptr()).is_none())
            .count();
        self.poll_send_plain(cx, &bufs[..plain], plain < bufs.len())
    }

    fn is_write_vectored(&self) -> bool {
        // hyper then queues body buffers as they are instead of copying them
        // into its own: the mapped ones must reach `poll_write_vectored`.
        true
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::Arc;

    use bytes::Bytes;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;
    use crate::zero_copy::map;

    fn content(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 % 251) as u8).collect()
    }

    /// An unnamed file next to the sources, where the page cache applies
    /// (a temporary directory may be tmpfs, which keeps every page).
    fn stored(bytes: &[u8]) -> Arc<File> {
        let mut file = tempfile::tempfile_in(env!("CARGO_MANIFEST_DIR")).unwrap();
        file.write_all(bytes).unwrap();
        file.sync_all().unwrap();
        Arc::new(file)
    }

    /// A connected pair on 127.0.0.1: the server end as a `Socket`.
    async fn pair() -> (Socket, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap());
        let (client, accepted) = tokio::join!(client, listener.accept());
        (Socket::new(accepted.unwrap().0), client.unwrap())
    }

    /// Writes `parts` through `socket` with vectored writes, as hyper does,
    /// then closes it; returns what the other end read.
    async fn send(mut socket: Socket, mut client: TcpStream, parts: Vec<Bytes>) -> Vec<u8> {
        let reader = tokio::spawn(async move {
            let mut got = Vec::new();
            client.read_to_end(&mut got).await.map(|_| got)
        });
        let mut parts: std::collections::VecDeque<Bytes> = parts.into();
        while !parts.is_empty() {
            let slices: Vec<IoSlice<'_>> = parts.iter().map(|p| IoSlice::new(p)).collect();
            let mut n = socket.write_vectored(&slices).await.unwrap();
            assert!(n > 0);
            while n > 0 {
                let head = parts.front_mut().unwrap();
                let take = n.min(head.len());
                let _ = head.split_to(take);
                n -= take;
                if head.is_empty() {
                    parts.pop_front();
                }
            }
        }
        socket.shutdown().await.unwrap();
        drop(socket);
        reader.await.unwrap().unwrap()
    }

    #[tokio::test]
    async fn mapped_bytes_arrive_between_ordinary_ones() {
        let bytes = content(9 * 1024 * 1024 + 123);
        let body = map(stored(&bytes), 1_000, bytes.len() as u64).unwrap();
        let (socket, client) = pair().await;
        let parts = vec![
            Bytes::from_static(b"HTTP/1.1 200 OK\r\n\r\n"),
            body,
            Bytes::from_static(b"trailer"),
        ];
        let got = send(socket, client, parts).await;
        let mut want = b"HTTP/1.1 200 OK\r\n\r\n".to_vec();
        want.extend_from_slice(&bytes[1_000..]);
        want.extend_from_slice(b"trailer");
        assert!(
            got == want,
            "{} bytes arrived, {} expected",
            got.len(),
            want.len()
        );
    }

    #[tokio::test]
    async fn bytes_not_in_the_page_cache_are_sent_from_the_disk() {
        let bytes = content(3 * 1024 * 1024);
        let file = stored(&bytes);
        rustix::fs::fadvise(&*file, 0, None, rustix::fs::Advice::DontNeed).unwrap();
        let body = map(file, 0, bytes.len() as u64).unwrap();
        assert!(
            !in_page_cache(body.as_ptr(), body.len()),
            "evicted pages should not count as cached"
        );
        let (socket, client) = pair().await;
        let got = send(socket, client, vec![body.clone()]).await;
        assert!(got == bytes, "{} bytes arrived", got.len());
        assert!(
            in_page_cache(body.as_ptr(), body.len()),
            "sending read them in"
        );
    }

    #[tokio::test]
    async fn a_file_shorter_than_its_map_ends_the_write_with_an_error() {
        let bytes = content(256 * 1024);
        let file = stored(&bytes);
        let body = map(file.clone(), 0, bytes.len() as u64).unwrap();
        file.set_len(100_000).unwrap();
        let (mut socket, _client) = pair().await;
        let error = socket.write_all(&body).await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof, "{error}");
    }
}
