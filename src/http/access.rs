//! Credentials on requests: reading `Authorization: Basic`, and the guard
//! that makes reads require them when the config says so. Uploads check
//! their own credentials (in `App::upload`), before reading the body.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::ApiError;
use crate::app::App;
use crate::auth::{self, Credentials, Scope};

/// Paths that answer without credentials even when reads need them:
/// health checks and metrics scrapers do not log in.
const OPEN_PATHS: [&str; 2] = ["/healthz", "/metrics"];

/// The request's basic credentials; `None` when there are none or they are
/// unreadable (both then fail wherever credentials are needed).
pub(super) fn credentials(headers: &HeaderMap) -> Option<Credentials> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(auth::basic::parse)
}

/// Middleware: `GET` and `HEAD` requests need read access (a no-op while
/// anonymous reads are allowed).
pub(super) async fn guard_reads(State(app): State<App>, request: Request, next: Next) -> Response {
    let is_read = matches!(*request.method(), Method::GET | Method::HEAD);
    if is_read && !app.config().auth.anonymous_read && !OPEN_PATHS.contains(&request.uri().path()) {
        let credentials = credentials(request.headers());
        if let Err(e) = app.authorize(credentials.as_ref(), Scope::Read).await {
            return ApiError(e).into_response();
        }
    }
    next.run(request).await
}
