//! pypicache's users keep their habits: its index URLs (`-i http://HOST/local`,
//! `-i http://HOST/simple`), its file URLs (`/packages/source/…`), its upload
//! and pre-cache commands, run as its README writes them.

use std::path::Path;

use serde_json::Value;

use crate::common::index::{FixtureIndex, Flavor};
use crate::common::install::{Install, install};
use crate::common::private::{PrivateLarder, dist};
use crate::common::server::{Larder, get_text, http, http_no_redirects};

const LIB_11: &str = "larder_demo_lib-1.1-py3-none-any.whl";
const PRIVATE_SDIST: &str = "larder_private_lib-0.3.tar.gz";

/// Runs `sh -c script` in `dir` and returns (exit code, stdout).
async fn sh(dir: &Path, script: &str) -> (i32, String) {
    let output = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        tokio::process::Command::new("sh")
            .args(["-c", script])
            .current_dir(dir)
            .env_remove("http_proxy")
            .env_remove("HTTP_PROXY")
            .output(),
    )
    .await
    .expect("the command took over 60 s")
    .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

#[tokio::test]
async fn pip_and_uv_install_from_simple_and_local_as_pypicache_spelled_them() {
    let index = FixtureIndex::start(Flavor::Json).await;
    let larder = Larder::start(&["--upstream", &index.simple_url()]).await;
    let work = tempfile::tempdir().unwrap();
    // `pip install -i http://HOST:8080/simple somepackage`: no trailing slash.
    let simple = larder.url("/simple");
    install(Install::PipIndex(&simple), work.path()).await;
    // Now stored: the local view serves it, at `/local` as at `/local/simple`.
    let local = larder.url("/local");
    install(Install::PipIndex(&local), work.path()).await;
    install(Install::UvIndex(&local), work.path()).await;
    let hits = index.total_hits();

    // Both formats, the same redirects for non-normalized names, and links
    // that resolve from the page's own place.
    let page_url = url::Url::parse(&larder.url("/local/larder-demo-lib/")).unwrap();
    let page = http()
        .get(page_url.clone())
        .header("Accept", "application/vnd.pypi.simple.v1+json")
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let page: Value = serde_json::from_slice(&page).unwrap();
    let link = page["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["filename"] == LIB_11)
        .unwrap()["url"]
        .as_str()
        .unwrap();
    let bytes = http()
        .get(page_url.join(link).unwrap())
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(bytes, index.file_bytes(LIB_11));
    let html = get_text(page_url).await;
    assert!(html.contains(LIB_11), "{html}");
    let list = get_text(larder.url("/local/")).await;
    assert!(list.contains("larder-demo-lib"), "{list}");
    let no_redirects = http_no_redirects();
    for (from, to) in [
        ("/local/Larder_Demo_Lib/", "/local/larder-demo-lib/"),
        ("/local/larder-demo-lib", "/local/larder-demo-lib/"),
    ] {
        let response = no_redirects.get(larder.url(from)).send().await.unwrap();
        assert_eq!(response.status(), 301, "{from}");
        assert_eq!(response.headers()["location"], to, "{from}");
    }
    // The local view never asked the upstream.
    assert_eq!(index.total_hits(), hits);
}

#[tokio::test]
async fn pypicache_commands_work_as_its_readme_writes_them() {
    let private = PrivateLarder::start().await;
    let work = tempfile::tempdir().unwrap();
    let host = private.larder.url("");
    std::fs::create_dir(work.path().join("dist")).unwrap();
    std::fs::write(
        work.path().join("dist").join(PRIVATE_SDIST),
        dist(PRIVATE_SDIST),
    )
    .unwrap();

    // `curl -X POST -F sdist=@dist/pkg-1.0.tar.gz http://HOST:8080/uploadpackage/`:
    // larder never takes an upload without credentials, and says so.
    let upload = format!("curl -s -X POST -F sdist=@dist/{PRIVATE_SDIST} {host}/uploadpackage/");
    let (_, body) = sh(work.path(), &format!("{upload} -w '%{{http_code}}'")).await;
    assert!(body.ends_with("401"), "{body}");
    let (code, body) = sh(
        work.path(),
        &format!("{upload} -f -u __token__:{}", private.token),
    )
    .await;
    assert_eq!(code, 0, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["filename"], PRIVATE_SDIST);

    // `pip freeze | curl -X POST -F requirements=@- http://HOST:8080/requirements.txt`:
    // anonymous, like any read, and JSON.
    let (code, body) = sh(
        work.path(),
        &format!(
            "printf 'larder-demo-lib==1.1\\n' | curl -s -f -X POST -F requirements=@- {host}/requirements.txt"
        ),
    )
    .await;
    assert_eq!(code, 0, "{body}");
    let report: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(report["ok"], true, "{report:#}");
    assert_eq!(private.index.hits(&format!("/packages/{LIB_11}")), 1);

    // `GET /packages/source/m/mypackage/mypackage-1.0.tar.gz`: stored, uploaded
    // and not yet cached files alike, with HEAD and Range.
    let lib_url = format!("{host}/packages/source/l/larder-demo-lib/{LIB_11}");
    let (code, _) = sh(work.path(), &format!("curl -s -f -O {lib_url}")).await;
    assert_eq!(code, 0);
    assert_eq!(
        std::fs::read(work.path().join(LIB_11)).unwrap(),
        private.index.file_bytes(LIB_11)
    );
    assert_eq!(
        private.index.hits(&format!("/packages/{LIB_11}")),
        1,
        "served from the store"
    );
    let (code, head) = sh(work.path(), &format!("curl -s -f -I {lib_url}")).await;
    assert_eq!(code, 0);
    let length = format!("content-length: {}", private.index.file_bytes(LIB_11).len());
    assert!(head.to_ascii_lowercase().contains(&length), "{head}");
    let (_, ranged) = sh(work.path(), &format!("curl -s -f -r 0-9 {lib_url} | wc -c")).await;
    assert_eq!(ranged.trim(), "10");
    let private_url = format!("{host}/packages/source/l/larder-private-lib/{PRIVATE_SDIST}");
    let (code, _) = sh(
        work.path(),
        &format!("curl -s -f -o got.tar.gz {private_url}"),
    )
    .await;
    assert_eq!(code, 0);
    assert_eq!(
        std::fs::read(work.path().join("got.tar.gz")).unwrap(),
        dist(PRIVATE_SDIST)
    );
    // Not stored yet: found on the page and fetched once.
    let util = "larder_demo_util-0.5-py3-none-any.whl";
    let (code, _) = sh(
        work.path(),
        &format!("curl -s -f -o util.whl {host}/packages/source/l/larder-demo-util/{util}"),
    )
    .await;
    assert_eq!(code, 0);
    assert_eq!(private.index.hits(&format!("/packages/{util}")), 1);
}

#[tokio::test]
async fn bad_packages_source_paths_never_reach_an_upstream() {
    let private = PrivateLarder::start().await;
    let before = private.index.total_hits();
    for (path, status) in [
        // Not the project's letter.
        ("/packages/source/x/larder-demo-lib/{LIB_11}", 404),
        ("/packages/source/ll/larder-demo-lib/{LIB_11}", 404),
        // Not a project name.
        ("/packages/source/l/la%20rder!/{LIB_11}", 400),
        // Too short or too long.
        ("/packages/source/l/larder-demo-lib/", 404),
        ("/packages/source/l/larder-demo-lib/{LIB_11}/more", 404),
        ("/packages/source/l/", 404),
    ] {
        let url = private.larder.url(&path.replace("{LIB_11}", LIB_11));
        let response = http().get(&url).send().await.unwrap();
        assert_eq!(response.status(), status, "{path}");
    }
    assert_eq!(private.index.total_hits(), before, "an upstream was asked");
    // A name the page does not list is 404 (the page is asked, no file is).
    let response = http()
        .get(
            private
                .larder
                .url("/packages/source/l/larder-demo-lib/larder_demo_lib-9.9-py3-none-any.whl"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let body = response.text().await.unwrap();
    assert!(body.contains("lists no file"), "{body}");
    assert_eq!(
        private
            .index
            .hits("/packages/larder_demo_lib-9.9-py3-none-any.whl"),
        0
    );
}

#[tokio::test]
async fn put_uploads_once_and_needs_a_token() {
    let private = PrivateLarder::start().await;
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join(PRIVATE_SDIST), dist(PRIVATE_SDIST)).unwrap();
    let url = private.larder.url(&format!(
        "/packages/source/l/larder-private-lib/{PRIVATE_SDIST}"
    ));
    let put =
        |auth: &str| format!("curl -s -T {PRIVATE_SDIST} {auth} -w '\\n%{{http_code}}' {url}");

    let (_, out) = sh(work.path(), &put("")).await;
    assert!(out.ends_with("401"), "{out}");
    let (status, _) = private
        .json_page("/local/simple/", "larder-private-lib")
        .await;
    assert_eq!(status, 404, "a refused upload stored nothing");

    let token = format!("-u __token__:{}", private.token);
    let (_, out) = sh(work.path(), &put(&token)).await;
    assert!(out.ends_with("200"), "{out}");
    let (status, page) = private
        .json_page("/local/simple/", "larder-private-lib")
        .await;
    assert_eq!(status, 200);
    assert_eq!(page["files"][0]["filename"], PRIVATE_SDIST);

    let (_, out) = sh(work.path(), &put(&token)).await;
    assert!(out.ends_with("409"), "{out}");
    assert!(out.contains("never replaces"), "{out}");

    // Under another project's path: refused before anything is read.
    let wrong = private.larder.url(&format!(
        "/packages/source/l/larder-demo-lib/{PRIVATE_SDIST}"
    ));
    let (_, out) = sh(
        work.path(),
        &format!("curl -s -T {PRIVATE_SDIST} {token} -w '\\n%{{http_code}}' {wrong}"),
    )
    .await;
    assert!(out.ends_with("400"), "{out}");
}

#[tokio::test]
async fn requirements_posts_answer_json_and_follow_the_read_policy() {
    let private = PrivateLarder::start_with("[auth]\nanonymous-read = false\n").await;
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("req.txt"), "larder-demo-lib==1.1\n").unwrap();
    std::fs::write(
        work.path().join("bad.txt"),
        "larder-demo-lib\nlarder-demo-util ===\n",
    )
    .unwrap();
    let url = private.larder.url("/requirements.txt");
    let post = |file: &str, auth: &str| {
        format!("curl -s {auth} -F requirements=@{file} -w '\\n%{{http_code}}' {url}")
    };
    let split = |out: &str| {
        let (body, code) = out.rsplit_once('\n').unwrap();
        (
            code.to_owned(),
            serde_json::from_str::<Value>(body).unwrap(),
        )
    };

    // Reads need credentials here, so warming does: a JSON 401.
    let (code, json) = split(&sh(work.path(), &post("req.txt", "")).await.1);
    assert_eq!(code, "401");
    assert_eq!(json["ok"], false, "{json}");
    // A read token is enough.
    let read = format!("-u __token__:{}", private.read_token);
    let (code, json) = split(&sh(work.path(), &post("req.txt", &read)).await.1);
    assert_eq!(code, "200", "{json}");
    assert_eq!(json["ok"], true, "{json}");
    // A file that does not parse is a 400 naming the line; nothing is fetched.
    let hits = private.index.total_hits();
    let (code, json) = split(&sh(work.path(), &post("bad.txt", &read)).await.1);
    assert_eq!(code, "400", "{json}");
    assert!(
        json["error"].as_str().unwrap().contains("bad.txt:2"),
        "{json}"
    );
    assert_eq!(private.index.total_hits(), hits);
}

#[tokio::test]
async fn the_root_names_the_urls_to_use() {
    let larder = Larder::start(&[]).await;
    let response = http().get(larder.url("/")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let page = response.text().await.unwrap();
    let base = larder.url("");
    for url in [
        format!("{base}/simple/"),
        format!("{base}/local/"),
        format!("{base}/uploadpackage/"),
    ] {
        assert!(page.contains(&url), "{url} not in {page}");
    }
    // `--index-url http://HOST:PORT` without `/simple/`: a 404 that says so.
    let response = http().get(larder.url("/six/")).send().await.unwrap();
    assert_eq!(response.status(), 404);
    let body = response.text().await.unwrap();
    assert!(body.contains("missing `/simple/`"), "{body}");
}
