//! A fixture package index: an in-process PEP 503 / PEP 691 Simple API on
//! 127.0.0.1 serving real, installable distributions built by
//! `tests/support/make_dists.py`, with per-file faults (corrupt, truncated,
//! throttled), page faults (error status, stall), hit counters, and stop /
//! restart on the same port.
//!
//! Routes:
//! - `GET /simple/`: the project list;
//! - `GET /simple/<normalized-name>/`: a project page (a non-normalized name
//!   is redirected with 301, an unknown one is 404);
//! - `GET /packages/<filename>`: a file;
//! - `GET /packages/<wheel>.metadata`: a wheel's METADATA (PEP 658).
//!
//! HTML pages link files with relative URLs (`../../packages/<f>`), JSON pages
//! with absolute ones (`http://127.0.0.1:PORT/packages/<f>`), so both forms
//! are exercised. Pages carry an ETag and answer `If-None-Match` with 304.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::task::JoinHandle;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

const JSON_TYPE: &str = "application/vnd.pypi.simple.v1+json";
const HTML_TYPE: &str = "text/html";
const UPLOAD_TIME: &str = "2025-01-01T00:00:00Z";

/// Which Simple API format the index answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// PEP 503 HTML only, whatever the client accepts.
    Html,
    /// PEP 691 JSON only, whatever the client accepts.
    Json,
    /// JSON when the `Accept` header mentions
    /// `application/vnd.pypi.simple.v1+json`, HTML otherwise.
    Both,
}

/// The demo distributions built by `tests/support/make_dists.py`, by file
/// name (wheels, the sdist, and a `<wheel>.metadata` next to every wheel).
///
/// The script runs once per test process, into a temporary directory that is
/// read into memory and removed again.
pub fn demo_dists() -> &'static BTreeMap<String, Bytes> {
    static DISTS: OnceLock<BTreeMap<String, Bytes>> = OnceLock::new();
    DISTS.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("larder-demo-dists-")
            .tempdir()
            .expect("cannot create a temporary directory");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/make_dists.py");
        let output = std::process::Command::new("python3")
            .arg(&script)
            .arg(dir.path())
            .output()
            .expect("cannot run python3 (needed to build the demo distributions)");
        assert!(
            output.status.success(),
            "make_dists.py failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        let mut dists = BTreeMap::new();
        for entry in std::fs::read_dir(dir.path()).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name().into_string().unwrap();
            if name.starts_with('.') {
                continue;
            }
            dists.insert(name, Bytes::from(std::fs::read(entry.path()).unwrap()));
        }
        dists
    })
}

/// One servable file under `/packages/`.
struct Blob {
    bytes: Bytes,
    sha256: String,
}

/// One file as a project page lists it.
struct Listed {
    version: Option<String>,
    requires_python: Option<String>,
    /// The SHA-256 of `<filename>.metadata`, when that exists.
    metadata_sha256: Option<String>,
}

#[derive(Default)]
struct Inner {
    blobs: HashMap<String, Blob>,
    /// Normalized project name → file name → listing.
    projects: BTreeMap<String, BTreeMap<String, Listed>>,
    hits: HashMap<String, usize>,
    total_hits: usize,
    corrupt: HashSet<String>,
    truncate: HashSet<String>,
    throttle: HashMap<String, (usize, Duration)>,
    fail_pages: Option<u16>,
    stall_pages: bool,
    /// Set by `drop_metadata`: no PEP 658 metadata announced or served.
    no_metadata: bool,
    /// Set by `announce_more`: what API versions 1.3 and 1.4 add, and an
    /// explicit "no core metadata" on files without it.
    more: bool,
    /// PEP 792 status and reason by normalized project, set by `set_status`.
    status: HashMap<String, (String, Option<String>)>,
    /// Names the project list carries besides the real projects
    /// (`list_many`): `many-<n>` for n below this.
    many: usize,
    /// 304s answered to conditional page requests.
    not_modified: usize,
    /// Cancelled when the server stops; kills open connections.
    running: CancellationToken,
}

struct Shared {
    flavor: Flavor,
    addr: SocketAddr,
    inner: Mutex<Inner>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A fixture package index on 127.0.0.1; see the module docs.
pub struct FixtureIndex {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    task: Option<JoinHandle<()>>,
}

impl FixtureIndex {
    /// Builds the demo distributions (once per test process) and starts
    /// serving them on a fresh port.
    pub async fn start(flavor: Flavor) -> Self {
        let dists = demo_dists();
        let listener = bind("127.0.0.1:0".parse().unwrap()).await;
        let addr = listener.local_addr().unwrap();
        let mut inner = Inner::default();
        for (filename, bytes) in dists {
            inner
                .blobs
                .insert(filename.clone(), Blob::new(bytes.clone()));
        }
        for filename in dists.keys().filter(|f| !f.ends_with(".metadata")) {
            let project = project_of(filename);
            inner.list(&project, filename);
        }
        inner.inherit_requires_python();
        let shared = Arc::new(Shared {
            flavor,
            addr,
            inner: Mutex::new(inner),
        });
        let mut index = Self {
            addr,
            shared,
            task: None,
        };
        index.serve(listener);
        index
    }

    /// From now on, the project list also names `count` projects
    /// `many-0`, `many-1`, … that have no pages (a real index's size).
    pub fn list_many(&self, count: usize) {
        self.shared.lock().many = count;
    }

    /// How many conditional page requests were answered 304.
    pub fn not_modified(&self) -> usize {
        self.shared.lock().not_modified
    }

    /// `http://127.0.0.1:PORT/simple/`
    pub fn simple_url(&self) -> String {
        format!("http://{}/simple/", self.addr)
    }

    /// `http://127.0.0.1:PORT/packages/<filename>`
    pub fn file_url(&self, filename: &str) -> String {
        format!("http://{}/packages/{filename}", self.addr)
    }

    /// Requests seen for exactly `path` (e.g. `/simple/larder-demo-lib/` or
    /// `/packages/larder_demo_lib-1.1-py3-none-any.whl`), 304s included.
    pub fn hits(&self, path: &str) -> usize {
        self.shared.lock().hits.get(path).copied().unwrap_or(0)
    }

    /// Requests seen for any path.
    pub fn total_hits(&self) -> usize {
        self.shared.lock().total_hits
    }

    /// The true bytes of `filename` (what the page's hash describes).
    #[track_caller]
    pub fn file_bytes(&self, filename: &str) -> Bytes {
        match self.shared.lock().blobs.get(filename) {
            Some(blob) => blob.bytes.clone(),
            None => panic!("the fixture index has no file {filename}"),
        }
    }

    /// The hex SHA-256 of the true bytes of `filename`.
    #[track_caller]
    pub fn sha256(&self, filename: &str) -> String {
        match self.shared.lock().blobs.get(filename) {
            Some(blob) => blob.sha256.clone(),
            None => panic!("the fixture index has no file {filename}"),
        }
    }

    /// Adds (or replaces) `filename` in `project` (any spelling; it is
    /// normalized), listed with its SHA-256. A name ending in `.metadata`
    /// is not listed but served, and becomes the core metadata of the file it
    /// names.
    pub fn add_file(&self, project: &str, filename: &str, bytes: Bytes) {
        let mut inner = self.shared.lock();
        inner.blobs.insert(filename.to_owned(), Blob::new(bytes));
        match filename.strip_suffix(".metadata") {
            Some(base) => {
                let sha256 = inner.blobs[filename].sha256.clone();
                for files in inner.projects.values_mut() {
                    if let Some(listed) = files.get_mut(base) {
                        listed.metadata_sha256 = Some(sha256.clone());
                    }
                }
            }
            None => inner.list(&normalize(project), filename),
        }
    }

    /// From now on, serves `filename` with one byte flipped: the same length,
    /// but not the bytes the page's hash describes.
    pub fn corrupt(&self, filename: &str) {
        self.shared.lock().corrupt.insert(filename.to_owned());
    }

    /// Undoes `corrupt`: `filename` is served with its true bytes again.
    pub fn uncorrupt(&self, filename: &str) {
        self.shared.lock().corrupt.remove(filename);
    }

    /// From now on, answers `filename` with the full `Content-Length` but
    /// cuts the connection after half the body.
    pub fn truncate(&self, filename: &str) {
        self.shared.lock().truncate.insert(filename.to_owned());
    }

    /// Undoes `truncate`: `filename` is served whole again.
    pub fn untruncate(&self, filename: &str) {
        self.shared.lock().truncate.remove(filename);
    }

    /// From now on, streams `filename` in `chunk`-byte pieces with `delay`
    /// between them.
    pub fn throttle(&self, filename: &str, chunk: usize, delay: Duration) {
        assert!(chunk > 0, "throttle chunk must not be 0");
        self.shared
            .lock()
            .throttle
            .insert(filename.to_owned(), (chunk, delay));
    }

    /// Undoes `throttle`: `filename` is served at full speed again.
    pub fn unthrottle(&self, filename: &str) {
        self.shared.lock().throttle.remove(filename);
    }

    /// From now on, pages announce no core metadata (no `data-core-metadata`
    /// / `core-metadata`) and `/packages/<wheel>.metadata` is 404, like an
    /// index without PEP 658: clients must read METADATA from the wheel.
    pub fn drop_metadata(&self) {
        self.shared.lock().no_metadata = true;
    }

    /// From now on, pages say everything API 1.4 can say: every file has a
    /// PEP 740 `provenance` URL (`http://127.0.0.1:PORT/integrity/<file>/provenance`,
    /// never served), and files without core metadata say so
    /// (`core-metadata: false`, `data-core-metadata="false"`).
    pub fn announce_more(&self) {
        self.shared.lock().more = true;
    }

    /// The PEP 792 status (and reason) `project`'s page gives from now on.
    pub fn set_status(&self, project: &str, status: &str, reason: Option<&str>) {
        let status = (status.to_owned(), reason.map(str::to_owned));
        self.shared.lock().status.insert(normalize(project), status);
    }

    /// The provenance URL `announce_more` gives `filename`.
    pub fn provenance_url(&self, filename: &str) -> String {
        provenance_url(self.addr, filename)
    }

    /// Every `/simple/` page answers `status` (e.g. 500); `None` restores
    /// normal answers. Files are unaffected.
    pub fn fail_pages(&self, status: Option<u16>) {
        self.shared.lock().fail_pages = status;
    }

    /// While set, `/simple/` pages never answer (requests already stalled
    /// stay stalled until the server stops). Files are unaffected.
    pub fn stall_pages(&self, stall: bool) {
        self.shared.lock().stall_pages = stall;
    }

    /// Stops listening (connections are refused) and cuts open connections.
    pub async fn stop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
        self.shared.lock().running.cancel();
    }

    /// Listens again on the same port, with the same files, faults and hit
    /// counters. Does nothing if already running.
    pub async fn restart(&mut self) {
        if self.task.is_some() {
            return;
        }
        let listener = bind(self.addr).await;
        self.serve(listener);
    }

    fn serve(&mut self, listener: TcpListener) {
        let token = CancellationToken::new();
        self.shared.lock().running = token.clone();
        let app = Router::new()
            .fallback(handle)
            .with_state(self.shared.clone());
        let listener = KillableListener { listener, token };
        self.task = Some(tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        }));
    }
}

impl Drop for FixtureIndex {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
        self.shared.lock().running.cancel();
    }
}

impl Blob {
    fn new(bytes: Bytes) -> Self {
        let sha256 = sha256_hex(&bytes);
        Self { bytes, sha256 }
    }
}

impl Inner {
    /// Lists `filename` (already in `blobs`) under the normalized `project`.
    fn list(&mut self, project: &str, filename: &str) {
        let metadata = self.blobs.get(&format!("{filename}.metadata"));
        let listed = Listed {
            version: version_of(filename),
            requires_python: metadata.and_then(|m| requires_python(&m.bytes)),
            metadata_sha256: metadata.map(|m| m.sha256.clone()),
        };
        self.projects
            .entry(project.to_owned())
            .or_default()
            .insert(filename.to_owned(), listed);
    }

    /// Gives files without metadata of their own (sdists) the
    /// `Requires-Python` of a wheel of the same version.
    fn inherit_requires_python(&mut self) {
        for files in self.projects.values_mut() {
            let known: HashMap<String, String> = files
                .values()
                .filter_map(|l| Some((l.version.clone()?, l.requires_python.clone()?)))
                .collect();
            for listed in files.values_mut() {
                if listed.requires_python.is_none()
                    && let Some(version) = &listed.version
                {
                    listed.requires_python = known.get(version).cloned();
                }
            }
        }
    }
}

async fn handle(State(shared): State<Arc<Shared>>, uri: Uri, headers: HeaderMap) -> Response {
    let path = uri.path().to_owned();
    let (stall, fail, running) = {
        let mut inner = shared.lock();
        *inner.hits.entry(path.clone()).or_default() += 1;
        inner.total_hits += 1;
        (inner.stall_pages, inner.fail_pages, inner.running.clone())
    };
    if let Some(rest) = path.strip_prefix("/simple/") {
        if stall {
            running.cancelled().await;
            return cut_connection();
        }
        if let Some(status) = fail {
            let status = StatusCode::from_u16(status).expect("fail_pages: invalid status");
            return (status, format!("fixture index: pages fail with {status}\n")).into_response();
        }
        let json = match shared.flavor {
            Flavor::Html => false,
            Flavor::Json => true,
            Flavor::Both => headers
                .get_all(header::ACCEPT)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .any(|v| v.contains(JSON_TYPE)),
        };
        let body = if rest.is_empty() {
            root_page(&shared, json)
        } else if let Some(name) = rest.strip_suffix('/')
            && !name.contains('/')
        {
            let normalized = normalize(name);
            if normalized != name && shared.lock().projects.contains_key(&normalized) {
                return redirect(&format!("/simple/{normalized}/"));
            }
            match project_page(&shared, &normalized, json) {
                Some(body) => body,
                None => return not_found(),
            }
        } else {
            return not_found();
        };
        return page_response(&shared, body, json, &headers);
    }
    if let Some(filename) = path.strip_prefix("/packages/") {
        let filename = percent_encoding::percent_decode_str(filename).decode_utf8_lossy();
        return file_response(&shared, &filename);
    }
    not_found()
}

fn page_response(shared: &Shared, body: String, json: bool, request: &HeaderMap) -> Response {
    let etag = format!("\"{}\"", &sha256_hex(body.as_bytes())[..32]);
    let matches = request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|tag| tag.trim())
        .any(|tag| tag == "*" || tag.trim_start_matches("W/") == etag);
    let mut response = if matches {
        shared.lock().not_modified += 1;
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let content_type = if json { JSON_TYPE } else { HTML_TYPE };
        let mut response = body.into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        response
    };
    let headers = response.headers_mut();
    headers.insert(header::ETAG, HeaderValue::from_str(&etag).unwrap());
    if shared.flavor == Flavor::Both {
        headers.insert(header::VARY, HeaderValue::from_static("Accept"));
    }
    response
}

fn root_page(shared: &Shared, json: bool) -> String {
    let inner = shared.lock();
    let many = (0..inner.many).map(|n| format!("many-{n}"));
    let names: Vec<String> = inner.projects.keys().cloned().chain(many).collect();
    if json {
        let projects: Vec<Value> = names.iter().map(|name| json!({ "name": name })).collect();
        let page = json!({ "meta": { "api-version": "1.1" }, "projects": projects });
        return serde_json::to_string_pretty(&page).unwrap();
    }
    let mut html = String::from(
        "<!DOCTYPE html>\n<html>\n  <head>\n    \
         <meta name=\"pypi:repository-version\" content=\"1.1\">\n    \
         <title>Simple index</title>\n  </head>\n  <body>\n",
    );
    for name in &names {
        let name = escape(name);
        html.push_str(&format!("    <a href=\"{name}/\">{name}</a><br />\n"));
    }
    html.push_str("  </body>\n</html>\n");
    html
}

fn project_page(shared: &Shared, project: &str, json: bool) -> Option<String> {
    let inner = shared.lock();
    let files = inner.projects.get(project)?;
    if json {
        let mut versions: Vec<&str> = files
            .values()
            .filter_map(|l| l.version.as_deref())
            .collect();
        versions.sort_by(|a, b| compare_versions(a, b));
        versions.dedup();
        let files: Vec<Value> = files
            .iter()
            .map(|(filename, listed)| {
                let blob = &inner.blobs[filename];
                let mut file = Map::new();
                file.insert("filename".into(), json!(filename));
                file.insert(
                    "url".into(),
                    json!(format!(
                        "http://{}/packages/{}",
                        shared.addr,
                        url_segment(filename)
                    )),
                );
                file.insert("hashes".into(), json!({ "sha256": blob.sha256 }));
                if let Some(requires_python) = &listed.requires_python {
                    file.insert("requires-python".into(), json!(requires_python));
                }
                if let Some(sha256) = listed
                    .metadata_sha256
                    .as_ref()
                    .filter(|_| !inner.no_metadata)
                {
                    file.insert("core-metadata".into(), json!({ "sha256": sha256 }));
                    file.insert("dist-info-metadata".into(), json!({ "sha256": sha256 }));
                } else if inner.more {
                    file.insert("core-metadata".into(), json!(false));
                    file.insert("dist-info-metadata".into(), json!(false));
                }
                if inner.more {
                    let url = provenance_url(shared.addr, filename);
                    file.insert("provenance".into(), json!(url));
                }
                file.insert("size".into(), json!(blob.bytes.len()));
                file.insert("upload-time".into(), json!(UPLOAD_TIME));
                file.insert("yanked".into(), json!(false));
                Value::Object(file)
            })
            .collect();
        let mut page = json!({
            "meta": { "api-version": if inner.more { "1.4" } else { "1.1" } },
            "name": project,
            "files": files,
            "versions": versions,
        });
        if let Some((status, reason)) = inner.status.get(project) {
            page["project-status"] = json!({ "status": status });
            if let Some(reason) = reason {
                page["project-status"]["reason"] = json!(reason);
            }
        }
        return Some(serde_json::to_string_pretty(&page).unwrap());
    }
    let title = escape(project);
    let mut status = String::new();
    if let Some((value, reason)) = inner.status.get(project) {
        status.push_str(&format!(
            "<meta name=\"pypi:project-status\" content=\"{}\">\n    ",
            escape(value)
        ));
        if let Some(reason) = reason {
            status.push_str(&format!(
                "<meta name=\"pypi:project-status-reason\" content=\"{}\">\n    ",
                escape(reason)
            ));
        }
    }
    let version = if inner.more { "1.4" } else { "1.1" };
    let mut html = format!(
        "<!DOCTYPE html>\n<html>\n  <head>\n    \
         <meta name=\"pypi:repository-version\" content=\"{version}\">\n    \
         {status}<title>Links for {title}</title>\n  </head>\n  <body>\n    \
         <h1>Links for {title}</h1>\n"
    );
    for (filename, listed) in files {
        let blob = &inner.blobs[filename];
        let mut attributes = String::new();
        if let Some(requires_python) = &listed.requires_python {
            attributes.push_str(&format!(
                " data-requires-python=\"{}\"",
                escape(requires_python)
            ));
        }
        if let Some(sha256) = listed
            .metadata_sha256
            .as_ref()
            .filter(|_| !inner.no_metadata)
        {
            attributes.push_str(&format!(
                " data-dist-info-metadata=\"sha256={sha256}\" data-core-metadata=\"sha256={sha256}\""
            ));
        } else if inner.more {
            attributes.push_str(" data-core-metadata=\"false\"");
        }
        if inner.more {
            attributes.push_str(&format!(
                " data-provenance=\"{}\"",
                escape(&provenance_url(shared.addr, filename))
            ));
        }
        let href = escape(&url_segment(filename));
        let filename = escape(filename);
        html.push_str(&format!(
            "    <a href=\"../../packages/{href}#sha256={}\"{attributes}>{filename}</a><br />\n",
            blob.sha256
        ));
    }
    html.push_str("  </body>\n</html>\n");
    Some(html)
}

/// `filename` as one URL path segment, escaped by the `url` crate's rules
/// (not larder's, which the tests check).
fn provenance_url(addr: SocketAddr, filename: &str) -> String {
    format!(
        "http://{addr}/integrity/{}/provenance",
        url_segment(filename)
    )
}

fn url_segment(filename: &str) -> String {
    let mut url = url::Url::parse("http://127.0.0.1/").expect("static URL");
    url.path_segments_mut()
        .expect("an http URL has segments")
        .push(filename);
    url.path()[1..].to_owned()
}

fn file_response(shared: &Shared, filename: &str) -> Response {
    let (mut bytes, corrupt, truncate, throttle) = {
        let inner = shared.lock();
        let Some(blob) = inner.blobs.get(filename) else {
            return not_found();
        };
        if inner.no_metadata && filename.ends_with(".metadata") {
            return not_found();
        }
        (
            blob.bytes.clone(),
            inner.corrupt.contains(filename),
            inner.truncate.contains(filename),
            inner.throttle.get(filename).copied(),
        )
    };
    if corrupt && !bytes.is_empty() {
        let mut changed = bytes.to_vec();
        let middle = changed.len() / 2;
        changed[middle] ^= 0xff;
        bytes = changed.into();
    }
    let length = bytes.len();
    let body = if truncate || throttle.is_some() {
        let (chunk, delay) = throttle.unwrap_or((64 * 1024, Duration::ZERO));
        chunked_body(bytes, chunk, delay, truncate)
    } else {
        Body::from(bytes)
    };
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    response
}

/// Streams `bytes` in `chunk`-byte pieces with `delay` between them; with
/// `cut`, stops after half the bytes and fails the body, so the server
/// aborts the connection instead of ending the response cleanly.
fn chunked_body(bytes: Bytes, chunk: usize, delay: Duration, cut: bool) -> Body {
    let end = if cut { bytes.len() / 2 } else { bytes.len() };
    let stream = futures::stream::unfold(Some(0usize), move |state| {
        let bytes = bytes.clone();
        async move {
            let position = state?;
            if position >= end {
                if !cut {
                    return None;
                }
                // Let the half that was sent reach the client first.
                tokio::time::sleep(Duration::from_millis(50)).await;
                let error = io::Error::new(
                    io::ErrorKind::ConnectionAborted,
                    "fixture index: truncated on purpose",
                );
                return Some((Err(error), None));
            }
            if position > 0 && !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            let next = (position + chunk).min(end);
            Some((Ok(bytes.slice(position..next)), Some(next)))
        }
    });
    Body::from_stream(stream)
}

/// A response whose body fails at once: the connection is cut without an answer.
fn cut_connection() -> Response {
    let error = io::Error::new(io::ErrorKind::ConnectionAborted, "fixture index stopped");
    let stream = futures::stream::once(async move { Err::<Bytes, _>(error) });
    let mut response = Response::new(Body::from_stream(stream));
    response
        .headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from(1u64));
    response
}

fn redirect(location: &str) -> Response {
    let mut response = StatusCode::MOVED_PERMANENTLY.into_response();
    response
        .headers_mut()
        .insert(header::LOCATION, HeaderValue::from_str(location).unwrap());
    response
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "not found\n").into_response()
}

/// PEP 503 name normalization.
fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut separator = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            separator = true;
            continue;
        }
        if separator && !out.is_empty() {
            out.push('-');
        }
        separator = false;
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// The normalized project name of a wheel or sdist file name.
fn project_of(filename: &str) -> String {
    let name = match filename.strip_suffix(".whl") {
        Some(stem) => stem.split('-').next().unwrap_or(stem),
        None => sdist_stem(filename)
            .and_then(|stem| stem.rsplit_once('-'))
            .map_or(filename, |(name, _)| name),
    };
    normalize(name)
}

fn version_of(filename: &str) -> Option<String> {
    if let Some(stem) = filename.strip_suffix(".whl") {
        return stem.split('-').nth(1).map(str::to_owned);
    }
    let (_, version) = sdist_stem(filename)?.rsplit_once('-')?;
    Some(version.to_owned())
}

fn sdist_stem(filename: &str) -> Option<&str> {
    [".tar.gz", ".zip", ".tar.bz2", ".tgz"]
        .iter()
        .find_map(|ext| filename.strip_suffix(ext))
}

/// Orders `1.0 < 1.1 < 1.10`, comparing dot-separated parts numerically
/// where both are numbers.
fn compare_versions(a: &str, b: &str) -> std::cmp::Ordering {
    let mut left = a.split('.');
    let mut right = b.split('.');
    loop {
        match (left.next(), right.next()) {
            (None, None) => return std::cmp::Ordering::Equal,
            (None, Some(_)) => return std::cmp::Ordering::Less,
            (Some(_), None) => return std::cmp::Ordering::Greater,
            (Some(x), Some(y)) => {
                let order = match (x.parse::<u64>(), y.parse::<u64>()) {
                    (Ok(x), Ok(y)) => x.cmp(&y),
                    _ => x.cmp(y),
                };
                if order.is_ne() {
                    return order;
                }
            }
        }
    }
}

/// The `Requires-Python` header of core metadata, if any.
fn requires_python(metadata: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(metadata).ok()?;
    text.lines()
        .take_while(|line| !line.is_empty())
        .find_map(|line| line.strip_prefix("Requires-Python:"))
        .map(|value| value.trim().to_owned())
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Binds `addr` with `SO_REUSEADDR`, retrying for a while (a restart may race
/// the old socket's teardown).
async fn bind(addr: SocketAddr) -> TcpListener {
    let mut attempt = 0;
    loop {
        let result = TcpSocket::new_v4().and_then(|socket| {
            socket.set_reuseaddr(true)?;
            socket.bind(addr)?;
            socket.listen(1024)
        });
        match result {
            Ok(listener) => return listener,
            Err(e) if attempt < 50 => {
                attempt += 1;
                let _ = e;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("the fixture index cannot listen on {addr}: {e}"),
        }
    }
}

/// A listener whose connections all fail once `token` is cancelled, so that
/// `stop` also cuts keep-alive connections axum is still serving.
struct KillableListener {
    listener: TcpListener,
    token: CancellationToken,
}

impl axum::serve::Listener for KillableListener {
    type Io = KillableStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.listener.accept().await {
                Ok((stream, addr)) => {
                    let _ = stream.set_nodelay(true);
                    let killed = Box::pin(self.token.clone().cancelled_owned());
                    return (KillableStream { stream, killed }, addr);
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.listener.local_addr()
    }
}

struct KillableStream {
    stream: TcpStream,
    killed: Pin<Box<WaitForCancellationFutureOwned>>,
}

impl KillableStream {
    fn check(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        if self.killed.as_mut().poll(cx).is_ready() {
            return Err(io::Error::new(
                io::ErrorKind::ConnectionReset,
                "fixture index stopped",
            ));
        }
        Ok(())
    }
}

impl AsyncRead for KillableStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.check(cx)?;
        Pin::new(&mut this.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for KillableStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.check(cx)?;
        Pin::new(&mut this.stream).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.check(cx)?;
        Pin::new(&mut this.stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

// ---------------------------------------------------------------------------
// Self-checks of the fixture.

/// One file link as a page announced it.
#[derive(Debug)]
struct Link {
    filename: String,
    url: String,
    sha256: String,
    requires_python: Option<String>,
    core_metadata: Option<String>,
}

/// Fetches a project page with `accept` and returns its content type, raw
/// body and parsed links (URLs resolved against the page URL).
async fn fetch_links(
    client: &reqwest::Client,
    page: &str,
    accept: &str,
) -> (String, String, Vec<Link>) {
    let response = client
        .get(page)
        .header("accept", accept)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{page}");
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    let body = response.text().await.unwrap();
    let base = url::Url::parse(page).unwrap();
    let mut links = Vec::new();
    if content_type == JSON_TYPE {
        let value: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(value["meta"]["api-version"], "1.1");
        for file in value["files"].as_array().unwrap() {
            let core = &file["core-metadata"];
            assert_eq!(core, &file["dist-info-metadata"]);
            assert_eq!(file["upload-time"], UPLOAD_TIME);
            assert_eq!(file["yanked"], false);
            links.push(Link {
                filename: file["filename"].as_str().unwrap().to_owned(),
                url: file["url"].as_str().unwrap().to_owned(),
                sha256: file["hashes"]["sha256"].as_str().unwrap().to_owned(),
                requires_python: file["requires-python"].as_str().map(str::to_owned),
                core_metadata: core["sha256"].as_str().map(str::to_owned),
            });
        }
    } else {
        assert_eq!(content_type, HTML_TYPE);
        let attribute = |tag: &str, name: &str| {
            let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
            let end = start + tag[start..].find('"')?;
            Some(tag[start..end].replace("&gt;", ">").replace("&lt;", "<"))
        };
        for piece in body.split("<a ").skip(1) {
            let tag = &format!(" {}", &piece[..piece.find('>').unwrap()]);
            let href = attribute(tag, "href").unwrap();
            let (url, fragment) = href.split_once("#sha256=").unwrap();
            let core = attribute(tag, "data-core-metadata");
            assert_eq!(core, attribute(tag, "data-dist-info-metadata"));
            links.push(Link {
                filename: url.rsplit('/').next().unwrap().to_owned(),
                url: base.join(url).unwrap().to_string(),
                sha256: fragment.to_owned(),
                requires_python: attribute(tag, "data-requires-python"),
                core_metadata: core.map(|c| c.strip_prefix("sha256=").unwrap().to_owned()),
            });
        }
    }
    (content_type, body, links)
}

async fn get_bytes(client: &reqwest::Client, url: &str) -> Bytes {
    let response = client.get(url).send().await.unwrap();
    assert_eq!(response.status(), 200, "{url}");
    assert_eq!(
        response.headers()["content-type"],
        "application/octet-stream"
    );
    response.bytes().await.unwrap()
}

#[tokio::test]
async fn fixture_index_serves_pages_and_files() {
    let client = reqwest::Client::new();
    let json_accept = "application/vnd.pypi.simple.v1+json, \
                       application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01";
    for flavor in [Flavor::Html, Flavor::Json, Flavor::Both] {
        let index = FixtureIndex::start(flavor).await;
        assert!(index.simple_url().starts_with("http://127.0.0.1:"));
        for accept in [json_accept, "text/html"] {
            let expect_json = match flavor {
                Flavor::Html => false,
                Flavor::Json => true,
                Flavor::Both => accept == json_accept,
            };
            let expected_type = if expect_json { JSON_TYPE } else { HTML_TYPE };

            // The project list.
            let root = client
                .get(index.simple_url())
                .header("accept", accept)
                .send()
                .await
                .unwrap();
            assert_eq!(root.status(), 200);
            assert_eq!(root.headers()["content-type"], expected_type);
            let root = root.text().await.unwrap();
            for project in [
                "larder-demo-app",
                "larder-demo-lib",
                "larder-demo-util",
                "larder-demo-big",
            ] {
                assert!(root.contains(project), "{flavor:?}: {root}");
            }

            // Project pages, files and metadata, all checked against the hashes.
            let page = format!("{}larder-demo-lib/", index.simple_url());
            let (content_type, body, links) = fetch_links(&client, &page, accept).await;
            assert_eq!(content_type, expected_type);
            let names: Vec<&str> = links.iter().map(|l| l.filename.as_str()).collect();
            assert_eq!(
                names,
                [
                    "larder_demo_lib-1.0-py3-none-any.whl",
                    "larder_demo_lib-1.1-py3-none-any.whl"
                ]
            );
            if expect_json {
                let value: Value = serde_json::from_str(&body).unwrap();
                assert_eq!(value["name"], "larder-demo-lib");
                assert_eq!(value["versions"], json!(["1.0", "1.1"]));
                assert!(
                    links[0]
                        .url
                        .starts_with(&format!("http://{}/packages/", index.addr))
                );
            } else {
                assert!(body.contains(
                    "href=\"../../packages/larder_demo_lib-1.0-py3-none-any.whl#sha256="
                ));
            }
            for link in &links {
                let bytes = get_bytes(&client, &link.url).await;
                assert_eq!(sha256_hex(&bytes), link.sha256);
                assert_eq!(link.sha256, index.sha256(&link.filename));
                assert_eq!(bytes, index.file_bytes(&link.filename));
                assert_eq!(&bytes[..2], b"PK");
                let metadata = get_bytes(&client, &format!("{}.metadata", link.url)).await;
                assert_eq!(Some(sha256_hex(&metadata)), link.core_metadata);
                assert!(metadata.starts_with(b"Metadata-Version: 2.1\nName: larder-demo-lib\n"));
                assert!(
                    String::from_utf8_lossy(&metadata).contains("Requires-Dist: larder-demo-util")
                );
            }

            let util = format!("{}larder-demo-util/", index.simple_url());
            let (_, body, links) = fetch_links(&client, &util, accept).await;
            assert_eq!(links.len(), 1);
            assert_eq!(links[0].requires_python.as_deref(), Some(">=3.8"));
            if !expect_json {
                assert!(body.contains("data-requires-python=\"&gt;=3.8\""));
            }

            let app = format!("{}larder-demo-app/", index.simple_url());
            let (_, _, links) = fetch_links(&client, &app, accept).await;
            let sdist = links
                .iter()
                .find(|l| l.filename == "larder_demo_app-1.0.tar.gz")
                .unwrap();
            assert_eq!(sdist.core_metadata, None);
            let bytes = get_bytes(&client, &sdist.url).await;
            assert_eq!(sha256_hex(&bytes), sdist.sha256);
            assert_eq!(&bytes[..2], b"\x1f\x8b");

            let big = index.file_bytes("larder_demo_big-1.0-py3-none-any.whl");
            assert!(big.len() > 2 * 1024 * 1024);

            // ETags: a matching If-None-Match is a 304, and counted.
            let before = index.hits("/simple/larder-demo-lib/");
            let response = client
                .get(&page)
                .header("accept", accept)
                .send()
                .await
                .unwrap();
            let etag = response.headers()["etag"].clone();
            let response = client
                .get(&page)
                .header("accept", accept)
                .header("if-none-match", etag.clone())
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 304);
            assert_eq!(response.headers()["etag"], etag);
            assert_eq!(index.hits("/simple/larder-demo-lib/"), before + 2);
        }

        // Unknown projects are 404; non-normalized names redirect.
        let response = client
            .get(format!("{}no-such-project/", index.simple_url()))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404);
        let response = client
            .get(format!("{}Larder_Demo.Lib/", index.simple_url()))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.url().path(), "/simple/larder-demo-lib/");
        let response = client
            .get(index.file_url("nothing.whl"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404);
        assert!(index.total_hits() > 20);
    }
}

#[tokio::test]
async fn fixture_index_faults_stop_and_restart() {
    let client = reqwest::Client::new();
    let mut index = FixtureIndex::start(Flavor::Both).await;
    let lib = "larder_demo_lib-1.1-py3-none-any.whl";
    let big = "larder_demo_big-1.0-py3-none-any.whl";
    let util = "larder_demo_util-0.5-py3-none-any.whl";

    // corrupt: same length, other bytes.
    index.corrupt(lib);
    let bytes = get_bytes(&client, &index.file_url(lib)).await;
    assert_eq!(bytes.len(), index.file_bytes(lib).len());
    assert_ne!(sha256_hex(&bytes), index.sha256(lib));

    // truncate: full Content-Length, then a cut connection.
    index.truncate(big);
    let response = client.get(index.file_url(big)).send().await.unwrap();
    assert_eq!(
        response.content_length(),
        Some(index.file_bytes(big).len() as u64)
    );
    assert!(
        response.bytes().await.is_err(),
        "a truncated body must fail"
    );

    index.uncorrupt(lib);
    let bytes = get_bytes(&client, &index.file_url(lib)).await;
    assert_eq!(sha256_hex(&bytes), index.sha256(lib));
    index.untruncate(big);
    let bytes = get_bytes(&client, &index.file_url(big)).await;
    assert_eq!(sha256_hex(&bytes), index.sha256(big));

    // throttle: the right bytes, slowly.
    index.throttle(util, 500, Duration::from_millis(100));
    let started = std::time::Instant::now();
    let bytes = get_bytes(&client, &index.file_url(util)).await;
    assert_eq!(bytes, index.file_bytes(util));
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert_eq!(index.hits(&format!("/packages/{util}")), 1);
    index.unthrottle(util);
    let bytes = get_bytes(&client, &index.file_url(util)).await;
    assert_eq!(bytes, index.file_bytes(util));

    // drop_metadata: not announced, not served.
    let lib_page = format!("{}larder-demo-lib/", index.simple_url());
    let (_, _, links) = fetch_links(&client, &lib_page, JSON_TYPE).await;
    assert!(links.iter().all(|l| l.core_metadata.is_some()));
    index.drop_metadata();
    for accept in [JSON_TYPE, HTML_TYPE] {
        let (_, body, links) = fetch_links(&client, &lib_page, accept).await;
        assert!(links.iter().all(|l| l.core_metadata.is_none()), "{body}");
        assert!(!body.contains("metadata"), "{body}");
    }
    let response = client
        .get(format!("{}.metadata", index.file_url(lib)))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);

    // add_file: listed with its hash, served.
    let blob = Bytes::from(vec![7u8; 1024 * 1024]);
    index.add_file(
        "Larder_Demo_Blob",
        "larder_demo_blob-2.0.tar.gz",
        blob.clone(),
    );
    let page = format!("{}larder-demo-blob/", index.simple_url());
    let (_, body, links) = fetch_links(&client, &page, JSON_TYPE).await;
    assert_eq!(links.len(), 1);
    assert_eq!(links[0].sha256, sha256_hex(&blob));
    let value: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(value["versions"], json!(["2.0"]));
    assert_eq!(value["files"][0]["size"], 1024 * 1024);
    assert_eq!(get_bytes(&client, &links[0].url).await, blob);

    // fail_pages / stall_pages.
    index.fail_pages(Some(503));
    let response = client.get(&page).send().await.unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(get_bytes(&client, &links[0].url).await, blob);
    index.fail_pages(None);
    index.stall_pages(true);
    let error = client
        .get(&page)
        .timeout(Duration::from_millis(300))
        .send()
        .await
        .unwrap_err();
    assert!(error.is_timeout(), "{error:?}");
    index.stall_pages(false);
    let response = client.get(&page).send().await.unwrap();
    assert_eq!(response.status(), 200);

    // stop: refused, even over a pooled keep-alive connection; restart: same
    // port, same state.
    let hits = index.hits(&format!("/packages/{util}"));
    let port = index.addr.port();
    index.stop().await;
    let error = client.get(index.file_url(util)).send().await.unwrap_err();
    assert!(error.is_connect() || error.is_request(), "{error:?}");
    let error = reqwest::Client::new()
        .get(index.simple_url())
        .send()
        .await
        .unwrap_err();
    assert!(error.is_connect(), "{error:?}");
    index.restart().await;
    assert_eq!(index.addr.port(), port);
    let bytes = get_bytes(&client, &index.file_url(util)).await;
    assert_eq!(bytes, index.file_bytes(util));
    assert_eq!(index.hits(&format!("/packages/{util}")), hits + 1);
    let (_, _, links) = fetch_links(&client, &page, JSON_TYPE).await;
    assert_eq!(links.len(), 1);
}
