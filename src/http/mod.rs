//! The HTTP surface: routes, each next to its handler, merged into one
//! router over an [`App`]. Handlers extract and validate, call one `App`
//! method, and shape the response; they never touch the network, SQL or
//! the filesystem themselves.

mod access;
mod error;
mod files;
mod mirror;
mod observe;
mod ops;
mod pypicache;
pub mod range;
pub mod server;
mod simple;
mod upload;
mod warm;

use axum::Router;
use axum::extract::State;
use axum::middleware;
use axum::response::{IntoResponse, Response};

use crate::app::App;

pub use error::ApiError;

/// The whole router. Unknown routes are 404s.
pub fn router(app: App) -> Router {
    Router::new()
        .merge(simple::routes())
        .merge(files::routes())
        .merge(ops::routes())
        .merge(pypicache::routes())
        .merge(upload::routes())
        .merge(warm::routes())
        .merge(mirror::routes(&app.config().mirrors))
        .fallback(unmatched)
        .layer(middleware::from_fn_with_state(
            app.clone(),
            access::guard_reads,
        ))
        .layer(middleware::from_fn_with_state(
            app.clone(),
            observe::observe,
        ))
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
