//! Simple API pages, HTML (PEP 503) and JSON (PEP 691): generated pages
//! survive render → parse unchanged, and arbitrary bytes never panic the
//! parsers.

use larder::index::{derive_versions, html, json};
use larder::model::{
    CoreMetadata, Hashes, ProjectFile, ProjectList, ProjectPage, ProjectStatus, Yanked,
};
use proptest::prelude::*;
use url::Url;

fn base() -> Url {
    Url::parse("http://127.0.0.1:1/simple/demo/").unwrap()
}

/// Filenames the parsers keep (no separators, controls, `.` or `..`), with
/// the characters HTML must escape.
fn filename() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_.+!&<>\"'=é-]{1,40}".prop_filter("`.` and `..` are unsafe", |name| {
        name != "." && name != ".."
    })
}

/// Absolute URLs the `url` crate leaves as they are, so that parsing one
/// back gives the same text; some with a query holding an `&`.
fn file_url() -> impl Strategy<Value = String> {
    (
        "[a-z0-9]{1,10}",
        proptest::option::of("[a-z]=[0-9]&[a-z]=[0-9]"),
    )
        .prop_map(|(segment, query)| match query {
            Some(query) => format!("http://127.0.0.1:1/files/{segment}?{query}"),
            None => format!("http://127.0.0.1:1/files/{segment}"),
        })
}

fn hash() -> impl Strategy<Value = (String, String)> {
    ("[a-z0-9_]{1,8}", "[0-9a-f]{1,64}")
}

fn hashes() -> impl Strategy<Value = Hashes> {
    proptest::collection::btree_map("[a-z0-9_]{1,8}", "[0-9a-f]{1,64}", 0..3)
}

/// Attribute values and other text kept verbatim.
fn text() -> impl Strategy<Value = String> {
    "\\PC{0,20}"
}

fn yanked() -> impl Strategy<Value = Yanked> {
    prop_oneof![
        Just(Yanked::No),
        Just(Yanked::Yes(None)),
        "\\PC{1,20}".prop_map(|reason| Yanked::Yes(Some(reason))),
    ]
}

/// PEP 792 statuses (known and unknown words) with a reason or none.
fn status() -> impl Strategy<Value = Option<ProjectStatus>> {
    proptest::option::of(
        ("[a-z]{1,12}", proptest::option::of("\\PC{1,20}"))
            .prop_map(|(status, reason)| ProjectStatus { status, reason }),
    )
}

/// PEP 740 provenance URLs, kept verbatim.
fn provenance() -> impl Strategy<Value = Option<String>> {
    proptest::option::of(file_url().prop_map(|url| format!("{url}/provenance")))
}

/// A file as the HTML format can carry it: one hash (the fragment), core
/// metadata with a SHA-256 or none (an upstream's `false` is not written in
/// HTML), and no PEP 700 fields.
fn html_file() -> impl Strategy<Value = ProjectFile> {
    let core_metadata = prop_oneof![
        Just(CoreMetadata::Absent),
        Just(CoreMetadata::Present(Hashes::new())),
        "[0-9a-f]{64}"
            .prop_map(|hex| CoreMetadata::Present(Hashes::from([("sha256".into(), hex)]))),
    ];
    (
        filename(),
        file_url(),
        proptest::option::of(hash()),
        proptest::option::of(text()),
        yanked(),
        core_metadata,
        proptest::option::of(any::<bool>()),
        provenance(),
    )
        .prop_map(
            |(filename, url, hash, requires_python, yanked, core_metadata, gpg_sig, provenance)| {
                ProjectFile {
                    filename,
                    url,
                    hashes: hash.into_iter().collect(),
                    requires_python,
                    yanked,
                    core_metadata,
                    gpg_sig,
                    size: None,
                    upload_time: None,
                    provenance,
                }
            },
        )
}

/// A file as the JSON format carries it: everything.
fn json_file() -> impl Strategy<Value = ProjectFile> {
    let core_metadata = prop_oneof![
        Just(CoreMetadata::Absent),
        Just(CoreMetadata::No),
        hashes().prop_map(CoreMetadata::Present),
    ];
    (
        (
            filename(),
            file_url(),
            hashes(),
            proptest::option::of(text()),
        ),
        (
            yanked(),
            core_metadata,
            proptest::option::of(any::<bool>()),
            proptest::option::of(any::<u64>()),
            proptest::option::of(text()),
            provenance(),
        ),
    )
        .prop_map(
            |(
                (filename, url, hashes, requires_python),
                (yanked, core_metadata, gpg_sig, size, upload_time, provenance),
            )| ProjectFile {
                filename,
                url,
                hashes,
                requires_python,
                yanked,
                core_metadata,
                gpg_sig,
                size,
                upload_time,
                provenance,
            },
        )
}

/// Markup-shaped noise: the tags, attributes and entities the HTML parser
/// looks for, in random order and number.
fn html_soup() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        Just("<a href=\"".to_owned()),
        Just("<a href=".to_owned()),
        Just("<A HREF='".to_owned()),
        Just("<base href=\"".to_owned()),
        Just("\"".to_owned()),
        Just("'".to_owned()),
        Just(">".to_owned()),
        Just("</a>".to_owned()),
        Just(" data-yanked".to_owned()),
        Just(" data-requires-python=\"&gt;=3".to_owned()),
        Just(" data-core-metadata=\"sha256=".to_owned()),
        Just(" data-dist-info-metadata=true".to_owned()),
        Just(" data-gpg-sig=\"false\"".to_owned()),
        Just("#sha256=".to_owned()),
        Just("&amp;".to_owned()),
        Just("&#x".to_owned()),
        Just("&#".to_owned()),
        Just("&".to_owned()),
        Just(";".to_owned()),
        Just("%".to_owned()),
        Just("../".to_owned()),
        Just("http://[".to_owned()),
        Just("<!--".to_owned()),
        Just("<meta name=\"pypi:repository-version\" content=\"".to_owned()),
        Just("<meta name=\"pypi:project-status\" content=\"".to_owned()),
        Just("<meta name=pypi:project-status-reason content=".to_owned()),
        Just(" data-provenance=\"".to_owned()),
        Just(" data-core-metadata=\"false\"".to_owned()),
        "[a-z0-9.=/-]{0,8}",
        "\\PC{0,4}",
    ];
    proptest::collection::vec(token, 0..40).prop_map(|tokens| tokens.concat())
}

proptest! {
    #![proptest_config(crate::config())]

    #[test]
    fn html_pages_round_trip(
        name in text(),
        files in proptest::collection::vec(html_file(), 0..6),
        status in status(),
    ) {
        let versions = derive_versions(&files);
        let page = ProjectPage { name, files, versions, status };
        let rendered = html::render_project(&page, &|file| file.url.clone());
        let parsed = html::parse_project(&rendered, &base(), &page.name).unwrap();
        prop_assert_eq!(parsed, page, "rendered:\n{}", rendered);
    }

    #[test]
    fn json_pages_round_trip(
        name in text(),
        files in proptest::collection::vec(json_file(), 0..6),
        versions in proptest::collection::vec(text(), 0..4),
        status in status(),
    ) {
        let mut page = ProjectPage { name, files, versions, status };
        let rendered = json::render_project(&page, &|file| file.url.clone());
        let parsed = json::parse_project(rendered.as_bytes(), &base()).unwrap();
        // PEP 700 asks for every version, so larder renders them when it has none.
        if page.versions.is_empty() {
            page.versions = derive_versions(&page.files);
        }
        prop_assert_eq!(parsed, page, "rendered:\n{}", rendered);
    }

    #[test]
    fn html_lists_round_trip(projects in proptest::collection::vec("[A-Za-z0-9._<>&\"'-]{1,20}", 0..8)) {
        let list = ProjectList { projects };
        let rendered = html::render_list(&list, &|name| format!("/simple/{name}/"));
        prop_assert_eq!(html::parse_list(&rendered).unwrap(), list, "rendered:\n{}", rendered);
    }

    #[test]
    fn json_lists_round_trip(projects in proptest::collection::vec(text(), 0..8)) {
        let list = ProjectList { projects };
        let rendered = json::render_list(&list);
        prop_assert_eq!(json::parse_list(rendered.as_bytes()).unwrap(), list);
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_parsers(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = html::parse_project(&text, &base(), "demo");
        let _ = html::parse_list(&text);
        let _ = json::parse_project(&bytes, &base());
        let _ = json::parse_list(&bytes);
    }

    #[test]
    fn markup_soup_never_panics_the_html_parser(soup in html_soup()) {
        if let Ok(page) = html::parse_project(&soup, &base(), "demo") {
            // What the parser keeps is safe to use as a path segment.
            for file in &page.files {
                prop_assert!(!file.filename.is_empty());
                prop_assert!(!file.filename.contains(['/', '\\']), "{:?}", file.filename);
                prop_assert!(file.filename != "." && file.filename != "..");
            }
        }
        let _ = html::parse_list(&soup);
    }
}
