//! `POST /requirements.txt` (pypicache's API): warm the cache from an
//! uploaded requirements file and answer with the report as JSON.
//!
//! The form's `requirements` field holds the file (repeatable); its part
//! filename decides how it is read (`uv.lock`, `pylock.toml`, else
//! requirements syntax), and `-r` includes are refused since there is
//! nothing to resolve them against. Optional fields `python`, `platform`
//! (repeatable) and `deps` (`true`) mean what the `larder warm` flags do.
//!
//! Warming only makes larder fetch what any reader could make it fetch one
//! file at a time, so it follows the read policy (anonymous while reads are),
//! checked before the body is read; `[auth] warm-scope = "upload"` reserves
//! it for uploaders. Every answer is JSON, errors included, so pypicache's
//! `curl … | …` pipelines can read it.

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;

use super::ApiError;
use super::access::credentials;
use crate::app::{App, NoteOutcome, WarmOptions};
use crate::error::{Error, Result};
use crate::requirements::Targets;
use crate::requirements::{self, NoteKind, Parsed, Source};

/// Requirements and lock files are text; this is plenty.
const MAX_FORM: u64 = 8 << 20;

pub(super) fn routes() -> Router<App> {
    Router::new().route("/requirements.txt", post(warm))
}

async fn warm(State(app): State<App>, headers: HeaderMap, body: Body) -> Response {
    match warm_report(&app, &headers, body).await {
        Ok((status, json)) => json_response((status, ()).into_response(), &json),
        Err(e) => {
            let message = e.to_string();
            // The status, headers and logging of any error; the body in JSON.
            let response = ApiError(e).into_response();
            let message = if response.status().is_server_error() {
                "internal error; see larder's log".to_owned()
            } else {
                message
            };
            let json = serde_json::json!({ "ok": false, "error": message });
            json_response(response, &json)
        }
    }
}

/// `response` with `json` as its body.
fn json_response(response: Response, json: &serde_json::Value) -> Response {
    let (mut parts, _) = response.into_parts();
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, Body::from(format!("{json}\n")))
}

async fn warm_report(
    app: &App,
    headers: &HeaderMap,
    body: Body,
) -> Result<(StatusCode, serde_json::Value)> {
    let scope = app.config().auth.warm_scope;
    app.authorize(credentials(headers).as_ref(), scope).await?;
    let form = read_form(headers, body).await?;
    // A file with malformed lines is refused whole, naming them: warming
    // the rest could hide the typo.
    let invalid: Vec<NoteOutcome> = form
        .parsed
        .notes
        .iter()
        .filter(|n| n.kind == NoteKind::Invalid)
        .map(NoteOutcome::from)
        .collect();
    if let Some(first) = invalid.first() {
        let error = format!(
            "{}: `{}` does not parse: {}",
            first.origin, first.text, first.reason
        );
        let json = serde_json::json!({ "ok": false, "error": error, "notes": invalid });
        return Ok((StatusCode::BAD_REQUEST, json));
    }
    let options = WarmOptions {
        targets: Targets::new(&form.pythons, &form.platforms)?,
        deps: form.deps,
        ..WarmOptions::default()
    };
    let report = app.warm(&form.parsed, &options, &()).await?;
    let mut json = serde_json::to_value(&report)
        .map_err(|e| Error::invalid(format!("cannot encode the report: {e}")))?;
    if let Some(object) = json.as_object_mut() {
        object.insert("ok".to_owned(), serde_json::Value::Bool(!report.failed()));
    }
    Ok((StatusCode::OK, json))
}

struct Form {
    parsed: Parsed,
    pythons: Vec<String>,
    platforms: Vec<String>,
    deps: bool,
}

async fn read_form(headers: &HeaderMap, body: Body) -> Result<Form> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let boundary = multer::parse_boundary(content_type).map_err(|_| {
        Error::invalid("send the file as `multipart/form-data` in a field named `requirements`")
    })?;
    let constraints =
        multer::Constraints::new().size_limit(multer::SizeLimit::new().whole_stream(MAX_FORM));
    let mut multipart =
        multer::Multipart::with_constraints(body.into_data_stream(), boundary, constraints);
    let mut form = Form {
        parsed: Parsed::default(),
        pythons: Vec::new(),
        platforms: Vec::new(),
        deps: false,
    };
    let mut files = 0;
    while let Some(field) = multipart.next_field().await.map_err(form_error)? {
        let name = field.name().unwrap_or_default().to_owned();
        let filename = field.file_name().map(str::to_owned);
        let text = field.text().await.map_err(form_error)?;
        match name.as_str() {
            "requirements" => {
                files += 1;
                let source = Source {
                    name: filename.unwrap_or_else(|| "requirements.txt".to_owned()),
                    text,
                };
                form.parsed.extend(requirements::parse(
                    &source,
                    &mut requirements::no_includes,
                )?);
            }
            "python" => form.pythons.push(text),
            "platform" => form.platforms.push(text),
            "deps" => form.deps = matches!(text.trim(), "true" | "1" | "yes" | "on"),
            _ => {}
        }
    }
    if files == 0 {
        return Err(Error::invalid(
            "the form has no `requirements` field (send the file as `-F requirements=@FILE`)",
        ));
    }
    Ok(form)
}

fn form_error(e: multer::Error) -> Error {
    Error::invalid(format!("the multipart body is invalid: {e}"))
}
