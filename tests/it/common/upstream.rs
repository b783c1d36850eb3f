//! A fixture HTTP server: serves in-memory files, counts hits per path, can
//! change a file or be stopped mid-test.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::header::{ETAG, IF_NONE_MATCH};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use sha2::{Digest, Sha256};
use tokio::task::JoinHandle;

#[derive(Default)]
struct Shared {
    files: HashMap<String, Bytes>,
    hits: HashMap<String, usize>,
    /// Paths that answer 500 this many more times.
    failures: HashMap<String, usize>,
}

pub struct FixtureServer {
    pub addr: SocketAddr,
    shared: Arc<Mutex<Shared>>,
    task: Option<JoinHandle<()>>,
}

impl FixtureServer {
    pub async fn start() -> Self {
        let shared = Arc::new(Mutex::new(Shared::default()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = Router::new().fallback(serve).with_state(shared.clone());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            addr,
            shared,
            task: Some(task),
        }
    }

    /// Serves `bytes` at `path` (which starts with `/`), replacing what was there.
    pub fn put(&self, path: &str, bytes: impl Into<Bytes>) {
        self.shared
            .lock()
            .unwrap()
            .files
            .insert(path.to_owned(), bytes.into());
    }

    /// Makes the next `times` requests for `path` answer 500.
    pub fn fail_next(&self, path: &str, times: usize) {
        self.shared
            .lock()
            .unwrap()
            .failures
            .insert(path.to_owned(), times);
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// How many requests reached `path`.
    pub fn hits(&self, path: &str) -> usize {
        self.shared
            .lock()
            .unwrap()
            .hits
            .get(path)
            .copied()
            .unwrap_or(0)
    }

    /// Stops listening: later connections are refused.
    pub async fn stop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }
}

impl Drop for FixtureServer {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Files carry an `ETag` (a hash of their bytes) and answer a matching
/// `If-None-Match` with 304, as static file servers do.
async fn serve(State(shared): State<Arc<Mutex<Shared>>>, uri: Uri, headers: HeaderMap) -> Response {
    let path = uri.path().to_owned();
    let mut shared = shared.lock().unwrap();
    *shared.hits.entry(path.clone()).or_default() += 1;
    if let Some(left) = shared.failures.get_mut(&path)
        && *left > 0
    {
        *left -= 1;
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    match shared.files.get(&path) {
        Some(bytes) => {
            let etag = format!("\"{}\"", hex::encode(&Sha256::digest(bytes)[..8]));
            if headers
                .get(IF_NONE_MATCH)
                .is_some_and(|v| v.as_bytes() == etag.as_bytes())
            {
                return (StatusCode::NOT_MODIFIED, [(ETAG, etag)]).into_response();
            }
            ([(ETAG, etag)], Body::from(bytes.clone())).into_response()
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
