//! Uploads: `POST /` and `POST /legacy/` (the legacy upload API twine and
//! `uv publish` speak) and `POST /uploadpackage/` (pypicache's).
//!
//! The handler adapts the `multipart/form-data` body to
//! [`crate::app::UploadParts`] and calls `App::upload`, which checks the
//! credentials before reading anything and streams the file to disk. When
//! the upload is refused before the body was read, the rest is drained (up
//! to a bound) so the client gets to read the answer instead of a reset
//! connection.

use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use async_trait::async_trait;
use axum::Router;
use axum::body::{Body, BodyDataStream};
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use bytes::Bytes;
use futures::{Stream, StreamExt};

use super::ApiError;
use super::access::credentials;
use crate::app::{App, PartHeader, UploadApi, UploadParts, Uploaded};
use crate::error::{Error, ErrorKind, Result};

/// Room for the form's text fields (descriptions can be long) on top of
/// the file itself.
const FORM_ALLOWANCE: u64 = 16 << 20;
/// How much of a refused upload's body is read and thrown away at most.
const DRAIN_LIMIT: u64 = 64 << 20;
const DRAIN_TIME: Duration = Duration::from_secs(10);

pub(super) fn routes() -> Router<App> {
    Router::new()
        .route("/", post(legacy))
        .route("/legacy/", post(legacy))
        .route("/legacy", post(legacy))
        .route("/uploadpackage/", post(pypicache))
        .route("/uploadpackage", post(pypicache))
}

async fn legacy(
    State(app): State<App>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let uploaded = upload(&app, &headers, body, UploadApi::Legacy).await?;
    Ok(format!(
        "OK: uploaded `{}` to `{}` (sha256 {})\n",
        uploaded.filename, uploaded.project, uploaded.sha256
    )
    .into_response())
}

async fn pypicache(
    State(app): State<App>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let uploaded = upload(&app, &headers, body, UploadApi::Pypicache).await?;
    Ok(pypicache_answer(&uploaded))
}

/// What pypicache's upload endpoints answer: the upload as JSON.
pub(super) fn pypicache_answer(uploaded: &Uploaded) -> Response {
    let json = serde_json::json!({
        "uploaded": "ok",
        "project": uploaded.project,
        "filename": uploaded.filename,
        "sha256": uploaded.sha256.as_str(),
        "size": uploaded.size,
    });
    (
        [(header::CONTENT_TYPE, "application/json")],
        format!("{json}\n"),
    )
        .into_response()
}

async fn upload(
    app: &App,
    headers: &HeaderMap,
    body: Body,
    api: UploadApi,
) -> Result<Uploaded, ApiError> {
    let body = SharedBody::new(body);
    let result = upload_body(app, headers, body.clone(), api).await;
    if result.is_err() {
        body.drain().await;
    }
    Ok(result?)
}

/// An upload whose body is the file itself (pypicache's `PUT
/// /packages/source/…/<filename>`), checked like `POST /uploadpackage/`.
pub(super) async fn upload_raw(
    app: &App,
    headers: &HeaderMap,
    body: Body,
    filename: &str,
) -> Result<Uploaded, ApiError> {
    let body = SharedBody::new(body);
    let mut parts = RawFile {
        field: if filename.ends_with(".whl") {
            "wheel"
        } else {
            "sdist"
        },
        filename: filename.to_owned(),
        body: body.clone(),
        started: false,
    };
    let result = app
        .upload(
            credentials(headers).as_ref(),
            UploadApi::Pypicache,
            &mut parts,
        )
        .await;
    if result.is_err() {
        body.drain().await;
    }
    Ok(result?)
}

/// [`UploadParts`] over a body that is one file: a single part.
struct RawFile {
    field: &'static str,
    filename: String,
    body: SharedBody,
    started: bool,
}

#[async_trait]
impl UploadParts for RawFile {
    async fn next_part(&mut self) -> Result<Option<PartHeader>> {
        if std::mem::replace(&mut self.started, true) {
            return Ok(None);
        }
        Ok(Some(PartHeader {
            name: self.field.to_owned(),
            filename: Some(self.filename.clone()),
        }))
    }

    async fn chunk(&mut self) -> Result<Option<Bytes>> {
        match self.body.next().await {
            Some(Ok(bytes)) => Ok(Some(bytes)),
            Some(Err(e)) => Err(Error::invalid(format!("the upload was cut off: {e}"))),
            None => Ok(None),
        }
    }
}

async fn upload_body(
    app: &App,
    headers: &HeaderMap,
    body: SharedBody,
    api: UploadApi,
) -> Result<Uploaded> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let boundary = multer::parse_boundary(content_type)
        .map_err(|_| Error::invalid("an upload must be `multipart/form-data` (with a boundary)"))?;
    let limit = app
        .config()
        .private
        .max_upload_size
        .saturating_add(FORM_ALLOWANCE);
    let constraints = multer::Constraints::new().size_limit(
        multer::SizeLimit::new()
            .whole_stream(limit)
            .per_field(limit),
    );
    let mut parts = MultipartParts {
        multipart: multer::Multipart::with_constraints(body, boundary, constraints),
        current: None,
    };
    app.upload(credentials(headers).as_ref(), api, &mut parts)
        .await
}

/// [`UploadParts`] over a `multer` parser.
struct MultipartParts {
    multipart: multer::Multipart<'static>,
    current: Option<multer::Field<'static>>,
}

#[async_trait]
impl UploadParts for MultipartParts {
    async fn next_part(&mut self) -> Result<Option<PartHeader>> {
        // The parser moves on only once the previous field is gone.
        self.current = None;
        let Some(field) = self.multipart.next_field().await.map_err(multipart_error)? else {
            return Ok(None);
        };
        let header = PartHeader {
            name: field.name().unwrap_or_default().to_owned(),
            filename: field.file_name().map(str::to_owned),
        };
        self.current = Some(field);
        Ok(Some(header))
    }

    async fn chunk(&mut self) -> Result<Option<Bytes>> {
        match &mut self.current {
            Some(field) => field.chunk().await.map_err(multipart_error),
            None => Ok(None),
        }
    }
}

fn multipart_error(e: multer::Error) -> Error {
    match e {
        multer::Error::StreamSizeExceeded { limit }
        | multer::Error::FieldSizeExceeded { limit, .. } => Error::new(
            ErrorKind::TooLarge,
            format!("the upload is larger than the limit of {limit} bytes"),
        ),
        multer::Error::StreamReadFailed(e) => {
            Error::invalid(format!("the upload was cut off: {e}"))
        }
        e => Error::invalid(format!("the multipart body is invalid: {e}")),
    }
}

/// The request body, shared between the multipart parser and [`Self::drain`].
#[derive(Clone)]
struct SharedBody(Arc<Mutex<BodyDataStream>>);

impl SharedBody {
    fn new(body: Body) -> Self {
        Self(Arc::new(Mutex::new(body.into_data_stream())))
    }

    /// Reads and discards what is left, within bounds.
    async fn drain(mut self) {
        let mut read = 0u64;
        let _ = tokio::time::timeout(DRAIN_TIME, async {
            while let Some(Ok(chunk)) = self.next().await {
                read += chunk.len() as u64;
                if read > DRAIN_LIMIT {
                    break;
                }
            }
        })
        .await;
    }
}

impl Stream for SharedBody {
    type Item = std::result::Result<Bytes, axum::Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .poll_next_unpin(cx)
    }
}
