//! Generic mirrors: `/mirror/<name>/<path>`, each mirror's mount prefix, and
//! the catch-all mirror (mount `/`, the `--source` short form) for every path
//! larder does not answer itself.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use axum::routing::get;

use super::{ApiError, files};
use crate::app::App;
use crate::config::MirrorConfig;
use crate::error::Error;

const CONTENT_TYPE: &str = "application/octet-stream";

pub(super) fn routes(mirrors: &[MirrorConfig]) -> Router<App> {
    let mut router = Router::new().route("/mirror/{name}/{*path}", get(by_name));
    for mirror in mirrors {
        if let Some(mount) = mirror.mount.as_deref().filter(|m| *m != "/") {
            let name = mirror.name.clone();
            let prefix = format!("{mount}/");
            router = router.route(
                &format!("{mount}/{{*path}}"),
                get(
                    move |State(app): State<App>, uri: Uri, headers: HeaderMap| async move {
                        let path = uri
                            .path()
                            .strip_prefix(&prefix)
                            .unwrap_or_default()
                            .to_owned();
                        serve(&app, &name, &path, uri.query(), &headers).await
                    },
                ),
            );
        }
    }
    router
}

/// The catch-all mirror's name, if one is configured.
pub(super) fn catch_all(mirrors: &[MirrorConfig]) -> Option<String> {
    mirrors
        .iter()
        .find(|m| m.mount.as_deref() == Some("/"))
        .map(|m| m.name.clone())
}

async fn by_name(
    State(app): State<App>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    // The raw path, not axum's decoded capture: encoded separators must be
    // seen (and refused), not silently turned into `/`.
    let rest = uri.path().strip_prefix("/mirror/").unwrap_or_default();
    let Some((name, path)) = rest.split_once('/') else {
        return Err(ApiError(Error::not_found("no mirror path given")));
    };
    serve(&app, name, path, uri.query(), &headers).await
}

/// Serves every path no route matched from the catch-all mirror.
pub(super) async fn fallback(
    app: &App,
    name: &str,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    serve(app, name, uri.path(), uri.query(), headers).await
}

async fn serve(
    app: &App,
    name: &str,
    path: &str,
    query: Option<&str>,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let opened = app.open_mirror_file(name, path, query).await?;
    files::serve(app, opened, headers, CONTENT_TYPE).await
}
