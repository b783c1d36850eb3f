//! A real index's sizes: a 750,000-name project list and a 20,000-file page,
//! through every path the list and pages take (both formats, an upload
//! merged in, 304 revalidation, stale serving, a restart with the upstream
//! down). Memory and speed at these sizes are measured in `bench/`.

use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use serde_json::Value;

use crate::common::index::{FixtureIndex, Flavor};
use crate::common::larder;
use crate::common::private::{Form, dist};
use crate::common::server::{Larder, get_text, http};

const MANY: usize = 750_000;
/// Past the configured `page-ttl`.
const TTL: Duration = Duration::from_millis(10_100);
const PRIVATE_SDIST: &str = "larder_private_lib-0.3.tar.gz";

fn config(dir: &Path, index: &FixtureIndex) -> String {
    let path = dir.join("larder.toml");
    std::fs::write(
        &path,
        format!(
            "[[upstream]]\nname = \"main\"\nurl = \"{}\"\npage-ttl = \"10s\"\n",
            index.simple_url()
        ),
    )
    .unwrap();
    path.to_str().unwrap().to_owned()
}

async fn list(larder: &Larder, json: bool) -> (u16, String) {
    let accept = if json {
        "application/vnd.pypi.simple.v1+json"
    } else {
        "text/html"
    };
    let response = http()
        .get(larder.url("/simple/"))
        .header("Accept", accept)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

/// The names of a list in either format, checked to be sorted and unique.
fn names(body: &str, json: bool) -> Vec<String> {
    let names: Vec<String> = if json {
        let value: Value = serde_json::from_str(body).unwrap();
        value["projects"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap().to_owned())
            .collect()
    } else {
        ::larder::index::html::parse_list(body).unwrap().projects
    };
    assert!(names.windows(2).all(|w| w[0] < w[1]), "sorted, unique");
    names
}

#[tokio::test]
async fn a_real_sized_project_list_is_served_merged_revalidated_and_stale() {
    let work = tempfile::tempdir().unwrap();
    let mut index = FixtureIndex::start(Flavor::Html).await;
    index.list_many(MANY);
    let config = config(work.path(), &index);
    let data = work.path().join("data");
    let data_arg = data.to_str().unwrap().to_owned();
    let mut server = Larder::start_in(&data, &["--config", &config]).await;

    // An upload the upstream does not list is merged in.
    let token = larder(
        work.path(),
        &[
            "token",
            "create",
            "ci",
            "--config",
            &config,
            "--cache-dir",
            &data_arg,
        ],
    )
    .await;
    token.assert_ok();
    let (content_type, body) = Form::twine(
        "larder-private-lib",
        "0.3",
        PRIVATE_SDIST,
        &dist(PRIVATE_SDIST),
    )
    .finish();
    let uploaded = http()
        .post(server.url("/legacy/"))
        .basic_auth("__token__", Some(token.last_line()))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(uploaded.status(), 200);

    let mut counts = Vec::new();
    let started = std::time::Instant::now();
    for json in [true, false] {
        let (status, body) = list(&server, json).await;
        assert_eq!(status, 200);
        let names = names(&body, json);
        assert!(names.len() > MANY, "{}", names.len());
        for expected in [
            "many-0",
            "many-749999",
            "larder-demo-app",
            "larder-private-lib",
        ] {
            assert!(
                names.binary_search(&expected.to_owned()).is_ok(),
                "{expected}"
            );
        }
        counts.push(names.len());
    }
    assert_eq!(counts[0], counts[1], "both formats list the same");
    // The list was fetched after `started`: within the TTL of that, one
    // fetch served both formats (a slow machine may take longer).
    if started.elapsed() < TTL {
        assert_eq!(index.hits("/simple/"), 1, "one fetch serves both formats");
    }
    let hits = index.hits("/simple/");

    // Past the TTL, concurrent clients cause one revalidation, a 304.
    tokio::time::sleep(TTL).await;
    let clients: Vec<_> = (0..8)
        .map(|i| {
            let url = server.url("/simple/");
            tokio::spawn(async move {
                let response = http().get(url).send().await.unwrap();
                (
                    i,
                    response.status().as_u16(),
                    response.bytes().await.unwrap().len(),
                )
            })
        })
        .collect();
    for client in clients {
        let (i, status, len) = client.await.unwrap();
        assert_eq!(status, 200, "client {i}");
        assert!(len > MANY * 10, "client {i} got {len} bytes");
    }
    assert_eq!(index.hits("/simple/"), hits + 1, "one revalidation");
    assert_eq!(index.not_modified(), hits, "answered 304");

    // The upstream fails: the held list is served stale.
    index.fail_pages(Some(503));
    tokio::time::sleep(TTL).await;
    let (status, body) = list(&server, true).await;
    assert_eq!(status, 200);
    assert_eq!(names(&body, true).len(), counts[0]);

    // A restart with the upstream gone serves it at once, from disk.
    server.kill().await;
    index.stop().await;
    let server = Larder::start_in(&data, &["--config", &config]).await;
    for json in [true, false] {
        let (status, body) = list(&server, json).await;
        assert_eq!(status, 200);
        assert_eq!(names(&body, json).len(), counts[0]);
    }
}

#[tokio::test]
async fn a_twenty_thousand_file_page_round_trips_through_both_formats() {
    let index = FixtureIndex::start(Flavor::Both).await;
    for i in 0..20_000 {
        let filename = format!("larder_demo_wide-1.{i}-py3-none-any.whl");
        index.add_file(
            "larder-demo-wide",
            &filename,
            Bytes::from(format!("wheel {i}")),
        );
        if i % 3 == 0 {
            index.add_file(
                "larder-demo-wide",
                &format!("{filename}.metadata"),
                Bytes::from(format!(
                    "Metadata-Version: 2.1\nName: larder-demo-wide\nVersion: 1.{i}\n"
                )),
            );
        }
    }
    let server = Larder::start(&["--upstream", &index.simple_url()]).await;
    let page_url = url::Url::parse(&server.url("/simple/larder-demo-wide/")).unwrap();
    let get = |accept: &'static str| {
        let url = page_url.clone();
        async move {
            let response = http()
                .get(url)
                .header("Accept", accept)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
            response.text().await.unwrap()
        }
    };
    let json = get("application/vnd.pypi.simple.v1+json").await;
    let html = get("text/html").await;
    let from_json = ::larder::index::json::parse_project(json.as_bytes(), &page_url).unwrap();
    let from_html =
        ::larder::index::html::parse_project(&html, &page_url, "larder-demo-wide").unwrap();
    assert_eq!(from_json.files.len(), 20_000);
    // PEP 503 HTML has no size or upload time; everything else matches.
    let html_fields = |file: &::larder::model::ProjectFile| ::larder::model::ProjectFile {
        size: None,
        upload_time: None,
        ..file.clone()
    };
    let json_files: Vec<_> = from_json.files.iter().map(html_fields).collect();
    assert!(json_files == from_html.files, "both formats say the same");
    // Every field the upstream gave is there, and each link fetches its file.
    let upstream: Value = serde_json::from_str(
        &http()
            .get(format!("{}larder-demo-wide/", index.simple_url()))
            .header("Accept", "application/vnd.pypi.simple.v1+json")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    )
    .unwrap();
    let ours: Value = serde_json::from_str(&json).unwrap();
    let strip = |files: &Value| -> Vec<Value> {
        files
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                let mut f = f.clone();
                let f_map = f.as_object_mut().unwrap();
                f_map.remove("url");
                // PEP 691: an absent `yanked` is `false`.
                if f_map.get("yanked") == Some(&Value::Bool(false)) {
                    f_map.remove("yanked");
                }
                f
            })
            .collect()
    };
    let (ours, theirs) = (strip(&ours["files"]), strip(&upstream["files"]));
    assert_eq!(ours.len(), theirs.len());
    for (a, b) in ours.iter().zip(&theirs) {
        assert_eq!(a, b);
    }
    for i in [0, 9_999, 19_999] {
        let filename = format!("larder_demo_wide-1.{i}-py3-none-any.whl");
        let file = from_json
            .files
            .iter()
            .find(|f| f.filename == filename)
            .unwrap();
        let body = get_text(&file.url).await;
        assert_eq!(body, format!("wheel {i}"));
    }
}
