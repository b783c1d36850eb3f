//! The PEP 503 HTML format, with the PEP 592 (`data-yanked`), PEP 658/714
//! (`data-core-metadata`), PEP 691 (`pypi:repository-version`), PEP 740
//! (`data-provenance`) and PEP 792 (`pypi:project-status` and
//! `pypi:project-status-reason` meta tags) additions.
//!
//! Parsing uses `tl` to find tags, which is fast and forgiving (unclosed or
//! mis-cased tags, stray markup); attributes, entities and text are handled
//! in the private `markup` module. A limitation of `tl`: an anchor whose
//! unquoted `href` contains `/` is dropped (quoted values, as every known
//! index emits, are fine). Rendering writes into one pre-sized `String`,
//! since pages with thousands of files are on the hot path.

use std::borrow::Cow;

use url::Url;

use super::Format;
use super::markup::{decode_entities, push_escaped, start_tag_attrs};
use super::{
    API_VERSION, ParseError, derive_versions, is_safe_filename, parse_hash, preferred_hash,
    project_status, resolve_file_url, resolve_provenance,
};
use crate::model::percent;
use crate::model::{
    CoreMetadata, Hashes, ProjectFile, ProjectList, ProjectPage, ProjectStatus, Yanked,
};

/// Parses a project page; every `<a href>` is a file. `base_url` is the URL
/// the page was fetched from (a `<base href>` in the page overrides it);
/// `fallback_name` becomes the page name, since PEP 503 pages do not carry one.
///
/// A link's filename is its text, or the last segment of its URL when the
/// text is empty.
pub fn parse_project(
    body: &str,
    base_url: &Url,
    fallback_name: &str,
) -> Result<ProjectPage, ParseError> {
    let dom = parse_dom(body)?;
    let base = base_href(&dom, base_url);
    let mut files = Vec::new();
    for tag in tags(&dom, "a") {
        if let Some(file) = parse_anchor(tag, dom.parser(), &base)? {
            files.push(file);
        }
    }
    let versions = derive_versions(&files);
    let status = project_status(
        meta_content(&dom, "pypi:project-status").as_deref(),
        meta_content(&dom, "pypi:project-status-reason").as_deref(),
    );
    Ok(ProjectPage {
        name: fallback_name.to_owned(),
        files,
        versions,
        status,
    })
}

/// The decoded `content` of the first `<meta name="<name>">`.
fn meta_content(dom: &tl::VDom<'_>, name: &str) -> Option<String> {
    tags(dom, "meta").find_map(|tag| {
        let mut named = false;
        let mut content = None;
        for (attr, value) in attrs(tag) {
            if attr.eq_ignore_ascii_case("name") {
                named = value.is_some_and(|v| decode_entities(v).trim().eq_ignore_ascii_case(name));
            } else if attr.eq_ignore_ascii_case("content") && content.is_none() {
                content = value;
            }
        }
        named.then(|| decode_entities(content.unwrap_or_default()).into_owned())
    })
}

/// Parses the project list (`/simple/`): every `<a>` text is a project name.
pub fn parse_list(body: &str) -> Result<ProjectList, ParseError> {
    let dom = parse_dom(body)?;
    let projects = tags(&dom, "a")
        .map(|tag| anchor_text(tag, dom.parser()).trim().to_owned())
        .filter(|name| !name.is_empty())
        .collect();
    Ok(ProjectList { projects })
}

/// Renders a PEP 503 project page; `link` gives each file's href (the hash
/// fragment is appended here).
pub fn render_project(page: &ProjectPage, link: &dyn Fn(&ProjectFile) -> String) -> String {
    let capacity = 400 + page.name.len() * 2 + page.files.iter().map(estimated_len).sum::<usize>();
    let mut out = String::with_capacity(capacity);
    push_head_with_status(&mut out, &page.name, page.status.as_ref());
    for file in &page.files {
        out.push_str("    <a href=\"");
        push_escaped(&mut out, &link(file));
        if let Some((alg, hex)) = preferred_hash(&file.hashes) {
            out.push('#');
            push_escaped(&mut out, alg);
            out.push('=');
            push_escaped(&mut out, hex);
        }
        out.push('"');
        if let Some(requires_python) = &file.requires_python {
            push_attr(&mut out, "data-requires-python", requires_python);
        }
        if let Yanked::Yes(reason) = &file.yanked {
            push_attr(&mut out, "data-yanked", reason.as_deref().unwrap_or(""));
        }
        // An upstream's `false` is left out, not written: PEP 658 ties
        // availability to the attribute's presence, and pip reads any value
        // but `true` and a hash as "present, without a hash".
        if let CoreMetadata::Present(hashes) = &file.core_metadata {
            // PEP 714: both names, so clients from before the rename see it too.
            for name in ["data-core-metadata", "data-dist-info-metadata"] {
                out.push(' ');
                out.push_str(name);
                out.push_str("=\"");
                match hashes.get("sha256") {
                    Some(hex) => {
                        out.push_str("sha256=");
                        push_escaped(&mut out, hex);
                    }
                    None => out.push_str("true"),
                }
                out.push('"');
            }
        }
        if let Some(gpg_sig) = file.gpg_sig {
            push_attr(
                &mut out,
                "data-gpg-sig",
                if gpg_sig { "true" } else { "false" },
            );
        }
        if let Some(provenance) = &file.provenance {
            push_attr(&mut out, "data-provenance", provenance);
        }
        out.push('>');
        push_escaped(&mut out, &file.filename);
        out.push_str("</a><br />\n");
    }
    out.push_str("  </body>\n</html>\n");
    out
}

/// A generous guess at a file's line, so [`render_project`] allocates once:
/// fixed markup, a larder link (about 100 bytes plus the filename), the
/// filename again as text, and the values that vary. Escaping is not counted.
fn estimated_len(file: &ProjectFile) -> usize {
    let hash = preferred_hash(&file.hashes).map_or(0, |(alg, hex)| alg.len() + hex.len() + 2);
    let metadata = match &file.core_metadata {
        CoreMetadata::Present(hashes) => 2 * (40 + hashes.get("sha256").map_or(4, String::len)),
        CoreMetadata::Absent | CoreMetadata::No => 0,
    };
    let yanked = match &file.yanked {
        Yanked::Yes(reason) => 16 + reason.as_ref().map_or(0, String::len),
        Yanked::No => 0,
    };
    let requires_python = file.requires_python.as_ref().map_or(0, |r| r.len() + 25);
    let provenance = file.provenance.as_ref().map_or(0, |p| p.len() + 20);
    150 + 2 * file.filename.len() + hash + metadata + yanked + requires_python + provenance
}

/// Renders the project list; `link` gives the href for a project name.
pub fn render_list(list: &ProjectList, link: &dyn Fn(&str) -> String) -> String {
    let names: usize = list.projects.iter().map(|p| 3 * p.len()).sum();
    let mut out = String::with_capacity(400 + list.projects.len() * 60 + names);
    out.push_str(&super::list::head(Format::Html));
    for (i, project) in list.projects.iter().enumerate() {
        super::list::push_entry(&mut out, Format::Html, project, &link(project), i == 0);
    }
    out.push_str(super::list::tail(Format::Html));
    out
}

pub(super) fn push_head(out: &mut String, title: &str) {
    push_head_with_status(out, title, None);
}

fn push_head_with_status(out: &mut String, title: &str, status: Option<&ProjectStatus>) {
    out.push_str(
        "<!DOCTYPE html>\n<html>\n  <head>\n    <meta name=\"pypi:repository-version\" content=\"",
    );
    out.push_str(API_VERSION);
    out.push_str("\">\n");
    if let Some(status) = status {
        push_meta(out, "pypi:project-status", &status.status);
        if let Some(reason) = &status.reason {
            push_meta(out, "pypi:project-status-reason", reason);
        }
    }
    out.push_str("    <title>Links for ");
    push_escaped(out, title);
    out.push_str("</title>\n  </head>\n  <body>\n    <h1>Links for ");
    push_escaped(out, title);
    out.push_str("</h1>\n");
}

fn push_meta(out: &mut String, name: &str, content: &str) {
    out.push_str("    <meta name=\"");
    out.push_str(name);
    out.push_str("\" content=\"");
    push_escaped(out, content);
    out.push_str("\">\n");
}

fn push_attr(out: &mut String, name: &str, value: &str) {
    out.push(' ');
    out.push_str(name);
    out.push_str("=\"");
    push_escaped(out, value);
    out.push('"');
}

fn parse_dom(body: &str) -> Result<tl::VDom<'_>, ParseError> {
    tl::parse(body, tl::ParserOptions::default()).map_err(|e| ParseError::Html(e.to_string()))
}

/// All elements named `name` (ASCII case-insensitive), in document order,
/// however (badly) they are nested.
fn tags<'d, 'a>(
    dom: &'d tl::VDom<'a>,
    name: &'static str,
) -> impl Iterator<Item = &'d tl::HTMLTag<'a>> {
    dom.nodes()
        .iter()
        .filter_map(tl::Node::as_tag)
        .filter(move |tag| tag.name().as_bytes().eq_ignore_ascii_case(name.as_bytes()))
}

/// The attributes of `tag`'s start tag, undecoded.
fn attrs<'t>(tag: &'t tl::HTMLTag<'_>) -> impl Iterator<Item = (&'t str, Option<&'t str>)> {
    // `tl` only ever slices tags out of the `&str` it was given.
    let raw = tag.raw().try_as_utf8_str().unwrap_or_default();
    start_tag_attrs(raw)
}

/// The URL relative hrefs resolve against: the first `<base href>` (itself
/// resolved against the page URL), else the page URL.
fn base_href(dom: &tl::VDom<'_>, page_url: &Url) -> Url {
    tags(dom, "base")
        .find_map(|tag| {
            let (_, href) = attrs(tag).find(|(name, _)| name.eq_ignore_ascii_case("href"))?;
            page_url.join(&decode_entities(href?.trim())).ok()
        })
        .unwrap_or_else(|| page_url.clone())
}

/// One `<a>` as a file; `None` for anchors without an `href` or with an
/// unsafe filename.
fn parse_anchor(
    tag: &tl::HTMLTag<'_>,
    parser: &tl::Parser<'_>,
    base: &Url,
) -> Result<Option<ProjectFile>, ParseError> {
    let mut anchor = AnchorAttrs::default();
    for (name, value) in attrs(tag) {
        anchor.set(name, value);
    }
    let Some(href) = anchor.href.map(str::trim).filter(|h| !h.is_empty()) else {
        return Ok(None);
    };
    let mut hashes = Hashes::new();
    let url = resolve_file_url(base, &decode_entities(href), &mut hashes)?;
    let filename = match anchor_text(tag, parser).trim() {
        "" => last_segment(&url),
        text => text.to_owned(),
    };
    if !is_safe_filename(&filename) {
        return Ok(None);
    }
    let decoded = |value: &str| decode_entities(value).into_owned();
    Ok(Some(ProjectFile {
        filename,
        url,
        hashes,
        requires_python: anchor.requires_python.map(decoded),
        yanked: match anchor.yanked {
            None => Yanked::No,
            Some(reason) => Yanked::Yes(reason.map(decoded).filter(|r| !r.is_empty())),
        },
        // PEP 714: the new name wins over the legacy one.
        core_metadata: core_metadata(anchor.core_metadata.or(anchor.dist_info_metadata)),
        gpg_sig: anchor.gpg_sig.flatten().and_then(parse_bool),
        size: None,
        upload_time: None,
        provenance: anchor
            .provenance
            .and_then(|p| resolve_provenance(base, &decode_entities(p))),
    }))
}

/// The text of an anchor, entities decoded, ending at a nested `<a>`: with an
/// unclosed or mis-cased `</a>`, `tl` nests every following anchor inside
/// this one. Walks iteratively so deeply nested junk cannot overflow the stack.
fn anchor_text<'p>(anchor: &tl::HTMLTag<'_>, parser: &'p tl::Parser<'_>) -> Cow<'p, str> {
    let children = anchor.children();
    let top = children.top().as_slice();
    if let [only] = top
        && let Some(tl::Node::Raw(raw)) = only.get(parser)
        && let Some(text) = raw.try_as_utf8_str()
    {
        return decode_entities(text);
    }
    let mut text = String::new();
    let mut stack: Vec<tl::NodeHandle> = top.iter().rev().copied().collect();
    while let Some(handle) = stack.pop() {
        match handle.get(parser) {
            Some(tl::Node::Raw(raw)) => text.push_str(&raw.as_utf8_str()),
            Some(tl::Node::Tag(tag)) if tag.name().as_bytes().eq_ignore_ascii_case(b"a") => break,
            Some(tl::Node::Tag(tag)) => {
                stack.extend(tag.children().top().as_slice().iter().rev().copied());
            }
            _ => {}
        }
    }
    Cow::Owned(decode_entities(&text).into_owned())
}

/// The last path segment of `url`, percent-decoded.
fn last_segment(url: &str) -> String {
    let path = Url::parse(url)
        .map(|u| u.path().to_owned())
        .unwrap_or_default();
    percent::decode_lossy(path.rsplit('/').next().unwrap_or_default()).into_owned()
}

/// The anchor attributes larder reads, undecoded; `Some(None)` is an
/// attribute without a value.
#[derive(Default)]
struct AnchorAttrs<'a> {
    href: Option<&'a str>,
    requires_python: Option<&'a str>,
    yanked: Option<Option<&'a str>>,
    core_metadata: Option<Option<&'a str>>,
    dist_info_metadata: Option<Option<&'a str>>,
    gpg_sig: Option<Option<&'a str>>,
    provenance: Option<&'a str>,
}

impl<'a> AnchorAttrs<'a> {
    /// Keeps the first occurrence of each attribute, as HTML does.
    fn set(&mut self, name: &str, value: Option<&'a str>) {
        let is = |n: &str| name.eq_ignore_ascii_case(n);
        if is("href") {
            self.href = self.href.or(value);
        } else if is("data-requires-python") {
            self.requires_python = self.requires_python.or(value);
        } else if is("data-yanked") {
            self.yanked = self.yanked.or(Some(value));
        } else if is("data-core-metadata") {
            self.core_metadata = self.core_metadata.or(Some(value));
        } else if is("data-dist-info-metadata") {
            self.dist_info_metadata = self.dist_info_metadata.or(Some(value));
        } else if is("data-gpg-sig") {
            self.gpg_sig = self.gpg_sig.or(Some(value));
        } else if is("data-provenance") {
            self.provenance = self.provenance.or(value);
        }
    }
}

/// PEP 658 / 714: `false` says there is none; `<alg>=<hex>` gives the hash; any
/// other value (`true`, empty, unrecognized) still announces the file, as
/// PEP 658 ties availability to the attribute's presence.
fn core_metadata(value: Option<Option<&str>>) -> CoreMetadata {
    let Some(value) = value else {
        return CoreMetadata::Absent;
    };
    let value = decode_entities(value.unwrap_or_default().trim());
    if value.eq_ignore_ascii_case("false") {
        return CoreMetadata::No;
    }
    CoreMetadata::Present(parse_hash(&value).into_iter().collect())
}

fn parse_bool(value: &str) -> Option<bool> {
    let value = value.trim();
    if value.eq_ignore_ascii_case("true") {
        Some(true)
    } else if value.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Url {
        Url::parse("http://127.0.0.1:1/simple/foo/").unwrap()
    }

    const SHA: &str = "aabbccddeeff00112233445566778899aabbccddeeff00112233445566778899";

    #[test]
    fn parses_a_pep_503_page() {
        let body = format!(
            r#"<!DOCTYPE html>
<html><head><meta name="pypi:repository-version" content="1.1"><title>Links for foo</title></head>
<body><h1>Links for foo</h1>
<a href="../../packages/ab/foo-1.0.tar.gz#sha256={SHA}" data-requires-python="&gt;=3.8">foo-1.0.tar.gz</a><br/>
<a href="https://files.example/foo-1.0-py3-none-any.whl#SHA256=ABCD" data-yanked="bad &lt;build&gt; &amp; &quot;worse&quot;" data-core-metadata="sha256=EF01" data-dist-info-metadata="true" data-gpg-sig="false">
   foo-1.0-py3-none-any.whl
</a>
<A HREF="/x/foo-2.0.zip?a=1&amp;b=2" data-yanked data-dist-info-metadata="true">foo-2.0.zip</A>
<a href="https://files.example/path/foo-3.0%2Bcpu.tar.gz"></a>
<a>no href</a>
<a href="x">../../etc/passwd</a>
<a href="https://files.example/path/a%2Fb"></a>
</body></html>"#
        );
        let page = parse_project(&body, &base(), "Foo").unwrap();
        assert_eq!(page.name, "Foo");
        assert_eq!(page.versions, ["1.0", "2.0", "3.0+cpu"]);
        let [sdist, wheel, zip, no_text] = page.files.as_slice() else {
            panic!("{:#?}", page.files);
        };
        assert_eq!(sdist.filename, "foo-1.0.tar.gz");
        assert_eq!(sdist.url, "http://127.0.0.1:1/packages/ab/foo-1.0.tar.gz");
        assert_eq!(sdist.sha256(), Some(SHA));
        assert_eq!(sdist.requires_python.as_deref(), Some(">=3.8"));
        assert_eq!(sdist.yanked, Yanked::No);
        assert_eq!(sdist.core_metadata, CoreMetadata::Absent);
        assert_eq!(sdist.gpg_sig, None);

        assert_eq!(wheel.filename, "foo-1.0-py3-none-any.whl");
        assert_eq!(wheel.sha256(), Some("abcd"));
        assert_eq!(
            wheel.yanked,
            Yanked::Yes(Some(r#"bad <build> & "worse""#.into()))
        );
        let want: Hashes = [("sha256".into(), "ef01".into())].into();
        assert_eq!(
            wheel.core_metadata,
            CoreMetadata::Present(want),
            "PEP 714 name wins"
        );
        assert_eq!(wheel.gpg_sig, Some(false));

        assert_eq!(zip.url, "http://127.0.0.1:1/x/foo-2.0.zip?a=1&b=2");
        assert_eq!(zip.yanked, Yanked::Yes(None));
        assert_eq!(zip.core_metadata, CoreMetadata::Present(Hashes::new()));
        assert!(zip.hashes.is_empty());

        assert_eq!(no_text.filename, "foo-3.0+cpu.tar.gz");
    }

    #[test]
    fn reads_legacy_dist_info_metadata_alone() {
        let body = r#"<a href="foo-1.0-py3-none-any.whl" data-dist-info-metadata="sha256=AB">foo-1.0-py3-none-any.whl</a>
<a href="foo-1.1-py3-none-any.whl" data-dist-info-metadata="false">foo-1.1-py3-none-any.whl</a>
<a href="foo-1.2-py3-none-any.whl" data-core-metadata="false" data-dist-info-metadata="true">foo-1.2-py3-none-any.whl</a>"#;
        let page = parse_project(body, &base(), "foo").unwrap();
        let metadata: Vec<_> = page.files.iter().map(|f| f.core_metadata.clone()).collect();
        let want: Hashes = [("sha256".into(), "ab".into())].into();
        assert_eq!(
            metadata,
            [
                CoreMetadata::Present(want),
                CoreMetadata::No,
                CoreMetadata::No
            ]
        );
    }

    #[test]
    fn survives_unclosed_and_miscased_tags() {
        let body = r#"<html><head><META name="pypi:repository-version" content="1.0"><title>x</title>
<body>
<a href="foo-1.0.tar.gz">foo-1.0.tar.gz</A>
<a href="foo-1.1.tar.gz">foo-1.1.tar.gz
<a href="foo-1.2.tar.gz"><span>foo-1.2.tar.gz</span></a>
"#;
        let page = parse_project(body, &base(), "foo").unwrap();
        let names: Vec<_> = page.files.iter().map(|f| f.filename.as_str()).collect();
        assert_eq!(
            names,
            ["foo-1.0.tar.gz", "foo-1.1.tar.gz", "foo-1.2.tar.gz"]
        );
    }

    #[test]
    fn never_panics_on_truncated_pages() {
        let body = format!(
            "<!DOCTYPE html><html><head><meta name=x content=\"1.1\"><base href='/b/'></head>\
             <body><!-- c --><a href=\"x/foo-1.0.tar.gz#sha256={SHA}\" data-yanked \
             data-core-metadata='sha256=ab' data-requires-python=\"&gt;=3\">foo-1.0.tar.gz</a>\
             <a href='é-1.0.zip'>&#xE9;-1.0.zip&amp</a></body></html>"
        );
        for (end, _) in body.char_indices() {
            let _ = parse_project(&body[..end], &base(), "foo");
            let _ = parse_list(&body[..end]);
        }
        let page = parse_project(&body, &base(), "foo").unwrap();
        assert_eq!(page.files.len(), 2);
        assert_eq!(page.files[1].filename, "é-1.0.zip&amp");
    }

    #[test]
    fn honours_base_href() {
        let body =
            r#"<base href="https://mirror.example/pkgs/"><a href="foo-1.0.zip">foo-1.0.zip</a>"#;
        let page = parse_project(body, &base(), "foo").unwrap();
        assert_eq!(page.files[0].url, "https://mirror.example/pkgs/foo-1.0.zip");
    }

    #[test]
    fn bad_href_is_an_error_naming_it() {
        let err = parse_project(r#"<a href="http://[oops/">x</a>"#, &base(), "foo").unwrap_err();
        assert!(err.to_string().contains("`http://[oops/`"), "{err}");
    }

    #[test]
    fn parses_a_project_list() {
        let body = r#"<!DOCTYPE html><html><body>
<a href="/simple/foo/">foo</a><br>
<a href="/simple/bar-baz/"> Bar_Baz </a>
<a href="/simple/amp/">a&amp;b</a>
<a href="/simple/empty/"></a>
</body></html>"#;
        let list = parse_list(body).unwrap();
        assert_eq!(list.projects, ["foo", "Bar_Baz", "a&b"]);
    }

    #[test]
    fn renders_escaped_attributes_and_parses_back() {
        let mut file = crate::index::tests::file("foo-1.0.tar.gz");
        file.hashes.insert("sha256".into(), SHA.into());
        file.hashes.insert("md5".into(), "00ff".into());
        file.requires_python = Some(">=3.8, <4".into());
        file.yanked = Yanked::Yes(Some(r#"broken <a> & "quoted" 'x'"#.into()));
        file.core_metadata = CoreMetadata::Present([("sha256".to_owned(), "ab".to_owned())].into());
        file.gpg_sig = Some(true);
        let mut bare = crate::index::tests::file("foo-2.0-py3-none-any.whl");
        bare.core_metadata = CoreMetadata::Present(Hashes::new());
        let page = ProjectPage {
            name: "foo<script>".into(),
            files: vec![file.clone(), bare],
            versions: vec!["1.0".into(), "2.0".into()],
            status: None,
        };
        let html = render_project(&page, &|f| format!("/files/up/x/{}?a=1&b=2", f.filename));
        assert!(html.starts_with("<!DOCTYPE html>\n"), "{html}");
        assert!(html.contains(r#"<meta name="pypi:repository-version" content="1.4">"#));
        assert!(html.contains("<title>Links for foo&lt;script&gt;</title>"));
        assert!(html.contains(&format!(
            r#"<a href="/files/up/x/foo-1.0.tar.gz?a=1&amp;b=2#sha256={SHA}" data-requires-python="&gt;=3.8, &lt;4" data-yanked="broken &lt;a&gt; &amp; &quot;quoted&quot; &#39;x&#39;" data-core-metadata="sha256=ab" data-dist-info-metadata="sha256=ab" data-gpg-sig="true">foo-1.0.tar.gz</a>"#
        )), "{html}");
        assert!(html.contains(
            r#"data-core-metadata="true" data-dist-info-metadata="true">foo-2.0-py3-none-any.whl<"#
        ));

        let parsed = parse_project(
            &html,
            &Url::parse("http://larder.example/simple/foo/").unwrap(),
            "foo",
        )
        .unwrap();
        let back = &parsed.files[0];
        assert_eq!(
            back.url,
            "http://larder.example/files/up/x/foo-1.0.tar.gz?a=1&b=2"
        );
        assert_eq!(back.sha256(), Some(SHA));
        assert_eq!(back.requires_python, file.requires_python);
        assert_eq!(back.yanked, file.yanked);
        assert_eq!(back.core_metadata, file.core_metadata);
        assert_eq!(back.gpg_sig, Some(true));
        assert_eq!(parsed.versions, ["1.0", "2.0"]);
    }

    #[test]
    fn passes_provenance_and_status_through() {
        const PROVENANCE: &str = "https://files.example/integrity/foo/1.0/a.whl/provenance?x=1&y=2";
        let status = |status: &str, reason: Option<&str>| {
            Some(ProjectStatus {
                status: status.to_owned(),
                reason: reason.map(str::to_owned),
            })
        };
        for (case, head, anchor, want_status, want_provenance, want_core) in [
            (
                "archived with a reason, provenance, metadata said false",
                r#"<meta name="pypi:project-status" content="archived"><meta name="pypi:project-status-reason" content="moved to &lt;bar&gt; &amp; &quot;baz&quot;">"#,
                r#"data-provenance="https://files.example/integrity/foo/1.0/a.whl/provenance?x=1&amp;y=2" data-core-metadata="false""#,
                status("archived", Some(r#"moved to <bar> & "baz""#)),
                Some(PROVENANCE.to_owned()),
                CoreMetadata::No,
            ),
            (
                "active, mis-cased meta, relative provenance",
                r#"<META NAME="PyPI:Project-Status" CONTENT="active">"#,
                r#"DATA-PROVENANCE='../../p/a.whl/provenance'"#,
                status("active", None),
                Some("http://127.0.0.1:1/p/a.whl/provenance".to_owned()),
                CoreMetadata::Absent,
            ),
            (
                "a reason without a status is no status",
                r#"<meta name="pypi:project-status-reason" content="why"><meta name="pypi:project-status" content="">"#,
                r#"data-provenance="""#,
                None,
                None,
                CoreMetadata::Absent,
            ),
        ] {
            let body = format!(
                r#"<html><head>{head}</head><body><a href="a.whl" {anchor}>foo-1.0-py3-none-any.whl</a></body></html>"#
            );
            let parsed = parse_project(&body, &base(), "foo").unwrap();
            assert_eq!(parsed.status, want_status, "{case}");
            let file = &parsed.files[0];
            assert_eq!(file.provenance, want_provenance, "{case}");
            assert_eq!(file.core_metadata, want_core, "{case}");

            let html = render_project(&parsed, &|f| f.url.clone());
            if let Some(status) = &want_status {
                assert!(
                    html.contains(&format!(
                        r#"<meta name="pypi:project-status" content="{}">"#,
                        status.status
                    )),
                    "{case}: {html}"
                );
            }
            assert_eq!(
                html.contains("pypi:project-status-reason"),
                want_status.as_ref().is_some_and(|s| s.reason.is_some()),
                "{case}: {html}"
            );
            // `false` is left out of HTML: pip would read the attribute as "present".
            assert!(!html.contains("metadata="), "{case}: {html}");
            // parse → render → parse keeps these fields.
            let again = parse_project(&html, &base(), "foo").unwrap();
            assert_eq!(again.status, parsed.status, "{case}: {html}");
            assert_eq!(again.files[0].provenance, file.provenance, "{case}: {html}");
        }
    }

    #[test]
    fn renders_first_hash_without_sha256() {
        let mut file = crate::index::tests::file("foo-1.0.tar.gz");
        file.hashes.insert("md5".into(), "00ff".into());
        let page = ProjectPage {
            name: "foo".into(),
            files: vec![file],
            versions: vec![],
            status: None,
        };
        let html = render_project(&page, &|f| f.filename.clone());
        assert!(
            html.contains(r#"<a href="foo-1.0.tar.gz#md5=00ff">foo-1.0.tar.gz</a>"#),
            "{html}"
        );
    }

    #[test]
    fn renders_and_parses_a_list() {
        let list = ProjectList {
            projects: vec!["foo".into(), "a&b".into()],
        };
        let html = render_list(&list, &|name| format!("/simple/{name}/"));
        assert!(
            html.contains(r#"<a href="/simple/a&amp;b/">a&amp;b</a>"#),
            "{html}"
        );
        assert_eq!(parse_list(&html).unwrap(), list);
    }

    #[test]
    fn renders_large_pages_whole() {
        let files: Vec<_> = (0..3000)
            .map(|i| {
                let mut file = crate::index::tests::file(&format!(
                    "foo-1.{i}-cp312-cp312-manylinux_2_17_x86_64.whl"
                ));
                file.hashes.insert("sha256".into(), SHA.into());
                file.requires_python = Some(">=3.8".into());
                file.core_metadata = CoreMetadata::Present(file.hashes.clone());
                file
            })
            .collect();
        let page = ProjectPage {
            name: "foo".into(),
            files,
            versions: vec![],
            status: None,
        };
        let html = render_project(&page, &|f| format!("/files/pypi/{}/{}", SHA, f.filename));
        let estimate: usize = page.files.iter().map(estimated_len).sum();
        assert!(html.len() <= estimate + 400, "{} > {estimate}", html.len());
        let parsed = parse_project(&html, &base(), "foo").unwrap();
        assert_eq!(parsed.files.len(), 3000);
    }
}
