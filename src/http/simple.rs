//! The Simple API: `/simple/` and `/local/simple/`, HTML or JSON by `Accept`
//! (PEP 691) with a `?format=` override, non-normalized names redirected.

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

pub(super) fn routes() -> Router<App> {
    Router::new()
        .route("/simple/", get(project_list))
        .route("/simple", get(|| async { moved("/simple/") }))
        .route("/simple/{project}/", get(project_page))
        .route("/simple/{project}", get(project_page_without_slash))
        .route("/local/simple/", get(local_project_list))
        .route("/local/simple", get(|| async { moved("/local/simple/") }))
        .route("/local/simple/{project}/", get(local_project_page))
        .route(
            "/local/simple/{project}",
            get(local_project_page_without_slash),
        )
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
    State(app): State<App>,
    headers: HeaderMap,
    Query(query): Query<FormatQuery>,
) -> Result<Response, ApiError> {
    let negotiated = negotiated(&headers, &query)?;
    let view = app.project_list(negotiated.format).await?;
    Ok(page_response(negotiated, view.body, None))
}

async fn project_page(
    State(app): State<App>,
    Path(raw): Path<String>,
    headers: HeaderMap,
    Query(query): Query<FormatQuery>,
) -> Result<Response, ApiError> {
    let Some(project) = normalized(&raw) else {
        return Ok(to_normalized(&raw, "/simple/", &query));
    };
    let negotiated = negotiated(&headers, &query)?;
    let view = app.project_page(&project, negotiated.format).await?;
    Ok(page_response(negotiated, view.body, view.stale_age))
}

async fn project_page_without_slash(
    Path(raw): Path<String>,
    Query(query): Query<FormatQuery>,
) -> Response {
    to_normalized(&raw, "/simple/", &query)
}

async fn local_project_list(
    State(app): State<App>,
    headers: HeaderMap,
    Query(query): Query<FormatQuery>,
) -> Result<Response, ApiError> {
    let negotiated = negotiated(&headers, &query)?;
    let view = app.local_project_list(negotiated.format).await?;
    Ok(page_response(negotiated, view.body, None))
}

async fn local_project_page(
    State(app): State<App>,
    Path(raw): Path<String>,
    headers: HeaderMap,
    Query(query): Query<FormatQuery>,
) -> Result<Response, ApiError> {
    let Some(project) = normalized(&raw) else {
        return Ok(to_normalized(&raw, "/local/simple/", &query));
    };
    let negotiated = negotiated(&headers, &query)?;
    let view = app.local_project_page(&project, negotiated.format).await?;
    Ok(page_response(negotiated, view.body, None))
}

async fn local_project_page_without_slash(
    Path(raw): Path<String>,
    Query(query): Query<FormatQuery>,
) -> Response {
    to_normalized(&raw, "/local/simple/", &query)
}
