//! The one place errors become status codes. 5xx bodies are generic; the
//! detail goes to the log.

use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use tracing::{error, warn};

use crate::error::{Error, ErrorKind};
use crate::index::NotAcceptable;

/// An error on its way to becoming a response.
#[derive(Debug)]
pub struct ApiError(pub Error);

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        Self(e)
    }
}

impl From<NotAcceptable> for ApiError {
    fn from(e: NotAcceptable) -> Self {
        Self(Error::new(ErrorKind::NotAcceptable, e.to_string()))
    }
}

fn status_of(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::NotFound | ErrorKind::Offline => StatusCode::NOT_FOUND,
        ErrorKind::InvalidInput => StatusCode::BAD_REQUEST,
        ErrorKind::Unauthorized => StatusCode::UNAUTHORIZED,
        ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorKind::NotAcceptable => StatusCode::NOT_ACCEPTABLE,
        ErrorKind::ChecksumMismatch | ErrorKind::Upstream => StatusCode::BAD_GATEWAY,
        ErrorKind::Config => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::Storage => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = status_of(self.0.kind());
        let message = if status.is_server_error() {
            error!(status = status.as_u16(), "{}", self.0);
            match self.0.kind() {
                ErrorKind::Upstream | ErrorKind::ChecksumMismatch => {
                    "the upstream index failed; see larder's log"
                }
                ErrorKind::Config => {
                    "larder is not configured for this (no upstream?); see larder's log"
                }
                _ => "internal error; see larder's log",
            }
            .to_owned()
        } else {
            warn!(status = status.as_u16(), "{}", self.0);
            self.0.to_string()
        };
        (
            status,
            [("content-type", "text/plain; charset=utf-8")],
            format!("{message}\n"),
        )
            .into_response()
    }
}

pub(super) async fn unknown_route(uri: Uri) -> ApiError {
    ApiError(Error::not_found(format!("no route for `{}`", uri.path())))
}
