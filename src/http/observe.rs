//! Every request counted in the metrics and logged in one line at INFO:
//! method, URI, status and the time to the response head.
//!
//! One event and no span per request: a span per request (tower-http's
//! trace layer) cost about a tenth of a small page's serving time.

use std::time::Instant;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use tracing::{Level, info};

use crate::app::App;

pub(super) async fn observe(State(app): State<App>, request: Request, next: Next) -> Response {
    app.metrics().request();
    if !tracing::enabled!(target: "larder::request", Level::INFO) {
        return next.run(request).await;
    }
    let started = Instant::now();
    let method = request.method().clone();
    let uri = request.uri().clone();
    let response = next.run(request).await;
    info!(
        target: "larder::request",
        %method,
        %uri,
        status = response.status().as_u16(),
        micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
        "request"
    );
    response
}
