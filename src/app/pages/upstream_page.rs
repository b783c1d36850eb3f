//! Asking an upstream for a page, the project list or a project's page
//! alike: a GET with the Simple API `Accept`, conditional on the validators
//! of the copy larder holds, and the answer parsed by its content type.

use std::time::Instant;

use bytes::Bytes;
use reqwest::StatusCode;
use reqwest::header::{
    CONTENT_TYPE, ETAG, HeaderMap, HeaderValue, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED,
};
use tracing::debug;
use url::Url;

use crate::error::Result;
use crate::index;
use crate::model::{ProjectName, ProjectPage};
use crate::upstream::{Client, UpstreamError, is_missing, redact, transport_error};

/// The validators of a held copy, sent so an unchanged page costs a 304.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Validators<'a> {
    pub etag: Option<&'a str>,
    pub last_modified: Option<&'a str>,
}

/// What the upstream said.
pub(super) enum Answer<B = Body> {
    /// The held copy is still current (only with validators).
    NotModified,
    /// 404 or 410: the upstream does not have it.
    Missing,
    Body(B),
}

/// A page's bytes, with what is needed to parse and revalidate it.
pub(super) struct Body {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    is_json: bool,
    /// The final URL after redirects: relative links resolve against it.
    base: Url,
    bytes: Bytes,
}

/// A page's answer before its body is read (the project list streams it).
pub(super) struct Head {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub is_json: bool,
    pub response: reqwest::Response,
}

/// GETs `url` with `headers` (the upstream's `Accept` and credentials) and
/// `validators`, and reads the body. A status other than success, 304 and
/// 404/410 is an error.
pub(super) async fn get(
    client: &Client,
    url: &Url,
    headers: HeaderMap,
    validators: Option<Validators<'_>>,
    retries: u32,
) -> Result<Answer> {
    let head = match request(client, url, headers, validators, retries).await? {
        Answer::NotModified => return Ok(Answer::NotModified),
        Answer::Missing => return Ok(Answer::Missing),
        Answer::Body(head) => head,
    };
    let base = head.response.url().clone();
    let bytes = head
        .response
        .bytes()
        .await
        .map_err(|e| transport_error(url, &e))?;
    Ok(Answer::Body(Body {
        etag: head.etag,
        last_modified: head.last_modified,
        is_json: head.is_json,
        base,
        bytes,
    }))
}

/// [`get`] up to the answer's headers.
pub(super) async fn request(
    client: &Client,
    url: &Url,
    mut headers: HeaderMap,
    validators: Option<Validators<'_>>,
    retries: u32,
) -> Result<Answer<Head>> {
    let validators = validators.unwrap_or_default();
    for (name, value) in [
        (IF_NONE_MATCH, validators.etag),
        (IF_MODIFIED_SINCE, validators.last_modified),
    ] {
        if let Some(value) = value.and_then(|v| HeaderValue::from_str(v).ok()) {
            headers.insert(name, value);
        }
    }
    let conditional =
        headers.contains_key(IF_NONE_MATCH) || headers.contains_key(IF_MODIFIED_SINCE);
    let started = Instant::now();
    let response = client.get_with_retries(url, &headers, retries).await?;
    let status = response.status();
    debug!(url = %redact(url), %status, elapsed = ?started.elapsed(), "page answered");
    if status == StatusCode::NOT_MODIFIED && conditional {
        return Ok(Answer::NotModified);
    }
    if is_missing(status) {
        return Ok(Answer::Missing);
    }
    if !status.is_success() {
        return Err(UpstreamError::status(url, status).into());
    }
    let header = |name| {
        response
            .headers()
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .map(str::to_owned)
    };
    Ok(Answer::Body(Head {
        etag: header(ETAG),
        last_modified: header(LAST_MODIFIED),
        is_json: header(CONTENT_TYPE).is_some_and(|v| v.contains("json")),
        response,
    }))
}

impl Body {
    pub(super) fn project_page(&self, project: &ProjectName) -> Result<ProjectPage> {
        Ok(if self.is_json {
            index::json::parse_project(&self.bytes, &self.base)?
        } else {
            index::html::parse_project(&self.text(), &self.base, project.as_str())?
        })
    }

    fn text(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.bytes)
    }
}
