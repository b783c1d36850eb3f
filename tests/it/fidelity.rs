//! The index API as clients use it now: one digest under several names, and
//! the Simple API 1.2–1.4 fields (provenance, project status, an explicit
//! `core-metadata: false`) passed through larder to real pip and uv.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::index::{FixtureIndex, Flavor};
use crate::common::install::{Install, install, pip_download};
use crate::common::server::{Larder, http};

const PROJECT: &str = "larder-demo-lib";
const ANY: &str = "larder_demo_lib-1.1-py3-none-any.whl";
/// The same bytes under another platform tag, listed after `ANY`: with links
/// keyed by digest alone, it was the only name larder would fetch cold.
const WINDOWS: &str = "larder_demo_lib-1.1-py3-none-win_amd64.whl";
/// An sdist: no core metadata, which `announce_more` makes its page say.
const APP_SDIST: &str = "larder_demo_app-1.0.tar.gz";
const APP: &str = "larder-demo-app";

/// Lists `ANY`'s bytes and METADATA under `WINDOWS` too.
fn add_second_name(index: &FixtureIndex) {
    index.add_file(PROJECT, WINDOWS, index.file_bytes(ANY));
    let metadata = index.file_bytes(&format!("{ANY}.metadata"));
    index.add_file(PROJECT, &format!("{WINDOWS}.metadata"), metadata);
}

async fn page(larder: &Larder, project: &str, query: &str) -> reqwest::Response {
    let response = http()
        .get(larder.url(&format!("/simple/{project}/{query}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{query}");
    response
}

async fn json_page(larder: &Larder, project: &str) -> Value {
    let body = page(larder, project, "?format=json").await.bytes().await;
    serde_json::from_slice(&body.unwrap()).unwrap()
}

async fn html_page(larder: &Larder, project: &str) -> String {
    let response = page(larder, project, "?format=html").await;
    response.text().await.unwrap()
}

fn file<'a>(page: &'a Value, filename: &str) -> &'a Value {
    page["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["filename"] == filename)
        .unwrap_or_else(|| panic!("{filename} not on {page}"))
}

#[tokio::test]
async fn every_name_of_one_digest_is_served_cold_with_its_metadata() {
    for flavor in [Flavor::Html, Flavor::Json] {
        let index = FixtureIndex::start(flavor).await;
        add_second_name(&index);
        let larder = Larder::start(&["--upstream", &index.simple_url()]).await;
        let page = json_page(&larder, PROJECT).await;
        assert_eq!(
            file(&page, ANY)["hashes"],
            file(&page, WINDOWS)["hashes"],
            "{flavor:?}"
        );

        // Nothing is stored yet: the name listed first, then its metadata,
        // then the other name's metadata, each fetched from its own URL.
        let client = http();
        for (dist, suffix) in [
            (ANY, ".metadata"),
            (ANY, ""),
            (WINDOWS, ".metadata"),
            (WINDOWS, ""),
        ] {
            let path = larder.file_path(PROJECT, dist).await;
            let response = client
                .get(larder.url(&format!("{path}{suffix}")))
                .send()
                .await
                .unwrap();
            let filename = format!("{dist}{suffix}");
            assert_eq!(response.status(), StatusCode::OK, "{flavor:?} {filename}");
            let body = response.bytes().await.unwrap();
            assert!(body == index.file_bytes(&filename), "{flavor:?} {filename}");
        }
        assert_eq!(index.hits(&format!("/packages/{ANY}.metadata")), 1);
        assert_eq!(index.hits(&format!("/packages/{ANY}")), 1);
        // The blob is stored once and served under the other name too.
        assert_eq!(index.hits(&format!("/packages/{WINDOWS}")), 0);
    }
}

#[tokio::test]
async fn pip_and_uv_read_larders_1_4_pages() {
    for flavor in [Flavor::Html, Flavor::Json] {
        let index = FixtureIndex::start(flavor).await;
        add_second_name(&index);
        index.announce_more();
        index.set_status(PROJECT, "active", Some("maintained <again> & \"well\""));
        let larder = Larder::start(&["--upstream", &index.simple_url()]).await;

        let page = json_page(&larder, PROJECT).await;
        assert_eq!(page["meta"]["api-version"], "1.4", "{flavor:?}");
        assert_eq!(
            page["project-status"],
            json!({"status": "active", "reason": "maintained <again> & \"well\""}),
            "{flavor:?}"
        );
        for filename in [ANY, WINDOWS] {
            let listed = file(&page, filename);
            assert_eq!(
                listed["provenance"],
                index.provenance_url(filename),
                "{flavor:?}"
            );
        }
        let app = json_page(&larder, APP).await;
        assert_eq!(app.get("project-status"), None, "{flavor:?}: not said");
        let sdist = file(&app, APP_SDIST);
        assert_eq!(sdist["core-metadata"], json!(false), "{flavor:?} {sdist}");
        assert_eq!(sdist["dist-info-metadata"], json!(false), "{flavor:?}");

        let html = html_page(&larder, PROJECT).await;
        assert!(
            html.contains(r#"<meta name="pypi:repository-version" content="1.4">"#),
            "{html}"
        );
        assert!(
            html.contains(r#"<meta name="pypi:project-status" content="active">"#),
            "{html}"
        );
        assert!(
            html.contains(r#"<meta name="pypi:project-status-reason" content="maintained &lt;again&gt; &amp; &quot;well&quot;">"#),
            "{html}"
        );
        assert!(
            html.contains(&format!(
                r#"data-provenance="{}""#,
                index.provenance_url(WINDOWS)
            )),
            "{html}"
        );
        let html = html_page(&larder, APP).await;
        assert!(!html.contains("pypi:project-status"), "{html}");
        let sdist_line = html.lines().find(|l| l.contains(APP_SDIST)).unwrap();
        assert!(!sdist_line.contains("metadata"), "{sdist_line}");

        // The installers parse these pages themselves; on Linux both pick
        // the name listed first, which only a link per name lets them fetch.
        let work = tempfile::tempdir().unwrap();
        let simple = larder.simple_url();
        let downloaded = pip_download(&simple, "larder-demo-lib==1.1", work.path()).await;
        assert_eq!(downloaded, [ANY], "{flavor:?}");
        install(Install::UvIndex(&simple), work.path()).await;
        install(Install::PipIndex(&simple), work.path()).await;
        assert_eq!(index.hits(&format!("/packages/{WINDOWS}")), 0);
    }
}

#[tokio::test]
async fn project_status_is_kept_with_the_page_and_refreshed_with_it() {
    let mut index = FixtureIndex::start(Flavor::Html).await;
    index.announce_more();
    index.set_status(PROJECT, "archived", Some("moved to <elsewhere>"));
    let work = tempfile::tempdir().unwrap();
    let config = work.path().join("larder.toml");
    let toml = format!(
        "[[upstream]]\nname = \"main\"\nurl = \"{}\"\npage-ttl = \"0s\"\n",
        index.simple_url()
    );
    std::fs::write(&config, toml).unwrap();
    let data = work.path().join("data");
    let args = ["--config", config.to_str().unwrap()];
    let archived = json!({"status": "archived", "reason": "moved to <elsewhere>"});

    let mut larder = Larder::start_in(&data, &args).await;
    assert_eq!(
        json_page(&larder, PROJECT).await["project-status"],
        archived
    );
    json_page(&larder, APP).await;
    larder.kill().await;

    // A restart with the upstream down: the page comes from the catalog,
    // larder's own JSON, with everything the upstream said.
    index.stop().await;
    let larder = Larder::start_in(&data, &args).await;
    let page = json_page(&larder, PROJECT).await;
    assert_eq!(page["project-status"], archived, "{page}");
    assert_eq!(file(&page, ANY)["provenance"], index.provenance_url(ANY));
    let app = json_page(&larder, APP).await;
    assert_eq!(
        file(&app, APP_SDIST)["core-metadata"],
        json!(false),
        "{app}"
    );

    // The upstream changes its mind: the refreshed page says so.
    index.restart().await;
    index.set_status(PROJECT, "active", None);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let page = json_page(&larder, PROJECT).await;
        if page["project-status"] == json!({"status": "active"}) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not refreshed: {page}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
