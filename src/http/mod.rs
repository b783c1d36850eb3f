//! The HTTP surface: routes, each next to its handler, merged into one
//! router over an [`App`]. Handlers extract and validate, call one `App`
//! method, and shape the response; they never touch the network, SQL or
//! the filesystem themselves.

mod error;
mod files;
mod ops;
pub mod range;
mod simple;

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
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
        .fallback(error::unknown_route)
        .layer(middleware::from_fn_with_state(app.clone(), count_request))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(DefaultMakeSpan::new().level(Level::INFO))
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .with_state(app)
}

async fn count_request(State(app): State<App>, request: Request, next: Next) -> Response {
    app.metrics().request();
    next.run(request).await
}
