//! The Simple API through `larder serve`: formats, negotiation, redirects,
//! unknown projects, freshness, offline and the local-only view.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{ACCEPT, AGE, CONTENT_TYPE, LOCATION, VARY};

use crate::common::index::{FixtureIndex, Flavor};
use crate::common::server::{Larder, get_bytes};

const JSON: &str = "application/vnd.pypi.simple.v1+json";
const HTML: &str = "application/vnd.pypi.simple.v1+html";
const PIP_ACCEPT: &str = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01";

async fn get(url: &str, accept: Option<&str>) -> reqwest::Response {
    let mut request = crate::common::server::http_no_redirects().get(url);
    if let Some(accept) = accept {
        request = request.header(ACCEPT, accept);
    }
    request.send().await.unwrap()
}

async fn json_page(larder: &Larder, project: &str) -> serde_json::Value {
    let response = get(&larder.url(&format!("/simple/{project}/")), Some(JSON)).await;
    assert_eq!(response.status(), StatusCode::OK);
    serde_json::from_slice(&response.bytes().await.unwrap()).unwrap()
}

#[tokio::test]
async fn pages_in_both_formats_from_html_and_json_upstreams() {
    for flavor in [Flavor::Html, Flavor::Json] {
        let index = FixtureIndex::start(flavor).await;
        let larder = Larder::start(&["--upstream", &index.simple_url()]).await;

        let response = get(&larder.url("/simple/larder-demo-util/"), Some(PIP_ACCEPT)).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[CONTENT_TYPE], JSON);
        assert_eq!(response.headers()[VARY], "Accept");
        let page: serde_json::Value =
            serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
        assert_eq!(page["meta"]["api-version"], "1.4");
        assert_eq!(page["versions"], serde_json::json!(["0.5"]));
        let file = &page["files"][0];
        let filename = "larder_demo_util-0.5-py3-none-any.whl";
        assert_eq!(file["filename"], filename);
        assert_eq!(file["hashes"]["sha256"], index.sha256(filename));
        assert_eq!(file["requires-python"], ">=3.8");
        let url = file["url"].as_str().unwrap();
        assert!(url.starts_with("../../files/"), "{url}");
        assert!(file["core-metadata"]["sha256"].is_string(), "{file}");
        assert_eq!(file["core-metadata"], file["dist-info-metadata"]);

        let response = get(&larder.url("/simple/larder-demo-util/"), None).await;
        assert!(
            response.headers()[CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        let html = response.text().await.unwrap();
        assert!(html.contains("data-requires-python=\"&gt;=3.8\""), "{html}");
        assert!(
            html.contains(&format!("#sha256={}", index.sha256(filename))),
            "{html}"
        );
        assert!(html.contains("data-core-metadata=\"sha256="), "{html}");
        assert!(
            html.contains(r#"<meta name="pypi:repository-version" content="1.4">"#),
            "{html}"
        );

        let response = get(
            &larder.url("/simple/larder-demo-util/?format=application/vnd.pypi.simple.v1%2Bhtml"),
            Some(JSON),
        )
        .await;
        assert_eq!(response.headers()[CONTENT_TYPE], HTML);
        // `+` typed literally reaches larder as a space.
        let response = get(
            &larder.url("/simple/larder-demo-util/?format=application/vnd.pypi.simple.v1+json"),
            Some(HTML),
        )
        .await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[CONTENT_TYPE], JSON);

        let response = get(&larder.url("/simple/larder-demo-util/"), Some("image/png")).await;
        assert_eq!(response.status(), StatusCode::NOT_ACCEPTABLE);
    }
}

#[tokio::test]
async fn project_list_in_both_formats() {
    let index = FixtureIndex::start(Flavor::Both).await;
    let larder = Larder::start(&["--upstream", &index.simple_url()]).await;
    let response = get(&larder.simple_url(), Some(JSON)).await;
    let list: serde_json::Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    let names: Vec<&str> = list["projects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"larder-demo-app"), "{list}");
    let html = get(&larder.simple_url(), None).await.text().await.unwrap();
    assert!(html.contains("larder-demo-lib/"), "{html}");
}

#[tokio::test]
async fn non_normalized_names_redirect_and_bad_names_are_rejected() {
    let index = FixtureIndex::start(Flavor::Both).await;
    let larder = Larder::start(&["--upstream", &index.simple_url()]).await;
    for (path, target) in [
        ("/simple/Larder_Demo.Util/", "/simple/larder-demo-util/"),
        ("/simple/larder-demo-util", "/simple/larder-demo-util/"),
        (
            "/simple/LARDER-demo-util?format=json",
            "/simple/larder-demo-util/?format=json",
        ),
        (
            "/local/simple/Larder_Demo_Util/",
            "/local/simple/larder-demo-util/",
        ),
    ] {
        let response = get(&larder.url(path), None).await;
        assert_eq!(response.status(), StatusCode::MOVED_PERMANENTLY, "{path}");
        assert_eq!(response.headers()[LOCATION], target, "{path}");
    }
    for path in [
        "/simple/..%2F..%2Fetc/",
        "/simple/-bad-/",
        "/simple/a%20b/",
        "/simple/http:%2F%2Fevil/",
    ] {
        let response = get(&larder.url(path), None).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{path}");
    }
    for path in [
        "/simple/../../etc/passwd",
        "/nope",
        "/files/",
        "/simple/a/b/c",
    ] {
        let response = get(&larder.url(path), None).await;
        assert!(
            response.status().is_client_error(),
            "{path}: {}",
            response.status()
        );
    }
    assert_eq!(
        index.total_hits(),
        0,
        "bad input never reaches the upstream"
    );
}

#[tokio::test]
async fn unknown_project_is_404_and_remembered() {
    let index = FixtureIndex::start(Flavor::Both).await;
    let larder = Larder::start(&["--upstream", &index.simple_url()]).await;
    for _ in 0..3 {
        let response = get(&larder.url("/simple/no-such-project/"), None).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
    }
    assert_eq!(index.hits("/simple/no-such-project/"), 1);
}

#[tokio::test]
async fn concurrent_page_misses_cause_one_upstream_request() {
    let index = FixtureIndex::start(Flavor::Both).await;
    let larder = Larder::start(&["--upstream", &index.simple_url()]).await;
    let url = larder.url("/simple/larder-demo-lib/");
    let requests = (0..16).map(|_| {
        let url = url.clone();
        tokio::spawn(async move { get(&url, Some(JSON)).await.status() })
    });
    for status in futures::future::join_all(requests).await {
        assert_eq!(status.unwrap(), StatusCode::OK);
    }
    assert_eq!(index.hits("/simple/larder-demo-lib/"), 1);
}

#[tokio::test]
async fn stale_pages_are_served_when_the_upstream_fails() {
    let mut index = FixtureIndex::start(Flavor::Both).await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("larder.toml");
    std::fs::write(
        &config,
        format!(
            "[[upstream]]\nname = \"fixture\"\nurl = \"{}\"\npage-ttl = \"0s\"\nmax-stale = \"1h\"\n",
            index.simple_url()
        ),
    )
    .unwrap();
    let data = dir.path().join("data");
    let mut larder = Larder::start_in(&data, &["--config", config.to_str().unwrap()]).await;
    let fresh = json_page(&larder, "larder-demo-lib").await;

    // TTL 0: the next request revalidates (a 304 from the fixture's ETag).
    json_page(&larder, "larder-demo-lib").await;
    assert_eq!(index.hits("/simple/larder-demo-lib/"), 2);

    index.fail_pages(Some(500));
    let response = get(&larder.url("/simple/larder-demo-lib/"), Some(JSON)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers().contains_key(AGE),
        "a stale page says its age"
    );
    let stale: serde_json::Value =
        serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    assert_eq!(stale, fresh);

    // Pages persist across restarts; an unreachable upstream still gets the stale page.
    larder.kill().await;
    index.stop().await;
    let larder = Larder::start_in(&data, &["--config", config.to_str().unwrap()]).await;
    assert_eq!(json_page(&larder, "larder-demo-lib").await, fresh);
    let response = get(&larder.url("/simple/larder-demo-app/"), Some(JSON)).await;
    assert_eq!(
        response.status(),
        StatusCode::BAD_GATEWAY,
        "never cached, upstream down"
    );
}

#[tokio::test]
async fn offline_serves_cached_pages_and_404s_the_rest() {
    let index = FixtureIndex::start(Flavor::Both).await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut larder = Larder::start_in(&data, &["--upstream", &index.simple_url()]).await;
    let cached = json_page(&larder, "larder-demo-util").await;
    larder.kill().await;

    let hits = index.total_hits();
    let larder = Larder::start_in(&data, &["--upstream", &index.simple_url(), "--offline"]).await;
    assert_eq!(json_page(&larder, "larder-demo-util").await, cached);
    let response = get(&larder.url("/simple/larder-demo-app/"), None).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let file = cached["files"][0]["url"]
        .as_str()
        .unwrap()
        .trim_start_matches("../..");
    let response = get(&larder.url(file), None).await;
    assert_eq!(
        response.status(),
        StatusCode::NOT_FOUND,
        "uncached file offline"
    );
    assert_eq!(
        index.total_hits(),
        hits,
        "offline never contacts the upstream"
    );
}

#[tokio::test]
async fn local_view_lists_only_stored_files() {
    let index = FixtureIndex::start(Flavor::Both).await;
    let larder = Larder::start(&["--upstream", &index.simple_url()]).await;
    let page = json_page(&larder, "larder-demo-lib").await;
    let files = page["files"].as_array().unwrap();
    assert_eq!(files.len(), 2);
    let response = get(&larder.url("/local/simple/larder-demo-lib/"), Some(JSON)).await;
    assert_eq!(
        response.status(),
        StatusCode::NOT_FOUND,
        "nothing stored yet"
    );

    let first = &files[0];
    let url = first["url"].as_str().unwrap().trim_start_matches("../..");
    let bytes = get_bytes(larder.url(url)).await;
    assert_eq!(bytes, index.file_bytes(first["filename"].as_str().unwrap()));

    let hits = index.total_hits();
    let local: serde_json::Value = serde_json::from_slice(
        &get(&larder.url("/local/simple/larder-demo-lib/"), Some(JSON))
            .await
            .bytes()
            .await
            .unwrap(),
    )
    .unwrap();
    let local_files = local["files"].as_array().unwrap();
    assert_eq!(local_files.len(), 1, "{local}");
    assert_eq!(local_files[0]["filename"], first["filename"]);
    assert!(
        local_files[0]["url"]
            .as_str()
            .unwrap()
            .starts_with("../../../files/")
    );
    let list = get(&larder.url("/local/simple/"), None)
        .await
        .text()
        .await
        .unwrap();
    assert!(list.contains("larder-demo-lib"), "{list}");
    assert!(!list.contains("larder-demo-app"), "{list}");
    assert_eq!(
        index.total_hits(),
        hits,
        "the local view never contacts the upstream"
    );
}

#[tokio::test]
async fn without_upstreams_pages_say_how_to_configure_one() {
    let larder = Larder::start(&[]).await;
    let response = get(&larder.url("/simple/anything/"), None).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body = response.text().await.unwrap();
    assert!(body.contains("no upstream is configured"), "{body}");
    assert!(body.contains("--upstream"), "{body}");
}

#[tokio::test]
async fn upstream_timeouts_are_bad_gateway_then_stale() {
    let index = FixtureIndex::start(Flavor::Both).await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("larder.toml");
    std::fs::write(
        &config,
        format!(
            "[client]\nconnect-timeout = \"1s\"\nread-timeout = \"1s\"\nretries = 1\n\
             [[upstream]]\nurl = \"{}\"\npage-ttl = \"0s\"\n",
            index.simple_url()
        ),
    )
    .unwrap();
    let larder = Larder::start(&["--config", config.to_str().unwrap()]).await;
    let cached = json_page(&larder, "larder-demo-util").await;
    index.stall_pages(true);

    let started = std::time::Instant::now();
    let response = get(&larder.url("/simple/larder-demo-app/"), None).await;
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );

    let response = get(&larder.url("/simple/larder-demo-util/"), Some(JSON)).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "a timed-out revalidation serves the stale page"
    );
    assert!(response.headers().contains_key(AGE));
    let page: serde_json::Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    assert_eq!(page, cached);
}

#[tokio::test]
async fn every_request_is_logged_once_with_its_status() {
    let index = FixtureIndex::start(Flavor::Both).await;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("larder.log");
    let larder = Larder::start_with_json_log(&["--upstream", &index.simple_url()], &log).await;
    let ok = get(&larder.url("/simple/larder-demo-lib/?format=json"), None).await;
    assert_eq!(ok.status(), StatusCode::OK);
    let missing = get(&larder.url("/simple/no-such-project/"), None).await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_eq!(larder.terminate().await.code(), Some(0));

    let requests: Vec<serde_json::Value> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .filter(|line: &serde_json::Value| line["target"] == "larder::request")
        .collect();
    let seen: Vec<(String, String, u64)> = requests
        .iter()
        .map(|line| {
            let fields = &line["fields"];
            assert_eq!(line["level"], "INFO", "{line}");
            assert!(fields["micros"].is_u64(), "{line}");
            (
                fields["method"].as_str().unwrap().to_owned(),
                fields["uri"].as_str().unwrap().to_owned(),
                fields["status"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (
                "GET".into(),
                "/simple/larder-demo-lib/?format=json".into(),
                200
            ),
            ("GET".into(), "/simple/no-such-project/".into(), 404),
        ]
    );
}
