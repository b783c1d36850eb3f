//! The PEP 691 JSON format, API version 1.x: PEP 700 (`versions`, `size`,
//! `upload-time`), PEP 714 (`core-metadata`, read and written alongside
//! the legacy `dist-info-metadata`), PEP 740 (`provenance`) and PEP 792
//! (`project-status`).
//!
//! The serde wire structs live here only; they convert into and out of the
//! [`crate::model`] page types. Unknown fields are ignored so newer 1.x
//! upstreams keep working.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize, Serializer};
use url::Url;

use super::{
    API_VERSION, Format, ParseError, derive_versions, is_safe_filename, normalize_hash,
    project_status, resolve_file_url, resolve_provenance,
};
use crate::model::{CoreMetadata, Hashes, ProjectFile, ProjectList, ProjectPage, Yanked};

/// Parses a project page; file URLs are resolved against `base_url`, the URL
/// the page was fetched from. Files with unsafe names (`/`, `..`) are left out.
pub fn parse_project(body: &[u8], base_url: &Url) -> Result<ProjectPage, ParseError> {
    let wire: ProjectIn = serde_json::from_slice(body).map_err(ParseError::Json)?;
    check_api_version(wire.meta.as_ref())?;
    let files = wire
        .files
        .into_iter()
        .filter(|file| is_safe_filename(&file.filename))
        .map(|file| file.into_model(base_url))
        .collect::<Result<Vec<_>, _>>()?;
    let versions = match wire.versions {
        Some(versions) => versions,
        None => derive_versions(&files),
    };
    let status = wire.project_status.as_ref().and_then(|value| {
        project_status(
            value.get("status").and_then(serde_json::Value::as_str),
            value.get("reason").and_then(serde_json::Value::as_str),
        )
    });
    Ok(ProjectPage {
        name: wire.name,
        files,
        versions,
        status,
    })
}

/// Parses the project list (`/simple/`).
pub fn parse_list(body: &[u8]) -> Result<ProjectList, ParseError> {
    let wire: ListIn = serde_json::from_slice(body).map_err(ParseError::Json)?;
    check_api_version(wire.meta.as_ref())?;
    Ok(ProjectList {
        projects: wire.projects.into_iter().map(|p| p.name).collect(),
    })
}

/// Renders a project page; `link` gives each file's `url`. When the page has
/// no `versions` they are derived from the filenames, since PEP 700 requires
/// every version to be listed.
pub fn render_project(page: &ProjectPage, link: &dyn Fn(&ProjectFile) -> String) -> String {
    let versions = if page.versions.is_empty() && !page.files.is_empty() {
        Cow::Owned(derive_versions(&page.files))
    } else {
        Cow::Borrowed(page.versions.as_slice())
    };
    to_json(&ProjectOut {
        meta: MetaOut::CURRENT,
        name: &page.name,
        files: FilesOut {
            files: &page.files,
            link,
        },
        versions: &versions,
        project_status: page.status.as_ref().map(|status| StatusOut {
            status: &status.status,
            reason: status.reason.as_deref(),
        }),
    })
}

/// Renders the project list.
pub fn render_list(list: &ProjectList) -> String {
    let mut out = super::list::head(Format::Json);
    for (i, project) in list.projects.iter().enumerate() {
        super::list::push_entry(&mut out, Format::Json, project, "", i == 0);
    }
    out.push_str(super::list::tail(Format::Json));
    out
}

/// The `meta` object every page carries.
pub(super) fn meta() -> String {
    to_json(&MetaOut::CURRENT)
}

fn to_json(value: &impl Serialize) -> String {
    // The wire types hold only strings, numbers, bools and string-keyed maps,
    // which serde_json always serializes into memory.
    serde_json::to_string(value).expect("serializing Simple API wire types cannot fail")
}

/// PEP 691: a client must refuse a major version it does not know.
fn check_api_version(meta: Option<&MetaIn>) -> Result<(), ParseError> {
    let Some(version) = meta.and_then(|m| m.api_version.as_deref()) else {
        return Ok(());
    };
    match version.split('.').next() {
        Some("1") => Ok(()),
        _ => Err(ParseError::UnsupportedApiVersion(version.to_owned())),
    }
}

#[derive(Deserialize)]
struct MetaIn {
    #[serde(rename = "api-version")]
    api_version: Option<String>,
}

#[derive(Deserialize)]
struct ListIn {
    meta: Option<MetaIn>,
    projects: Vec<NameIn>,
}

#[derive(Deserialize)]
struct NameIn {
    name: String,
}

#[derive(Deserialize)]
struct ProjectIn {
    meta: Option<MetaIn>,
    name: String,
    files: Vec<FileIn>,
    versions: Option<Vec<String>>,
    /// Read leniently: a malformed status should not cost the page.
    #[serde(rename = "project-status")]
    project_status: Option<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct FileIn {
    filename: String,
    url: String,
    #[serde(default)]
    hashes: BTreeMap<String, String>,
    requires_python: Option<String>,
    yanked: Option<YankedIn>,
    core_metadata: Option<CoreMetadataIn>,
    dist_info_metadata: Option<CoreMetadataIn>,
    gpg_sig: Option<bool>,
    size: Option<u64>,
    upload_time: Option<String>,
    /// Read leniently: only a string is a URL; anything else is ignored.
    provenance: Option<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum YankedIn {
    Bool(bool),
    Reason(String),
}

#[derive(Deserialize)]
#[serde(untagged)]
enum CoreMetadataIn {
    Bool(bool),
    Hashes(BTreeMap<String, String>),
}

impl FileIn {
    fn into_model(self, base_url: &Url) -> Result<ProjectFile, ParseError> {
        let mut hashes = normalize_hashes(self.hashes);
        let url = resolve_file_url(base_url, &self.url, &mut hashes)?;
        let yanked = match self.yanked {
            None | Some(YankedIn::Bool(false)) => Yanked::No,
            Some(YankedIn::Bool(true)) => Yanked::Yes(None),
            Some(YankedIn::Reason(reason)) => Yanked::Yes(Some(reason).filter(|r| !r.is_empty())),
        };
        // PEP 714: the new name wins over the legacy one.
        let core_metadata = match self.core_metadata.or(self.dist_info_metadata) {
            None => CoreMetadata::Absent,
            Some(CoreMetadataIn::Bool(false)) => CoreMetadata::No,
            Some(CoreMetadataIn::Bool(true)) => CoreMetadata::Present(Hashes::new()),
            Some(CoreMetadataIn::Hashes(hashes)) => CoreMetadata::Present(normalize_hashes(hashes)),
        };
        Ok(ProjectFile {
            filename: self.filename,
            url,
            hashes,
            requires_python: self.requires_python,
            yanked,
            core_metadata,
            gpg_sig: self.gpg_sig,
            size: self.size,
            upload_time: self.upload_time,
            provenance: self
                .provenance
                .as_ref()
                .and_then(serde_json::Value::as_str)
                .and_then(|p| resolve_provenance(base_url, p)),
        })
    }
}

/// Lowercases hashes and drops entries that are not `<alg>: <hex>`, so later
/// code can put them in paths and URLs.
fn normalize_hashes(hashes: BTreeMap<String, String>) -> Hashes {
    hashes
        .into_iter()
        .filter_map(|(alg, hex)| normalize_hash(&alg, &hex))
        .collect()
}

#[derive(Serialize)]
struct MetaOut {
    #[serde(rename = "api-version")]
    api_version: &'static str,
}

impl MetaOut {
    const CURRENT: Self = Self {
        api_version: API_VERSION,
    };
}

#[derive(Serialize)]
struct ProjectOut<'a> {
    meta: MetaOut,
    name: &'a str,
    files: FilesOut<'a>,
    versions: &'a [String],
    #[serde(rename = "project-status", skip_serializing_if = "Option::is_none")]
    project_status: Option<StatusOut<'a>>,
}

#[derive(Serialize)]
struct StatusOut<'a> {
    status: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
}

/// Serializes files straight from the page, without an intermediate `Vec`.
struct FilesOut<'a> {
    files: &'a [ProjectFile],
    link: &'a dyn Fn(&ProjectFile) -> String,
}

impl Serialize for FilesOut<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(
            self.files
                .iter()
                .map(|file| FileOut::new(file, (self.link)(file))),
        )
    }
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct FileOut<'a> {
    filename: &'a str,
    url: String,
    hashes: &'a Hashes,
    #[serde(skip_serializing_if = "Option::is_none")]
    requires_python: Option<&'a str>,
    // Absent means "not yanked" and "no metadata file" (PEP 691, 714); leaving
    // them out when the upstream did keeps a 3,000-file page a quarter
    // smaller. An upstream's explicit `core-metadata: false` is kept.
    #[serde(skip_serializing_if = "Option::is_none")]
    yanked: Option<YankedOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    core_metadata: Option<CoreMetadataOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dist_info_metadata: Option<CoreMetadataOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    gpg_sig: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    upload_time: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    provenance: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum YankedOut<'a> {
    Bool(bool),
    Reason(&'a str),
}

/// PEP 714: `true` or a hashes dict when present, `false` when the upstream
/// said so (left out when it said nothing).
#[derive(Serialize, Clone, Copy)]
#[serde(untagged)]
enum CoreMetadataOut<'a> {
    Bool(bool),
    Hashes(&'a Hashes),
}

impl<'a> FileOut<'a> {
    fn new(file: &'a ProjectFile, url: String) -> Self {
        let core_metadata = match &file.core_metadata {
            CoreMetadata::Absent => None,
            CoreMetadata::No => Some(CoreMetadataOut::Bool(false)),
            CoreMetadata::Present(hashes) if hashes.is_empty() => Some(CoreMetadataOut::Bool(true)),
            CoreMetadata::Present(hashes) => Some(CoreMetadataOut::Hashes(hashes)),
        };
        Self {
            filename: &file.filename,
            url,
            hashes: &file.hashes,
            requires_python: file.requires_python.as_deref(),
            yanked: match &file.yanked {
                Yanked::No => None,
                Yanked::Yes(None) => Some(YankedOut::Bool(true)),
                Yanked::Yes(Some(reason)) => Some(YankedOut::Reason(reason)),
            },
            core_metadata,
            dist_info_metadata: core_metadata,
            gpg_sig: file.gpg_sig,
            size: file.size,
            upload_time: file.upload_time.as_deref(),
            provenance: file.provenance.as_deref(),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::index::tests::file;
    use crate::model::ProjectStatus;

    const SHA: &str = "aabbccddeeff00112233445566778899aabbccddeeff00112233445566778899";

    fn base() -> Url {
        Url::parse("http://127.0.0.1:1/simple/foo/").unwrap()
    }

    #[test]
    fn parses_a_pep_691_page() {
        let body = json!({
            "meta": {"api-version": "1.3", "_last-serial": 42},
            "name": "Foo",
            "future-field": [1, 2],
            "versions": ["1.0", "2.0"],
            "files": [
                {
                    "filename": "foo-1.0.tar.gz",
                    "url": "../../packages/ab/foo-1.0.tar.gz",
                    "hashes": {"SHA256": SHA.to_uppercase(), "md5": "not hex"},
                    "requires-python": ">=3.8",
                    "yanked": "broken <build> & \"quoted\"",
                    "core-metadata": {"sha256": "EF01"},
                    "dist-info-metadata": true,
                    "gpg-sig": false,
                    "size": 1234,
                    "upload-time": "2024-01-01T00:00:00.000000Z",
                    "provenance": null
                },
                {
                    "filename": "foo-2.0-py3-none-any.whl",
                    "url": "https://files.example/foo-2.0-py3-none-any.whl#sha256=ABCD",
                    "hashes": {},
                    "requires-python": null,
                    "yanked": "",
                    "dist-info-metadata": true
                },
                {
                    "filename": "foo-3.0.zip",
                    "url": "/x/foo-3.0.zip",
                    "hashes": {},
                    "yanked": true,
                    "core-metadata": false,
                    "dist-info-metadata": {"sha256": "00"}
                },
                {"filename": "foo-4.0.zip", "url": "foo-4.0.zip", "hashes": {}, "yanked": false},
                {"filename": "../foo-5.0.zip", "url": "foo-5.0.zip", "hashes": {}}
            ]
        });
        let page = parse_project(body.to_string().as_bytes(), &base()).unwrap();
        assert_eq!(page.name, "Foo");
        assert_eq!(page.versions, ["1.0", "2.0"], "upstream versions are kept");
        let [sdist, wheel, zip, plain] = page.files.as_slice() else {
            panic!("{:#?}", page.files);
        };
        assert_eq!(sdist.url, "http://127.0.0.1:1/packages/ab/foo-1.0.tar.gz");
        assert_eq!(sdist.hashes, Hashes::from([("sha256".into(), SHA.into())]));
        assert_eq!(sdist.requires_python.as_deref(), Some(">=3.8"));
        assert_eq!(
            sdist.yanked,
            Yanked::Yes(Some("broken <build> & \"quoted\"".into()))
        );
        let want: Hashes = [("sha256".into(), "ef01".into())].into();
        assert_eq!(sdist.core_metadata, CoreMetadata::Present(want));
        assert_eq!((sdist.gpg_sig, sdist.size), (Some(false), Some(1234)));
        assert_eq!(
            sdist.upload_time.as_deref(),
            Some("2024-01-01T00:00:00.000000Z")
        );

        assert_eq!(wheel.url, "https://files.example/foo-2.0-py3-none-any.whl");
        assert_eq!(wheel.sha256(), Some("abcd"), "hash fragment kept");
        assert_eq!(wheel.requires_python, None);
        assert_eq!(wheel.yanked, Yanked::Yes(None));
        assert_eq!(wheel.core_metadata, CoreMetadata::Present(Hashes::new()));

        assert_eq!(zip.url, "http://127.0.0.1:1/x/foo-3.0.zip");
        assert_eq!(zip.yanked, Yanked::Yes(None));
        assert_eq!(zip.core_metadata, CoreMetadata::No, "PEP 714 name wins");
        assert_eq!(plain.yanked, Yanked::No);
        assert_eq!((plain.gpg_sig, plain.size), (None, None));
    }

    #[test]
    fn derives_versions_when_absent() {
        let body = json!({"name": "foo", "files": [
            {"filename": "foo-1.0.tar.gz", "url": "a", "hashes": {}},
            {"filename": "foo-1.0-py3-none-any.whl", "url": "b", "hashes": {}},
            {"filename": "foo-0.9.zip", "url": "c", "hashes": {}}
        ]});
        let page = parse_project(body.to_string().as_bytes(), &base()).unwrap();
        assert_eq!(page.versions, ["1.0", "0.9"]);
    }

    #[test]
    fn rejects_bad_pages_naming_the_problem() {
        for (body, needle) in [
            (
                r#"{"meta": {"api-version": "2.0"}, "name": "foo", "files": []}"#,
                "`2.0`",
            ),
            (r#"{"name": "foo"}"#, "files"),
            ("<html>", "not valid Simple API JSON"),
            (
                r#"{"name": "foo", "files": [{"filename": "a", "url": "http://[x", "hashes": {}}]}"#,
                "`http://[x`",
            ),
            (
                r#"{"name": "foo", "files": [{"filename": "a", "url": "a", "yanked": 3}]}"#,
                "not valid",
            ),
        ] {
            let err = parse_project(body.as_bytes(), &base()).unwrap_err();
            assert!(err.to_string().contains(needle), "{body}: {err}");
        }
    }

    #[test]
    fn renders_pep_691_with_pep_700_and_714() {
        let mut full = file("foo-1.0.tar.gz");
        full.hashes.insert("sha256".into(), SHA.into());
        full.requires_python = Some(">=3.8".into());
        full.yanked = Yanked::Yes(Some("broken <a> & \"b\"".into()));
        full.core_metadata = CoreMetadata::Present([("sha256".into(), "ab".into())].into());
        full.gpg_sig = Some(true);
        full.size = Some(10);
        full.upload_time = Some("2024-01-01T00:00:00Z".into());
        let mut bare = file("foo-2.0-py3-none-any.whl");
        bare.yanked = Yanked::Yes(None);
        bare.core_metadata = CoreMetadata::Present(Hashes::new());
        let plain = file("foo-3.0.zip");
        let page = ProjectPage {
            name: "Foo".into(),
            files: vec![full, bare, plain],
            versions: vec!["1.0".into(), "2.0".into(), "3.0".into()],
            status: None,
        };
        let rendered = render_project(&page, &|f| format!("/files/up/{}", f.filename));
        let value: Value = serde_json::from_str(&rendered).unwrap();
        assert_eq!(
            value,
            json!({
                "meta": {"api-version": "1.4"},
                "name": "Foo",
                "files": [
                    {
                        "filename": "foo-1.0.tar.gz",
                        "url": "/files/up/foo-1.0.tar.gz",
                        "hashes": {"sha256": SHA},
                        "requires-python": ">=3.8",
                        "yanked": "broken <a> & \"b\"",
                        "core-metadata": {"sha256": "ab"},
                        "dist-info-metadata": {"sha256": "ab"},
                        "gpg-sig": true,
                        "size": 10,
                        "upload-time": "2024-01-01T00:00:00Z"
                    },
                    {
                        "filename": "foo-2.0-py3-none-any.whl",
                        "url": "/files/up/foo-2.0-py3-none-any.whl",
                        "hashes": {},
                        "yanked": true,
                        "core-metadata": true,
                        "dist-info-metadata": true
                    },
                    {
                        "filename": "foo-3.0.zip",
                        "url": "/files/up/foo-3.0.zip",
                        "hashes": {}
                    }
                ],
                "versions": ["1.0", "2.0", "3.0"]
            })
        );
        let back = parse_project(rendered.as_bytes(), &base()).unwrap();
        assert_eq!(back.files[0].yanked, page.files[0].yanked);
        assert_eq!(back.files[1].core_metadata, page.files[1].core_metadata);
    }

    /// The fields larder passes through unchanged, per page.
    type PassedThrough = (Option<ProjectStatus>, Vec<(Option<String>, CoreMetadata)>);

    fn passed_through(page: &ProjectPage) -> PassedThrough {
        let files = page.files.iter();
        (
            page.status.clone(),
            files
                .map(|f| (f.provenance.clone(), f.core_metadata.clone()))
                .collect(),
        )
    }

    fn status(status: &str, reason: Option<&str>) -> Option<ProjectStatus> {
        Some(ProjectStatus {
            status: status.to_owned(),
            reason: reason.map(str::to_owned),
        })
    }

    #[test]
    fn passes_provenance_status_and_explicit_false_through() {
        const PROVENANCE: &str = "https://files.example/integrity/foo/1.0/foo-1.0.whl/provenance";
        let wheel = |extra: Value| {
            let mut file =
                json!({"filename": "foo-1.0-py3-none-any.whl", "url": "a.whl", "hashes": {}});
            file.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            file
        };
        for (case, page, want, rendered_status, rendered_core) in [
            (
                "archived, with provenance, metadata said false",
                json!({"project-status": {"status": "archived", "reason": "moved to <bar> & \"baz\""},
                       "files": [wheel(json!({"provenance": PROVENANCE, "core-metadata": false}))]}),
                (
                    status("archived", Some("moved to <bar> & \"baz\"")),
                    vec![(Some(PROVENANCE.to_owned()), CoreMetadata::No)],
                ),
                json!({"status": "archived", "reason": "moved to <bar> & \"baz\""}),
                Some(json!(false)),
            ),
            (
                "active, relative provenance, legacy false alone",
                json!({"project-status": {"status": "active"},
                       "files": [wheel(json!({"provenance": "../../p/a.whl/provenance", "dist-info-metadata": false}))]}),
                (
                    status("active", None),
                    vec![(
                        Some("http://127.0.0.1:1/p/a.whl/provenance".to_owned()),
                        CoreMetadata::No,
                    )],
                ),
                json!({"status": "active"}),
                Some(json!(false)),
            ),
            (
                "quarantined, empty reason, metadata present",
                json!({"project-status": {"status": "quarantined", "reason": ""},
                       "files": [wheel(json!({"provenance": null, "core-metadata": true}))]}),
                (
                    status("quarantined", None),
                    vec![(None, CoreMetadata::Present(Hashes::new()))],
                ),
                json!({"status": "quarantined"}),
                Some(json!(true)),
            ),
            (
                "nothing said",
                json!({"files": [wheel(json!({}))]}),
                (None, vec![(None, CoreMetadata::Absent)]),
                Value::Null,
                None,
            ),
            (
                "malformed values are ignored, not fatal",
                json!({"project-status": "deprecated",
                       "files": [wheel(json!({"provenance": {"url": PROVENANCE}}))]}),
                (None, vec![(None, CoreMetadata::Absent)]),
                Value::Null,
                None,
            ),
        ] {
            let mut body = page;
            body["name"] = json!("foo");
            let parsed = parse_project(body.to_string().as_bytes(), &base()).unwrap();
            assert_eq!(passed_through(&parsed), want, "{case}");

            let rendered = render_project(&parsed, &|f| f.url.clone());
            let value: Value = serde_json::from_str(&rendered).unwrap();
            assert_eq!(value["meta"]["api-version"], "1.4", "{case}");
            assert_eq!(
                value["project-status"], rendered_status,
                "{case}: {rendered}"
            );
            let file = &value["files"][0];
            assert_eq!(file.get("core-metadata"), rendered_core.as_ref(), "{case}");
            assert_eq!(
                file.get("dist-info-metadata"),
                rendered_core.as_ref(),
                "{case}"
            );
            assert_eq!(
                file.get("provenance").and_then(Value::as_str),
                want.1[0].0.as_deref(),
                "{case}"
            );
            // parse → render → parse is the identity: the cached page (larder's
            // own JSON) keeps all of it.
            let again = parse_project(rendered.as_bytes(), &base()).unwrap();
            assert_eq!(again, parsed, "{case}: {rendered}");
        }
    }

    #[test]
    fn renders_derived_versions_when_the_page_has_none() {
        let page = ProjectPage {
            name: "foo".into(),
            files: vec![file("foo-1.0.tar.gz")],
            versions: vec![],
            status: None,
        };
        let value: Value =
            serde_json::from_str(&render_project(&page, &|f| f.url.clone())).unwrap();
        assert_eq!(value["versions"], json!(["1.0"]));
    }

    #[test]
    fn round_trips_html_to_json() {
        let html = format!(
            r#"<!DOCTYPE html><html><head><meta name="pypi:project-status" content="deprecated">
<meta name="pypi:project-status-reason" content="use &lt;bar&gt;"></head><body>
<a href="../../packages/ab/foo-1.0.tar.gz#sha256={SHA}" data-requires-python="&gt;=3.8&amp;&lt;4" data-provenance="https://files.example/p?a=1&amp;b=2" data-core-metadata="false">foo-1.0.tar.gz</a>
<a href="https://files.example/foo-1.1-py3-none-any.whl" data-yanked="no &lt;good&gt; &amp; &quot;bad&quot;" data-dist-info-metadata="sha256=AB" data-gpg-sig="true">foo-1.1-py3-none-any.whl</a>
<a href="foo-1.2.zip" data-yanked="" data-core-metadata="true">foo-1.2.zip</a>
</body></html>"#
        );
        let from_html = crate::index::html::parse_project(&html, &base(), "foo").unwrap();
        let rendered = render_project(&from_html, &|f| f.url.clone());
        let from_json = parse_project(rendered.as_bytes(), &base()).unwrap();
        assert_eq!(from_json, from_html);
        assert_eq!(from_json.status, status("deprecated", Some("use <bar>")));
        assert_eq!(
            from_json.files[0].provenance.as_deref(),
            Some("https://files.example/p?a=1&b=2")
        );
        assert_eq!(from_json.files[0].core_metadata, CoreMetadata::No);
        assert_eq!(
            from_json.files[0].requires_python.as_deref(),
            Some(">=3.8&<4")
        );
        assert_eq!(
            from_json.files[1].yanked,
            Yanked::Yes(Some(r#"no <good> & "bad""#.into()))
        );
    }

    #[test]
    fn parses_and_renders_lists() {
        let body = br#"{"meta": {"api-version": "1.0"}, "projects": [{"name": "Foo", "_last-serial": 1}, {"name": "bar"}]}"#;
        let list = parse_list(body).unwrap();
        assert_eq!(list.projects, ["Foo", "bar"]);
        let rendered: Value = serde_json::from_str(&render_list(&list)).unwrap();
        assert_eq!(
            rendered,
            json!({"meta": {"api-version": "1.4"}, "projects": [{"name": "Foo"}, {"name": "bar"}]})
        );
        assert!(parse_list(br#"{"meta": {"api-version": "3"}, "projects": []}"#).is_err());
    }

    #[test]
    fn renders_large_pages_whole() {
        let files: Vec<_> = (0..3000)
            .map(|i| {
                let mut f = file(&format!("foo-1.{i}-cp312-cp312-manylinux_2_17_x86_64.whl"));
                f.hashes.insert("sha256".into(), SHA.into());
                f.core_metadata = CoreMetadata::Present(f.hashes.clone());
                f.size = Some(i);
                f
            })
            .collect();
        let page = ProjectPage {
            name: "foo".into(),
            files,
            versions: vec![],
            status: None,
        };
        let rendered = render_project(&page, &|f| format!("/files/pypi/{SHA}/{}", f.filename));
        assert_eq!(
            parse_project(rendered.as_bytes(), &base())
                .unwrap()
                .files
                .len(),
            3000
        );
    }
}
