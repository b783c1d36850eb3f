//! `/files/<sha256>/<filename>`: package files and their `.metadata` files,
//! and the response shape every stored or in-flight file shares: `HEAD`,
//! `Range`, `ETag` and `If-None-Match`, `Cache-Control`.

use std::os::unix::fs::FileExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::{Bytes, BytesMut};
use futures::StreamExt;

use super::ApiError;
use super::range::{self, RangeRequest};
use crate::app::{App, FileBody, OpenedFile};
use crate::model::Sha256Hex;
use crate::zero_copy;

pub(super) fn routes() -> Router<App> {
    Router::new().route("/files/{sha256}/{filename}", get(file))
}

/// Files that never change under their name may be kept for a year.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Files whose names are reused: keep, but ask again (with the ETag).
const REVALIDATE: &str = "no-cache";
/// Big enough that thread hops do not dominate, small enough that many slow
/// clients do not add up to much memory.
const READ_CHUNK: usize = 256 * 1024;

async fn file(
    State(app): State<App>,
    Path((sha256, filename)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let sha256 = Sha256Hex::parse(&sha256)?;
    let opened = app.open_file(&sha256, &filename).await?;
    let content_type = if filename.ends_with(".metadata") {
        "text/plain; charset=utf-8"
    } else {
        "application/octet-stream"
    };
    serve(&app, opened, &headers, content_type).await
}

/// The response for an opened file, honouring `If-None-Match` and `Range`.
pub(super) async fn serve(
    app: &App,
    opened: OpenedFile,
    headers: &HeaderMap,
    content_type: &'static str,
) -> Result<Response, ApiError> {
    let etag = opened.etag.as_ref().map(|tag| format!("\"{tag}\""));
    let cache_control = if opened.immutable {
        IMMUTABLE
    } else {
        REVALIDATE
    };
    let finish = |mut response: Response| {
        let out = response.headers_mut();
        out.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        out.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static(cache_control),
        );
        out.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
        if let Some(etag) = &etag {
            out.insert(header::ETAG, header_value(etag));
        }
        response
    };
    if let Some(etag) = &etag
        && headers
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.split(',')
                    .any(|tag| tag.trim() == etag || tag.trim() == "*")
            })
    {
        return Ok(finish(StatusCode::NOT_MODIFIED.into_response()));
    }
    let range_header = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    let requested = opened
        .len
        .map_or(RangeRequest::Full, |len| range::parse(range_header, len));
    let response = match requested {
        RangeRequest::Unsatisfiable => {
            let mut response = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
            if let Some(len) = opened.len {
                response.headers_mut().insert(
                    header::CONTENT_RANGE,
                    header_value(&format!("bytes */{len}")),
                );
            }
            response
        }
        RangeRequest::Full => body_response(app, opened, None).await?,
        RangeRequest::Partial(range) => body_response(app, opened, Some(range)).await?,
    };
    Ok(finish(response))
}

async fn body_response(
    app: &App,
    opened: OpenedFile,
    range: Option<range::ByteRange>,
) -> Result<Response, ApiError> {
    let (start, end) = range.map_or((0, opened.len), |r| (r.start, Some(r.end)));
    let body = match opened.body {
        FileBody::Stored(file) => {
            let file = Arc::new(file.into_std().await);
            let end = end.unwrap_or_default();
            match zero_copy::map(file.clone(), start, end) {
                Ok(bytes) => {
                    app.metrics().bytes_from_cache(bytes.len());
                    Body::from(bytes)
                }
                // A filesystem that cannot map files: read and copy them.
                Err(e) => {
                    tracing::debug!("cannot map a stored file, reading it instead: {e}");
                    let app = app.clone();
                    Body::from_stream(read_range(file, start, end).inspect(move |chunk| {
                        if let Ok(bytes) = chunk {
                            app.metrics().bytes_from_cache(bytes.len());
                        }
                    }))
                }
            }
        }
        FileBody::Following(spool) => Body::from_stream(spool.follow(start, end)),
    };
    let mut response = Response::new(body);
    if let Some(end) = end {
        response
            .headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(end - start));
    }
    if let (Some(range), Some(len)) = (range, opened.len) {
        *response.status_mut() = StatusCode::PARTIAL_CONTENT;
        response.headers_mut().insert(
            header::CONTENT_RANGE,
            header_value(&format!("bytes {}-{}/{len}", range.start, range.end - 1)),
        );
    }
    Ok(response)
}

/// Stored-file responses being sent right now, across all connections.
static ACTIVE_READS: AtomicUsize = AtomicUsize::new(0);

/// What all stored-file responses together may hold in read buffers: with
/// few clients each gets [`READ_CHUNK`], with many each gets a share, so
/// memory stays flat however many (slow) clients there are.
const READ_BUDGET: usize = 8 * 1024 * 1024;
const MIN_READ_CHUNK: usize = 32 * 1024;

/// Counts one response in [`ACTIVE_READS`] while it lives.
struct ActiveRead;

impl ActiveRead {
    fn start() -> Self {
        ACTIVE_READS.fetch_add(1, Ordering::Relaxed);
        Self
    }

    /// This response's share of the read budget.
    fn chunk(&self) -> usize {
        let active = ACTIVE_READS.load(Ordering::Relaxed).max(1);
        (READ_BUDGET / active).clamp(MIN_READ_CHUNK, READ_CHUNK)
    }
}

impl Drop for ActiveRead {
    fn drop(&mut self) {
        ACTIVE_READS.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The bytes `start..end` of a stored file where it cannot be mapped, read
/// with positioned reads on the blocking pool: one thread hop per chunk, and
/// memory per response bounded by its share of [`READ_BUDGET`] whatever the
/// file's size.
fn read_range(
    file: Arc<std::fs::File>,
    start: u64,
    end: u64,
) -> impl futures::Stream<Item = std::io::Result<Bytes>> + Send {
    let active = Arc::new(ActiveRead::start());
    futures::stream::try_unfold(start, move |pos| {
        let file = file.clone();
        let active = active.clone();
        async move {
            if pos >= end {
                return Ok(None);
            }
            let chunk = active.chunk();
            let want = usize::try_from(end - pos).unwrap_or(chunk).min(chunk);
            // Allocated here, on a runtime thread, where hyper will also free
            // it: buffers allocated on pool threads and freed elsewhere
            // scatter over glibc's per-thread arenas and inflate memory.
            let mut buf = BytesMut::zeroed(want);
            let chunk = tokio::task::spawn_blocking(move || {
                file.read_exact_at(&mut buf, pos).map(|()| buf.freeze())
            })
            .await
            .map_err(std::io::Error::other)??;
            Ok(Some((chunk, pos + want as u64)))
        }
    })
}

fn header_value(value: &str) -> HeaderValue {
    HeaderValue::from_str(value).unwrap_or_else(|_| HeaderValue::from_static("invalid"))
}
