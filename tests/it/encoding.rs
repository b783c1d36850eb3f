//! One file name, linked one way: the server's pages and an export's pages
//! percent-encode file names by the same rule, and pip and uv download such
//! files through both.

use std::path::Path;

use bytes::Bytes;
use serde_json::Value;

use crate::common::index::{FixtureIndex, Flavor};
use crate::common::install::{Install, install_package, venv};
use crate::common::larder;
use crate::common::server::{Larder, get_bytes, http};

/// A wheel with a local version (`+` in its file name).
const PLUS_WHEEL: &str = "larder_demo_odd-1.0+local-py3-none-any.whl";
/// A file whose name holds `%`, a space and non-ASCII (not installable, but
/// a file an index may list and a mirror or export must carry).
const ODD_FILE: &str = "larder_demo_weird-1.0 100%-\u{e9}t\u{e9}.tar.gz";

/// Builds [`PLUS_WHEEL`] with the demo distributions' script.
fn plus_wheel(work: &Path) -> Bytes {
    let out = work.join(PLUS_WHEEL);
    let support = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support");
    let script = format!(
        "import sys; sys.path.insert(0, {support:?}); import make_dists as m; \
         name, data, _ = m.wheel('larder-demo-odd', '1.0+local', \
         {{'larder_demo_odd/__init__.py': m.init_py('1.0+local')}}); \
         assert name == {PLUS_WHEEL:?}, name; open({out:?}, 'wb').write(data)",
        support = support.display().to_string(),
        out = out.display().to_string(),
    );
    let status = std::process::Command::new("python3")
        .args(["-c", &script])
        .status()
        .unwrap();
    assert!(status.success(), "building {PLUS_WHEEL} failed");
    Bytes::from(std::fs::read(&out).unwrap())
}

/// The last path segment of every file link of a JSON page, by file name.
fn json_segments(page: &Value) -> Vec<(String, String)> {
    page["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let url = f["url"].as_str().unwrap();
            let segment = url.rsplit('/').next().unwrap().to_owned();
            (f["filename"].as_str().unwrap().to_owned(), segment)
        })
        .collect()
}

/// The last path segment of every `href` of an HTML page, in page order.
fn html_segments(page: &str) -> Vec<String> {
    page.split("href=\"")
        .skip(1)
        .map(|rest| {
            let href = &rest[..rest.find('"').unwrap()];
            let href = href.split('#').next().unwrap();
            href.rsplit('/').next().unwrap().to_owned()
        })
        .collect()
}

async fn server_pages(larder: &Larder, project: &str) -> (Value, String) {
    let url = larder.url(&format!("/simple/{project}/"));
    let json = http()
        .get(&url)
        .header("Accept", "application/vnd.pypi.simple.v1+json")
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let html = http()
        .get(&url)
        .header("Accept", "text/html")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    (serde_json::from_slice(&json).unwrap(), html)
}

#[tokio::test]
async fn server_and_export_link_a_file_name_the_same_way() {
    let work = tempfile::tempdir().unwrap();
    let index = FixtureIndex::start(Flavor::Json).await;
    let wheel = plus_wheel(work.path());
    index.add_file("larder-demo-odd", PLUS_WHEEL, wheel.clone());
    let odd = Bytes::from_static(b"not really a tarball, but bytes an index listed");
    index.add_file("larder-demo-weird", ODD_FILE, odd.clone());

    let data = work.path().join("data");
    let mut server = Larder::start_in(&data, &["--upstream", &index.simple_url()]).await;
    let simple = server.url("/simple/");

    // pip and uv install the `+` wheel through the server.
    for how in [Install::PipIndex(&simple), Install::UvIndex(&simple)] {
        let target = install_package(how, "larder-demo-odd==1.0+local", work.path()).await;
        assert!(
            target.join("larder_demo_odd/__init__.py").exists(),
            "{how:?}"
        );
    }

    // The odd name is linked escaped, and the link fetches the file.
    let mut served = Vec::new();
    for (project, filename, bytes) in [
        ("larder-demo-odd", PLUS_WHEEL, &wheel),
        ("larder-demo-weird", ODD_FILE, &odd),
    ] {
        let (json, html) = server_pages(&server, project).await;
        let segments = json_segments(&json);
        let (_, segment) = segments.iter().find(|(f, _)| f == filename).unwrap();
        assert_eq!(html_segments(&html), vec![segment.to_owned()], "{html}");
        let page = url::Url::parse(&server.url(&format!("/simple/{project}/"))).unwrap();
        let link = json["files"][0]["url"].as_str().unwrap();
        assert_eq!(&get_bytes(page.join(link).unwrap()).await, bytes);
        served.push((project, segment.clone()));
    }
    assert_eq!(served[0].1, "larder_demo_odd-1.0+local-py3-none-any.whl");
    assert_eq!(
        served[1].1,
        "larder_demo_weird-1.0%20100%25-%C3%A9t%C3%A9.tar.gz"
    );
    server.kill().await;

    // The export links them the same way, and installs offline.
    let run = larder(
        work.path(),
        &[
            "export",
            "--cache-dir",
            data.to_str().unwrap(),
            "--project",
            "larder-demo-odd",
            "--project",
            "larder-demo-weird",
            "--to",
            "bundle",
        ],
    )
    .await;
    run.assert_ok();
    let bundle = work.path().join("bundle");
    for (project, segment) in &served {
        let dir = bundle.join("simple").join(project);
        let json: Value =
            serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
        let html = std::fs::read_to_string(dir.join("index.html")).unwrap();
        let exported = json_segments(&json);
        assert_eq!(exported.len(), 1, "{json:#}");
        assert_eq!(&exported[0].1, segment, "{project}: JSON link");
        assert_eq!(
            html_segments(&html),
            vec![segment.to_owned()],
            "{project}: HTML link"
        );
        // The link, decoded, names the exported file.
        let decoded = percent_encoding::percent_decode_str(segment).decode_utf8_lossy();
        assert!(bundle.join("files").join(&*decoded).is_file(), "{decoded}");
    }
    assert_eq!(
        std::fs::read(bundle.join("files").join(ODD_FILE)).unwrap(),
        odd
    );

    let files = bundle.join("files");
    let index_url = format!("file://{}/", bundle.join("simple").display());
    assert!(venv().join("bin/pip").exists());
    for how in [
        Install::PipFindLinks(&files),
        Install::PipIndex(&index_url),
        Install::UvIndex(&index_url),
    ] {
        let target = install_package(how, "larder-demo-odd==1.0+local", work.path()).await;
        assert!(
            target.join("larder_demo_odd/__init__.py").exists(),
            "{how:?}"
        );
    }
}
