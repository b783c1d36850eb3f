//! `POST /requirements.txt` (pypicache's API): warm the cache from an
//! uploaded requirements file and answer with the report as JSON.
//!
//! The form's `requirements` field holds the file (repeatable); its part
//! filename decides how it is read (`uv.lock`, `pylock.toml`, else
//! requirements syntax), and `-r` includes are refused since there is
//! nothing to resolve them against. Optional fields `python`, `platform`
//! (repeatable) and `deps` (`true`) mean what the `larder warm` flags do.
//!
//! Warming makes larder fetch and keep files, which is a write: it needs
//! credentials with the upload scope, checked before the body is read (the
//! same rule as uploads; pypicache asked for none).

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;

use super::ApiError;
use super::access::credentials;
use crate::app::{App, WarmOptions};
use crate::auth::Scope;
use crate::error::{Error, Result};
use crate::requirements::Targets;
use crate::requirements::{self, Parsed, Source};

/// Requirements and lock files are text; this is plenty.
const MAX_FORM: u64 = 8 << 20;

pub(super) fn routes() -> Router<App> {
    Router::new().route("/requirements.txt", post(warm))
}

async fn warm(
    State(app): State<App>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    app.authorize(credentials(&headers).as_ref(), Scope::Upload)
        .await?;
    let form = read_form(&headers, body).await?;
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
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        format!("{json}\n"),
    )
        .into_response())
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
