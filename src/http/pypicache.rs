//! pypicache's URLs, so its users keep their habits:
//!
//! - `GET`/`HEAD /packages/source/<letter>/<project>/<filename>`: the file,
//!   from the store or fetched through the project's page (never anything
//!   the page does not list);
//! - `PUT` of the same path: an upload of the body, like `POST
//!   /uploadpackage/` (a token with the upload scope, never an overwrite);
//! - `GET /`: a short page naming the URLs to use.
//!
//! `/local/<project>/` is in `simple` (one more mount of the index views)
//! and `POST /uploadpackage/` in `upload`.

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use axum::response::{Html, Response};
use axum::routing::get;

use super::ApiError;
use crate::app::App;
use crate::error::Error;
use crate::model::{DistFilename, ProjectName};

pub(super) fn routes() -> Router<App> {
    Router::new()
        .route(
            "/packages/source/{letter}/{project}/{filename}",
            get(file).put(upload),
        )
        .route("/", get(landing))
}

/// The project a `/packages/source/<letter>/<project>/` path names, checked
/// before anything is looked up: a valid name whose first character is
/// `letter` (either case, as pypicache wrote them).
fn project_of(letter: &str, project: &str) -> Result<ProjectName, ApiError> {
    let name = ProjectName::new(project).map_err(|e| ApiError(e.into()))?;
    let first = name.as_str().chars().next();
    let mut letters = letter.chars();
    let matches = match (letters.next(), letters.next(), first) {
        (Some(l), None, Some(f)) => l.eq_ignore_ascii_case(&f),
        _ => false,
    };
    if !matches {
        return Err(ApiError(Error::not_found(format!(
            "`/packages/source/{}/{}/` is not where `{name}` lives: its letter is `{}`",
            letter.escape_debug(),
            project.escape_debug(),
            first.unwrap_or('?'),
        ))));
    }
    Ok(name)
}

async fn file(
    State(app): State<App>,
    Path((letter, project, filename)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let project = project_of(&letter, &project)?;
    let opened = app.open_by_name(&project, &filename).await?;
    super::files::serve(&app, opened, &headers, "application/octet-stream").await
}

async fn upload(
    State(app): State<App>,
    Path((letter, project, filename)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let project = project_of(&letter, &project)?;
    // The path's project must be the file's: a PUT under one name cannot
    // upload to another.
    let dist = DistFilename::parse(&filename).map_err(|e| ApiError(e.into()))?;
    if dist.project_name() != project {
        return Err(ApiError(Error::invalid(format!(
            "`{}` is a file of `{}`, not of `{project}`",
            filename.escape_debug(),
            dist.project_name()
        ))));
    }
    let uploaded = super::upload::upload_raw(&app, &headers, body, &filename).await?;
    Ok(super::upload::pypicache_answer(&uploaded))
}

/// Until the web page exists: where to point pip, the local view, where to
/// upload. The host is the one the client used.
async fn landing(headers: HeaderMap) -> Html<String> {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|h| {
            h.chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
        })
        .unwrap_or("HOST:PORT");
    let base = format!("http://{host}");
    Html(format!(
        "<!DOCTYPE html>\n<html>\n<head><meta charset=\"utf-8\"><title>larder</title></head>\n\
         <body>\n<h1>larder</h1>\n\
         <p>Index URL (pip, uv, poetry, pdm, buildout): <code>{base}/simple/</code></p>\n\
         <pre>pip install --index-url {base}/simple/ PACKAGE</pre>\n\
         <p>Only what is stored (never asks an upstream): <code>{base}/local/simple/</code> \
         (also <code>{base}/local/</code>)</p>\n\
         <p>Upload (twine, <code>uv publish</code>): <code>{base}/legacy/</code>; \
         pypicache's <code>{base}/uploadpackage/</code></p>\n\
         </body>\n</html>\n"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_letter_must_be_the_projects_first() {
        assert_eq!(project_of("m", "mypackage").unwrap().as_str(), "mypackage");
        assert_eq!(project_of("M", "MyPackage").unwrap().as_str(), "mypackage");
        for (letter, project) in [("x", "mypackage"), ("mm", "mypackage"), ("", "mypackage")] {
            let ApiError(e) = project_of(letter, project).unwrap_err();
            assert_eq!(e.kind(), crate::error::ErrorKind::NotFound, "{letter}");
        }
        let ApiError(e) = project_of("m", "my package!").unwrap_err();
        assert_eq!(e.kind(), crate::error::ErrorKind::InvalidInput);
    }
}
