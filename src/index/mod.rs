//! The Simple Repository API formats, pure and free of I/O: parse an
//! upstream's pages into the [`crate::model`] page types and render them back
//! out in whichever format a client negotiated.
//!
//! - PEP 503: the HTML format ([`html`]), hash fragments, `data-requires-python`.
//! - PEP 691: the JSON format ([`json`]) and content negotiation ([`negotiate`]).
//! - PEP 592: yanked files.
//! - PEP 658 / PEP 714: core metadata (`data-core-metadata`, `core-metadata`,
//!   and the legacy `dist-info-metadata` names, read and written).
//! - PEP 700: `versions`, `size` and `upload-time` (API version 1.1).
//! - PEP 740: a file's `provenance` URL (`data-provenance`), passed through
//!   (API version 1.3).
//! - PEP 792: the project status (`project-status`, `pypi:project-status`
//!   meta tags), passed through (API version 1.4).
//!
//! Every field is kept as the upstream said it, booleans included:
//! `core-metadata: false` stays `false`, apart from "not said".
//!
//! Parsers are lenient where the real world is messy (unclosed tags, legacy
//! attribute names, unknown JSON fields) and strict where larder would
//! otherwise misbehave (unresolvable URLs, unsupported API major versions).

pub mod html;
pub mod json;
pub mod list;

mod markup;
mod negotiate;

use std::collections::HashSet;

use url::Url;

use crate::error::{Error, ErrorKind};
use crate::model::{DistFilename, Hashes, ProjectFile, ProjectStatus};

pub use negotiate::{Format, Negotiated, NotAcceptable, negotiate};

/// The Simple API version larder renders: 1.1 adds PEP 700 fields, 1.3 PEP
/// 740's `provenance`, 1.4 PEP 792's project status; larder passes all of
/// them on from its upstreams.
pub const API_VERSION: &str = "1.4";

/// An upstream page larder cannot use. The underlying parser error is part
/// of the message (not a `source`), so it survives conversion into [`Error`].
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("the page is not parseable HTML: {0}")]
    Html(String),
    #[error("the page is not valid Simple API JSON: {0}")]
    Json(serde_json::Error),
    #[error("the page links to `{url}`, which is not a valid URL: {reason}")]
    Url {
        url: String,
        reason: url::ParseError,
    },
    #[error("the page uses Simple API version `{0}`; larder understands 1.x")]
    UnsupportedApiVersion(String),
}

impl From<ParseError> for Error {
    fn from(e: ParseError) -> Self {
        // A page larder cannot read is the upstream's fault, not the client's.
        Error::new(ErrorKind::Upstream, e.to_string())
    }
}

/// The distinct versions of `files`, in first-seen order, taken from their
/// filenames; files whose names do not parse are skipped. Used when an
/// upstream does not send PEP 700 `versions`.
pub fn derive_versions(files: &[ProjectFile]) -> Vec<String> {
    let mut seen = HashSet::new();
    let mut versions = Vec::new();
    for file in files {
        if let Ok(parsed) = DistFilename::parse(&file.filename)
            && seen.insert(parsed.version().to_owned())
        {
            versions.push(parsed.version().to_owned());
        }
    }
    versions
}

/// Whether an upstream's filename is safe to use as a path segment (larder
/// links and `export` trees are built from it). Files failing this are left
/// out of parsed pages: no real distribution is named like that, and one bad
/// link should not cost the rest of the page.
fn is_safe_filename(filename: &str) -> bool {
    !filename.is_empty()
        && filename != "."
        && filename != ".."
        && !filename.contains(['/', '\\'])
        && !filename.chars().any(char::is_control)
}

/// Resolves a file link against the page URL and splits off its fragment.
/// A `#<alg>=<hex>` fragment becomes a hash (unless `hashes` already has that
/// algorithm); other fragments are dropped, since only upstream URLs without
/// fragments are ever fetched.
fn resolve_file_url(base: &Url, href: &str, hashes: &mut Hashes) -> Result<String, ParseError> {
    let mut url = base.join(href).map_err(|reason| ParseError::Url {
        url: href.to_owned(),
        reason,
    })?;
    if let Some((alg, hex)) = url.fragment().and_then(parse_hash) {
        hashes.entry(alg).or_insert(hex);
    }
    url.set_fragment(None);
    Ok(url.into())
}

/// A file's provenance URL as the upstream gave it: an absolute URL is kept
/// verbatim (it is the upstream's, and clients fetch it from there), a
/// relative one is resolved against the page; `None` for an empty value or
/// one that does not resolve.
fn resolve_provenance(base: &Url, value: &str) -> Option<String> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    match Url::parse(value) {
        Ok(_) => Some(value.to_owned()),
        Err(_) => base.join(value).ok().map(String::from),
    }
}

/// PEP 792: a project status as the index said it; `None` when it gave no
/// status (an empty reason is no reason).
fn project_status(status: Option<&str>, reason: Option<&str>) -> Option<ProjectStatus> {
    let status = status.map(str::trim).filter(|s| !s.is_empty())?;
    Some(ProjectStatus {
        status: status.to_owned(),
        reason: reason.filter(|r| !r.is_empty()).map(str::to_owned),
    })
}

/// Parses `<alg>=<hex>` (as in hash fragments and `data-core-metadata`) into
/// a lowercase pair; `None` when it is not of that shape.
fn parse_hash(value: &str) -> Option<(String, String)> {
    let (alg, hex) = value.split_once('=')?;
    normalize_hash(alg, hex)
}

/// Lowercases a hash; `None` unless the algorithm is a plain word and the
/// digest is hex, so hashes are always safe to put in paths and URLs.
fn normalize_hash(alg: &str, hex: &str) -> Option<(String, String)> {
    let alg_ok = !alg.is_empty() && alg.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    let hex_ok = !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit());
    (alg_ok && hex_ok).then(|| (alg.to_ascii_lowercase(), hex.to_ascii_lowercase()))
}

/// The hash a rendered link should carry: SHA-256 when known (the algorithm
/// every client supports), otherwise the first one there is.
fn preferred_hash(hashes: &Hashes) -> Option<(&str, &str)> {
    hashes
        .get_key_value("sha256")
        .or_else(|| hashes.iter().next())
        .map(|(alg, hex)| (alg.as_str(), hex.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CoreMetadata, Yanked};

    pub(super) fn file(filename: &str) -> ProjectFile {
        ProjectFile {
            filename: filename.to_owned(),
            url: format!("https://files.example/{filename}"),
            hashes: Hashes::new(),
            requires_python: None,
            yanked: Yanked::No,
            core_metadata: CoreMetadata::Absent,
            gpg_sig: None,
            size: None,
            upload_time: None,
            provenance: None,
        }
    }

    #[test]
    fn derives_unique_versions_in_first_seen_order() {
        let files = [
            file("foo-2.0.tar.gz"),
            file("foo-1.0-py3-none-any.whl"),
            file("foo-2.0-py3-none-any.whl"),
            file("foo.exe"),
            file("foo-1.0.tar.gz"),
        ];
        assert_eq!(derive_versions(&files), ["2.0", "1.0"]);
    }

    #[test]
    fn resolves_relative_urls_and_takes_hash_fragments() {
        let base = Url::parse("http://127.0.0.1:1/simple/foo/").unwrap();
        for (href, want_url, want_hash) in [
            (
                "../../packages/ab/foo-1.0.tar.gz#sha256=ABCDEF",
                "http://127.0.0.1:1/packages/ab/foo-1.0.tar.gz",
                Some(("sha256", "abcdef")),
            ),
            (
                "https://files.example/foo-1.0.tar.gz#MD5=00ff",
                "https://files.example/foo-1.0.tar.gz",
                Some(("md5", "00ff")),
            ),
            (
                "/x/foo-1.0.zip#egg=foo",
                "http://127.0.0.1:1/x/foo-1.0.zip",
                None,
            ),
            (
                "foo-1.0.zip#sha256=xyz",
                "http://127.0.0.1:1/simple/foo/foo-1.0.zip",
                None,
            ),
        ] {
            let mut hashes = Hashes::new();
            let url = resolve_file_url(&base, href, &mut hashes).unwrap();
            assert_eq!(url, want_url, "{href}");
            let got = hashes.iter().next().map(|(a, h)| (a.as_str(), h.as_str()));
            assert_eq!(got, want_hash, "{href}");
        }
    }

    #[test]
    fn unresolvable_url_is_an_upstream_error_naming_it() {
        let base = Url::parse("http://127.0.0.1:1/simple/foo/").unwrap();
        let err = resolve_file_url(&base, "http://[bad/x", &mut Hashes::new()).unwrap_err();
        assert!(err.to_string().contains("`http://[bad/x`"), "{err}");
        assert_eq!(Error::from(err).kind(), ErrorKind::Upstream);
    }

    #[test]
    fn passes_provenance_urls_through() {
        let base = Url::parse("http://127.0.0.1:1/simple/foo/").unwrap();
        for (value, want) in [
            (
                "https://files.example/integrity/Foo/1.0/x.whl/provenance",
                Some("https://files.example/integrity/Foo/1.0/x.whl/provenance"),
            ),
            // Verbatim: not normalized (the host's case, no added `/`).
            ("HTTP://Files.Example", Some("HTTP://Files.Example")),
            (
                "../../integrity/x.whl/provenance",
                Some("http://127.0.0.1:1/integrity/x.whl/provenance"),
            ),
            ("", None),
            ("  ", None),
        ] {
            assert_eq!(
                resolve_provenance(&base, value).as_deref(),
                want,
                "{value:?}"
            );
        }
    }

    #[test]
    fn reads_project_status() {
        let status = |s: &str, r: Option<&str>| ProjectStatus {
            status: s.to_owned(),
            reason: r.map(str::to_owned),
        };
        for (raw, reason, want) in [
            (
                Some("archived"),
                Some("moved"),
                Some(status("archived", Some("moved"))),
            ),
            (
                Some("quarantined"),
                Some(""),
                Some(status("quarantined", None)),
            ),
            (Some(" active "), None, Some(status("active", None))),
            (Some(""), Some("why"), None),
            (None, Some("why"), None),
        ] {
            assert_eq!(project_status(raw, reason), want, "{raw:?}");
        }
    }

    #[test]
    fn flags_unsafe_filenames() {
        for (filename, safe) in [
            ("foo-1.0.tar.gz", true),
            ("foo 1.0.exe", true),
            ("", false),
            (".", false),
            ("..", false),
            ("../foo-1.0.tar.gz", false),
            ("a\\b", false),
            ("a\nb", false),
        ] {
            assert_eq!(is_safe_filename(filename), safe, "{filename:?}");
        }
    }

    #[test]
    fn prefers_sha256_then_first_hash() {
        let mut hashes = Hashes::new();
        assert_eq!(preferred_hash(&hashes), None);
        hashes.insert("md5".into(), "00".into());
        hashes.insert("blake2b".into(), "11".into());
        assert_eq!(preferred_hash(&hashes), Some(("blake2b", "11")));
        hashes.insert("sha256".into(), "22".into());
        assert_eq!(preferred_hash(&hashes), Some(("sha256", "22")));
    }
}
