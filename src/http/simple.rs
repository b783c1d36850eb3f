//! The Simple API: `/simple/`, and the local view at `/local/simple/` and
//! `/local/` (pypicache's spelling), HTML or JSON by `Accept` (PEP 691) with
//! a `?format=` override, non-normalized names redirected.

use std::time::Duration;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use serde::Deserialize;

use super::ApiError;
use crate::app::App;
use crate::index::{Negotiated, negotiate};
use crate::model::ProjectName;

/// Where an index view is mounted: the same routes under each prefix.
#[derive(Debug, Clone, Copy)]
enum Mount {
    /// `/simple/`: uploads in front of the upstreams.
    Index,
    /// `/local/simple/`: only what is stored; never contacts an upstream.
    Local,
    /// `/local/`: the same, where pypicache served it.
    LocalShort,
}

impl Mount {
    fn prefix(self) -> &'static str {
        match self {
            Self::Index => "/simple/",
            Self::Local => "/local/simple/",
            Self::LocalShort => "/local/",
        }
    }

    /// How a page under this mount links `/files/`: one `../` per segment
    /// of the prefix, and one for the project's own.
    fn files_prefix(self) -> String {
        "../".repeat(self.prefix().matches('/').count())
    }
}

pub(super) fn routes() -> Router<App> {
    [Mount::Index, Mount::Local, Mount::LocalShort]
        .into_iter()
        .fold(Router::new(), |router, mount| {
            let prefix = mount.prefix();
            router
                .route(
                    prefix,
                    get(
                        move |State(app): State<App>,
                              headers: HeaderMap,
                              Query(query): Query<FormatQuery>| {
                            project_list(mount, app, headers, query)
                        },
                    ),
                )
                .route(
                    prefix.trim_end_matches('/'),
                    get(move || async move { moved(prefix) }),
                )
                .route(
                    &format!("{prefix}{{project}}/"),
                    get(
                        move |State(app): State<App>,
                              Path(raw): Path<String>,
                              headers: HeaderMap,
                              Query(query): Query<FormatQuery>| {
                            project_page(mount, app, raw, headers, query)
                        },
                    ),
                )
                .route(
                    &format!("{prefix}{{project}}"),
                    get(
                        move |Path(raw): Path<String>, Query(query): Query<FormatQuery>| async move {
                            to_normalized(&raw, prefix, &query)
                        },
                    ),
                )
        })
}

#[derive(Debug, Deserialize)]
struct FormatQuery {
    format: Option<String>,
}

fn negotiated(headers: &HeaderMap, query: &FormatQuery) -> Result<Negotiated, ApiError> {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    Ok(negotiate(accept, query.format.as_deref())?)
}

/// The project named by a `/simple/<raw>/` path when `raw` is valid and
/// already normalized; otherwise the caller answers with [`to_normalized`].
fn normalized(raw: &str) -> Option<ProjectName> {
    ProjectName::new(raw)
        .ok()
        .filter(|name| name.as_str() == raw)
}

/// The redirect to a project's normalized page (trailing slash included).
fn to_normalized(raw: &str, prefix: &str, query: &FormatQuery) -> Response {
    let name = match ProjectName::new(raw) {
        Ok(name) => name,
        Err(e) => return ApiError(e.into()).into_response(),
    };
    let mut target = format!("{prefix}{name}/");
    if let Some(format) = &query.format {
        target.push_str("?format=");
        target.push_str(&crate::model::percent::encode_query_value(format));
    }
    moved(&target)
}

/// `301 Moved Permanently`, the redirect every index client follows.
fn moved(target: &str) -> Response {
    (
        StatusCode::MOVED_PERMANENTLY,
        [(header::LOCATION, target.to_owned())],
    )
        .into_response()
}

fn page_response(negotiated: Negotiated, body: Bytes, stale_age: Option<Duration>) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(negotiated.content_type),
    );
    headers.insert(header::VARY, HeaderValue::from_static("Accept"));
    if let Some(age) = stale_age {
        headers.insert(header::AGE, HeaderValue::from(age.as_secs()));
    }
    response
}

async fn project_list(
    mount: Mount,
    app: App,
    headers: HeaderMap,
    query: FormatQuery,
) -> Result<Response, ApiError> {
    let negotiated = negotiated(&headers, &query)?;
    let view = match mount {
        Mount::Index => app.project_list(negotiated.format).await?,
        Mount::Local | Mount::LocalShort => app.local_project_list(negotiated.format).await?,
    };
    Ok(page_response(negotiated, view.body, None))
}

async fn project_page(
    mount: Mount,
    app: App,
    raw: String,
    headers: HeaderMap,
    query: FormatQuery,
) -> Result<Response, ApiError> {
    let Some(project) = normalized(&raw) else {
        return Ok(to_normalized(&raw, mount.prefix(), &query));
    };
    let negotiated = negotiated(&headers, &query)?;
    let view = match mount {
        Mount::Index => app.project_page(&project, negotiated.format).await?,
        Mount::Local | Mount::LocalShort => {
            app.local_project_page(&project, negotiated.format, &mount.files_prefix())
                .await?
        }
    };
    Ok(page_response(negotiated, view.body, view.stale_age))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_link_files_relative_to_their_depth() {
        for (mount, prefix) in [
            (Mount::Index, "../../"),
            (Mount::Local, "../../../"),
            (Mount::LocalShort, "../../"),
        ] {
            assert_eq!(mount.files_prefix(), prefix, "{mount:?}");
        }
    }
}
