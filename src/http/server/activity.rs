//! When a connection has been quiet too long: what a connection is doing
//! (requests in flight, the first byte of the next request's head), and the
//! deadline that follows from it.
//!
//! hyper's own `header_read_timeout` starts as soon as HTTP/1 waits for the
//! next request, so it would also end keep-alive connections at the header
//! timeout; HTTP/2 has no such timeout at all. Watching the connection here
//! gives both protocols the same rules:
//!
//! - a request's head must arrive within `header-timeout`: of the
//!   connection's start for the first request, of the head's first byte for
//!   later HTTP/1 ones;
//! - a connection with nothing in flight is closed after `idle-timeout`;
//! - so is one whose client has taken none of the response for that long
//!   (it stopped reading, yet would hold its connection and file forever).
//!
//! A request is in flight from its head until its response body is dropped,
//! however long an upstream takes. hyper drops a body once it holds the
//! body's last bytes, which for a stored file is at once (one mapped
//! buffer): so a connection is also busy while its writes make progress,
//! and quiet only from its last write.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, HttpBody};
use axum::http::{Request, Response, Version};
use bytes::Bytes;
use hyper::body::{Frame, Incoming, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;
use tokio::time::Instant;

/// Writes smaller than this do not count as a response making progress:
/// HTTP/2 sends pings, window updates and settings acks (well under 100
/// bytes) on idle connections too.
const PROGRESS_BYTES: usize = 256;

/// One connection's activity, shared by its socket, its service and the
/// task that closes it.
pub(super) struct Activity {
    state: Mutex<State>,
    /// Wakes the connection's task when its deadline may have moved closer.
    changed: Notify,
    header_timeout: Duration,
    idle_timeout: Duration,
}

struct State {
    in_flight: usize,
    /// Whether a request has started: until then the connection has
    /// `header-timeout` from its start to send one.
    started: bool,
    http2: bool,
    /// When the connection was opened or its last request ended.
    idle_since: Instant,
    /// The first byte of an HTTP/1 head read since then. HTTP/2 reads
    /// frames (pings, window updates) while idle, so it has none.
    head_from: Option<Instant>,
    /// Since when the socket has taken no bytes of a write, if it is
    /// refusing them now.
    stalled_since: Option<Instant>,
    /// The last write of at least [`PROGRESS_BYTES`].
    last_write: Option<Instant>,
}

impl Activity {
    pub(super) fn new(header_timeout: Duration, idle_timeout: Duration) -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(State {
                in_flight: 0,
                started: false,
                http2: false,
                idle_since: Instant::now(),
                head_from: None,
                stalled_since: None,
                last_write: None,
            }),
            changed: Notify::new(),
            header_timeout,
            idle_timeout,
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // The state is a few counters, consistent after any panic.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// When the connection is to be closed if nothing happens first; `None`
    /// while a request is in flight and its response moves.
    pub(super) fn deadline(&self) -> Option<Instant> {
        let state = self.state();
        if state.in_flight > 0 {
            state
                .stalled_since
                .map(|stalled_since| stalled_since + self.idle_timeout)
        } else if !state.started {
            Some(state.idle_since + self.header_timeout)
        } else {
            let quiet_since = state.last_write.map_or(state.idle_since, |last_write| {
                last_write.max(state.idle_since)
            });
            match state.head_from {
                // A pipelined head has its time once the response before it is out.
                Some(head_from) => Some(head_from.max(quiet_since) + self.header_timeout),
                None => Some(quiet_since + self.idle_timeout),
            }
        }
    }

    /// Whether the deadline has passed: the connection is to be closed.
    pub(super) fn expired(&self) -> bool {
        self.deadline()
            .is_some_and(|deadline| deadline <= Instant::now())
    }

    /// Resolves when the deadline may have changed since it was last read.
    pub(super) async fn changed(&self) {
        self.changed.notified().await;
    }

    /// Bytes arrived from the client.
    fn read(&self) {
        let mut state = self.state();
        if state.in_flight == 0 && state.started && !state.http2 && state.head_from.is_none() {
            state.head_from = Some(Instant::now());
            drop(state);
            self.changed.notify_one();
        }
    }

    /// A write of `len` bytes went out.
    fn wrote(&self, len: usize) {
        if len >= PROGRESS_BYTES {
            self.state().last_write = Some(Instant::now());
        }
    }

    /// A write found the socket full (`true`) or wrote again (`false`).
    fn stalled(&self, stalled: bool) {
        self.state().stalled_since = stalled.then(Instant::now);
        if stalled {
            self.changed.notify_one();
        }
    }

    /// A request's head has arrived; it is in flight until the returned
    /// guard is dropped.
    fn begin(self: &Arc<Self>, version: Version) -> InFlight {
        let mut state = self.state();
        state.in_flight += 1;
        state.started = true;
        state.http2 = version == Version::HTTP_2;
        state.head_from = None;
        InFlight(self.clone())
    }
}

/// A request in flight.
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut state = self.0.state();
        state.in_flight -= 1;
        if state.in_flight == 0 {
            state.idle_since = Instant::now();
            state.head_from = None;
        }
        drop(state);
        self.0.changed.notify_one();
    }
}

/// A connection's IO, noting reads and stalled writes in its [`Activity`].
/// Writes pass through untouched, vectored as they came, so that mapped file
/// bytes still reach [`crate::zero_copy::Socket`]'s `sendfile`.
pub(super) struct Watched<T> {
    io: T,
    activity: Arc<Activity>,
    /// Whether the last write returned `Pending`: only changes are reported.
    stalled: bool,
}

impl<T> Watched<T> {
    pub(super) fn new(io: T, activity: Arc<Activity>) -> Self {
        Self {
            io,
            activity,
            stalled: false,
        }
    }

    fn note_write<R>(&mut self, polled: Poll<R>) -> Poll<R> {
        let stalled = polled.is_pending();
        if stalled != self.stalled {
            self.stalled = stalled;
            self.activity.stalled(stalled);
        }
        polled
    }

    fn note_written(&mut self, polled: Poll<io::Result<usize>>) -> Poll<io::Result<usize>> {
        if let Poll::Ready(Ok(len)) = polled {
            self.activity.wrote(len);
        }
        self.note_write(polled)
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.io).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.read();
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.io).poll_write(cx, buf);
        self.note_written(polled)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        self.note_written(polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let polled = Pin::new(&mut self.io).poll_flush(cx);
        self.note_write(polled)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// The router as a hyper service that marks each request in flight.
#[derive(Clone)]
pub(super) struct Tracked<S> {
    pub(super) inner: S,
    pub(super) activity: Arc<Activity>,
}

impl<S> hyper::service::Service<Request<Incoming>> for Tracked<S>
where
    S: hyper::service::Service<Request<Incoming>, Response = Response<Body>>,
    S::Future: Send + 'static,
{
    type Response = Response<TrackedBody>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        let in_flight = self.activity.begin(request.version());
        let response = self.inner.call(request);
        Box::pin(async move {
            let response = response.await?;
            Ok(response.map(|body| TrackedBody {
                body,
                _in_flight: in_flight,
            }))
        })
    }
}

/// A response body that keeps its request in flight until hyper drops it.
/// Frames pass through as they are: a mapped file's `Bytes` must reach the
/// socket unchanged.
pub(super) struct TrackedBody {
    body: Body,
    /// Held for its `Drop`.
    _in_flight: InFlight,
}

impl HttpBody for TrackedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: Duration = Duration::from_millis(50);
    const IDLE: Duration = Duration::from_secs(60);

    fn pause(duration: Duration) {
        std::thread::sleep(duration);
    }

    #[test]
    fn deadlines_follow_the_connection() {
        let activity = Activity::new(HEADER, IDLE);
        let opened = activity.state().idle_since;
        // The first head is due `HEADER` after the connection opened, however
        // its bytes trickle in.
        assert_eq!(activity.deadline(), Some(opened + HEADER));
        activity.read();
        assert_eq!(activity.deadline(), Some(opened + HEADER));
        pause(HEADER);
        assert!(activity.expired());

        let request = activity.begin(Version::HTTP_11);
        assert_eq!(activity.deadline(), None, "in flight: no deadline");
        assert!(!activity.expired());
        drop(request);
        let ended = activity.state().idle_since;
        assert!(ended > opened + HEADER);
        assert_eq!(activity.deadline(), Some(ended + IDLE));
        assert!(!activity.expired());

        // The next head's first byte gives it `HEADER`; later bytes do not
        // extend it.
        activity.read();
        let head_from = activity.state().head_from.unwrap();
        pause(HEADER / 2);
        activity.read();
        assert_eq!(activity.deadline(), Some(head_from + HEADER));
        pause(HEADER);
        assert!(activity.expired());
    }

    #[test]
    fn a_response_the_client_does_not_take_times_out() {
        let activity = Activity::new(HEADER, Duration::from_millis(50));
        let request = activity.begin(Version::HTTP_11);
        activity.stalled(true);
        let stalled_since = activity.state().stalled_since.unwrap();
        assert_eq!(
            activity.deadline(),
            Some(stalled_since + Duration::from_millis(50))
        );
        activity.stalled(false);
        assert_eq!(activity.deadline(), None, "moving again: no deadline");
        activity.stalled(true);
        pause(Duration::from_millis(60));
        assert!(activity.expired());
        drop(request);
    }

    #[test]
    fn a_response_still_going_out_keeps_the_connection_busy() {
        let activity = Activity::new(HEADER, Duration::from_millis(50));
        // hyper has dropped the body, but is still writing it.
        drop(activity.begin(Version::HTTP_11));
        pause(Duration::from_millis(40));
        activity.wrote(64 * 1024);
        let last_write = activity.state().last_write.unwrap();
        assert_eq!(
            activity.deadline(),
            Some(last_write + Duration::from_millis(50))
        );
        // A pipelined head waits for it too.
        activity.read();
        pause(Duration::from_millis(10));
        activity.wrote(64 * 1024);
        let last_write = activity.state().last_write.unwrap();
        assert_eq!(activity.deadline(), Some(last_write + HEADER));
        // Pings are no progress.
        activity.wrote(17);
        assert_eq!(activity.state().last_write, Some(last_write));
    }

    #[test]
    fn http2_reads_while_idle_do_not_start_a_head() {
        let activity = Activity::new(HEADER, IDLE);
        drop(activity.begin(Version::HTTP_2));
        let ended = activity.state().idle_since;
        activity.read();
        assert_eq!(activity.deadline(), Some(ended + IDLE));
    }

    #[tokio::test]
    async fn a_deadline_moving_closer_wakes_the_watcher() {
        let activity = Activity::new(HEADER, IDLE);
        drop(activity.begin(Version::HTTP_11));
        // The drop above left a wake-up; take it.
        activity.changed().await;
        activity.read();
        tokio::time::timeout(Duration::from_secs(1), activity.changed())
            .await
            .expect("the head's first byte should wake the watcher");
    }
}
