//! `/files/<sha256>/<filename>`: package files and their `.metadata` files,
//! immutable, with `HEAD`, `Range` and `If-None-Match`.

use std::io::SeekFrom;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures::StreamExt;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio_util::io::ReaderStream;

use super::ApiError;
use super::range::{self, RangeRequest};
use crate::app::{App, FileBody, OpenedFile};
use crate::model::Sha256Hex;

pub(super) fn routes() -> Router<App> {
    Router::new().route("/files/{sha256}/{filename}", get(file))
}

/// Files never change under a digest, so clients may keep them for a year.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const READ_CHUNK: usize = 256 * 1024;

async fn file(
    State(app): State<App>,
    Path((sha256, filename)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let sha256 = Sha256Hex::parse(&sha256)?;
    let opened = app.open_file(&sha256, &filename).await?;
    let etag = format!("\"{}\"", opened.etag);
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|tag| tag.trim() == etag || tag.trim() == "*")
        })
    {
        return Ok(with_file_headers(
            StatusCode::NOT_MODIFIED.into_response(),
            &etag,
            &filename,
        ));
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
        RangeRequest::Full => body_response(&app, opened, None).await?,
        RangeRequest::Partial(range) => body_response(&app, opened, Some(range)).await?,
    };
    Ok(with_file_headers(response, &etag, &filename))
}

async fn body_response(
    app: &App,
    opened: OpenedFile,
    range: Option<range::ByteRange>,
) -> Result<Response, ApiError> {
    let (start, end) = range.map_or((0, opened.len), |r| (r.start, Some(r.end)));
    let body = match opened.body {
        FileBody::Stored(mut file) => {
            let len = end.unwrap_or_default() - start;
            if start > 0 {
                file.seek(SeekFrom::Start(start))
                    .await
                    .map_err(|e| crate::Error::storage("cannot seek in a stored file", e))?;
            }
            let metrics = app.clone();
            let stream =
                ReaderStream::with_capacity(file.take(len), READ_CHUNK).inspect(move |chunk| {
                    if let Ok(bytes) = chunk {
                        metrics.metrics().bytes_from_cache(bytes.len());
                    }
                });
            Body::from_stream(stream)
        }
        FileBody::Following(spool) => Body::from_stream(spool.follow(start, end)),
    };
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    if let Some(end) = end {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(end - start));
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

fn with_file_headers(mut response: Response, etag: &str, filename: &str) -> Response {
    let headers = response.headers_mut();
    let content_type = if filename.ends_with(".metadata") {
        "text/plain; charset=utf-8"
    } else {
        "application/octet-stream"
    };
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::ETAG, header_value(etag));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(IMMUTABLE));
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    response
}

fn header_value(value: &str) -> HeaderValue {
    HeaderValue::from_str(value).unwrap_or_else(|_| HeaderValue::from_static("invalid"))
}
