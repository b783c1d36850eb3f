//! The HTTP surface: routes, each next to its handler, merged into one
//! router over an [`App`]. Handlers extract and validate, call one `App`
//! method, and shape the response; they never touch the network, SQL or
//! the filesystem themselves.

mod access;
mod error;
mod files;
mod mirror;
mod ops;
pub mod range;
mod simple;
mod upload;
mod warm;

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tower_http::trace::{DefaultMakeSpan, DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::app::App;

pub use error::ApiError;

/// The whole router. Unknown routes are 404s.
pub fn router(app: App) -> Router {
    Router::new()
        .merge(simple::routes())
        .merge(files::routes())
        .merge(ops::routes())
        .merge(upload::routes())
        .merge(warm::routes())
        .merge(mirror::routes(&app.config().mirrors))
        .fallback(unmatched)
        .layer(middleware::from_fn_with_state(
            app.clone(),
            access::guard_reads,
        ))
        .layer(middleware::from_fn_with_state(app.clone(), count_request))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(DefaultMakeSpan::new().level(Level::INFO))
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .with_state(app)
}

/// Paths no route matched: the catch-all mirror's, if one is configured.
async fn unmatched(
    State(app): State<App>,
    uri: axum::http::Uri,
    headers: axum::http::HeaderMap,
) -> Response {
    match mirror::catch_all(&app.config().mirrors) {
        Some(name) => match mirror::fallback(&app, &name, &uri, &headers).await {
            Ok(response) => response,
            Err(e) => e.into_response(),
        },
        None => error::unknown_route(uri).await.into_response(),
    }
}

async fn count_request(State(app): State<App>, request: Request, next: Next) -> Response {
    app.metrics().request();
    next.run(request).await
}
