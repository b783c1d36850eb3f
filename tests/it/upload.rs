//! The upload API (legacy multipart at `/` and `/legacy/`, pypicache's
//! `/uploadpackage/`) and authentication, over HTTP: what is accepted, how it
//! is listed, and that every refused upload leaves larder exactly as it was.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::WWW_AUTHENTICATE;
use tokio::io::AsyncWriteExt;

use crate::common::private::{
    Form, PASSWORD, PrivateLarder, basic, blake2b_256_hex, dist, sha256_hex,
};
use crate::common::server::{get_bytes, http};

const LIB_WHEEL: &str = "larder_private_lib-0.3-py3-none-any.whl";
const LIB_SDIST: &str = "larder_private_lib-0.3.tar.gz";

fn lib_wheel_form() -> Form {
    Form::twine("larder-private-lib", "0.3", LIB_WHEEL, &dist(LIB_WHEEL))
}

#[tokio::test]
async fn accepted_uploads_are_listed_with_hashes_requires_python_and_metadata() {
    let private = PrivateLarder::start().await;
    // The wheel through `/legacy/` with the token; the sdist through `/`
    // with a user and password, declaring requires_python itself.
    let answer = private.upload(lib_wheel_form()).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    let sdist = dist(LIB_SDIST);
    let form = Form::twine_fields("larder_private_lib", "0.3", LIB_SDIST, &sdist)
        .text("requires_python", ">=3.9")
        .file("content", LIB_SDIST, &sdist);
    let answer = private.post("/", Some(("alice", PASSWORD)), form).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");

    for prefix in ["/simple/", "/local/simple/"] {
        let (status, page) = private.json_page(prefix, "larder-private-lib").await;
        assert_eq!(status, StatusCode::OK, "{prefix}");
        assert_eq!(page["name"], "larder-private-lib");
        assert_eq!(page["versions"], serde_json::json!(["0.3"]));
        let files = page["files"].as_array().unwrap();
        assert_eq!(files.len(), 2, "{page}");
        let wheel = &files[0];
        assert_eq!(wheel["filename"], LIB_WHEEL);
        assert_eq!(wheel["hashes"]["sha256"], sha256_hex(&dist(LIB_WHEEL)));
        // From the wheel's own METADATA (the form did not say).
        assert_eq!(wheel["requires-python"], ">=3.8");
        assert_eq!(wheel["size"], dist(LIB_WHEEL).len());
        assert!(wheel["upload-time"].as_str().unwrap().ends_with('Z'));
        assert!(wheel.get("yanked").is_none(), "absent means not yanked");
        let metadata_sha = wheel["core-metadata"]["sha256"]
            .as_str()
            .unwrap()
            .to_owned();
        let sdist_entry = &files[1];
        assert_eq!(sdist_entry["filename"], LIB_SDIST);
        assert_eq!(sdist_entry["requires-python"], ">=3.9");
        assert!(sdist_entry.get("core-metadata").is_none(), "{sdist_entry}");

        // The file and its `.metadata` come back byte for byte.
        let base = private.url(prefix);
        let url = reqwest::Url::parse(&format!("{base}larder-private-lib/"))
            .unwrap()
            .join(wheel["url"].as_str().unwrap())
            .unwrap();
        let bytes = get_bytes(url.clone()).await;
        assert_eq!(bytes, dist(LIB_WHEEL));
        let metadata = http().get(format!("{url}.metadata")).send().await.unwrap();
        assert_eq!(metadata.status(), StatusCode::OK);
        let metadata = metadata.bytes().await.unwrap();
        assert_eq!(sha256_hex(&metadata), metadata_sha);
        assert!(metadata.starts_with(b"Metadata-Version: 2.1\nName: larder-private-lib\n"));
    }

    let html = http()
        .get(private.url("/simple/larder-private-lib/"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("data-requires-python=\"&gt;=3.8\""), "{html}");
    assert!(html.contains("data-core-metadata=\"sha256="), "{html}");
    let list = http()
        .get(private.url("/simple/?format=json"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(list.contains("larder-private-lib"), "{list}");
}

#[tokio::test]
async fn refused_uploads_change_nothing() {
    let private = PrivateLarder::start().await;
    let wheel = dist(LIB_WHEEL);
    assert_eq!(
        private.upload(lib_wheel_form()).await.status,
        StatusCode::OK
    );
    let token = private.token.clone();
    let read_token = private.read_token.clone();
    let unknown_token = format!("larder_{}_{}", "0".repeat(16), "1".repeat(64));
    let sdist = dist(LIB_SDIST);
    let app = "larder_private_app-1.0-py3-none-any.whl";
    let other_wheel = dist(app);
    let upload_form = || Form::twine("larder-private-app", "1.0", app, &other_wheel);
    let good = Some(("__token__", token.as_str()));

    // (what, auth, form, status, part of the body)
    type Auth<'a> = Option<(&'a str, &'a str)>;
    let cases: Vec<(&str, Auth<'_>, Form, StatusCode, &str)> = vec![
        (
            "no auth",
            None,
            upload_form(),
            StatusCode::UNAUTHORIZED,
            "authentication required",
        ),
        (
            "wrong password",
            Some(("alice", "wrong")),
            upload_form(),
            StatusCode::UNAUTHORIZED,
            "",
        ),
        (
            "unknown user",
            Some(("mallory", PASSWORD)),
            upload_form(),
            StatusCode::UNAUTHORIZED,
            "",
        ),
        (
            "unknown token",
            Some(("__token__", &unknown_token)),
            upload_form(),
            StatusCode::UNAUTHORIZED,
            "",
        ),
        (
            "not a token",
            Some(("__token__", "pypi-AgEI")),
            upload_form(),
            StatusCode::UNAUTHORIZED,
            "",
        ),
        (
            "read-only token",
            Some(("__token__", &read_token)),
            upload_form(),
            StatusCode::UNAUTHORIZED,
            "",
        ),
        (
            "read-only user",
            Some(("reader", PASSWORD)),
            upload_form(),
            StatusCode::UNAUTHORIZED,
            "",
        ),
        (
            "missing content",
            good,
            Form::twine_fields("larder-private-app", "1.0", app, &other_wheel),
            StatusCode::BAD_REQUEST,
            "the `content` file part is missing",
        ),
        (
            "missing name",
            good,
            Form::default()
                .text(":action", "file_upload")
                .text("version", "1.0")
                .file("content", app, &other_wheel),
            StatusCode::BAD_REQUEST,
            "the `name` field is missing",
        ),
        (
            "filename not matching the name",
            good,
            Form::twine("larder-private-lib", "1.0", app, &other_wheel),
            StatusCode::BAD_REQUEST,
            "is not a file of `larder-private-lib` version `1.0`",
        ),
        (
            "filename not matching the version",
            good,
            Form::twine("larder-private-app", "1.1", app, &other_wheel),
            StatusCode::BAD_REQUEST,
            "version `1.1`",
        ),
        (
            "SHA-256 not matching the bytes",
            good,
            Form::default()
                .text("name", "larder-private-app")
                .text("version", "1.0")
                .text("sha256_digest", &sha256_hex(b"other bytes"))
                .file("content", app, &other_wheel),
            StatusCode::BAD_REQUEST,
            "checksum mismatch for `larder_private_app-1.0-py3-none-any.whl`: expected SHA-256",
        ),
        (
            "BLAKE2b-256 not matching the bytes",
            good,
            Form::default()
                .text("name", "larder-private-app")
                .text("version", "1.0")
                .text("blake2_256_digest", &blake2b_256_hex(b"other bytes"))
                .file("content", app, &other_wheel),
            StatusCode::BAD_REQUEST,
            "expected BLAKE2b-256",
        ),
        (
            "MD5 not matching the bytes",
            good,
            Form::default()
                .text("name", "larder-private-app")
                .text("version", "1.0")
                .text("md5_digest", "0123456789abcdef0123456789abcdef")
                .file("content", app, &other_wheel),
            StatusCode::BAD_REQUEST,
            "expected MD5",
        ),
        (
            "not a wheel zip",
            good,
            Form::twine(
                "larder-private-app",
                "1.0",
                app,
                b"PK\x03\x04 not really a zip",
            ),
            StatusCode::BAD_REQUEST,
            "is not a valid wheel: not a zip archive",
        ),
        (
            "a zip without METADATA",
            good,
            Form::twine("larder-private-app", "1.0", app, &empty_zip()),
            StatusCode::BAD_REQUEST,
            "has no `{name}-{version}.dist-info/METADATA`",
        ),
        (
            "a path in the filename",
            good,
            Form::twine("larder-private-app", "1.0", "../x.whl", &other_wheel),
            StatusCode::BAD_REQUEST,
            "`../x.whl` is not a valid distribution filename",
        ),
        (
            "a directory in the filename",
            good,
            Form::twine(
                "larder-private-app",
                "1.0",
                &format!("sub/{app}"),
                &other_wheel,
            ),
            StatusCode::BAD_REQUEST,
            "path separator",
        ),
        (
            "an sdist called a wheel",
            good,
            Form::default()
                .text("name", "larder-private-lib")
                .text("version", "0.3")
                .text("filetype", "bdist_wheel")
                .file("content", LIB_SDIST, &sdist),
            StatusCode::BAD_REQUEST,
            "`larder_private_lib-0.3.tar.gz` is not a `bdist_wheel`",
        ),
        (
            "the same filename again",
            good,
            lib_wheel_form(),
            StatusCode::CONFLICT,
            "File already exists: `larder_private_lib-0.3-py3-none-any.whl`",
        ),
        (
            "the same filename with other bytes",
            good,
            Form::twine("larder-private-lib", "0.3", LIB_WHEEL, &other_wheel),
            StatusCode::CONFLICT,
            "larder never replaces an uploaded file",
        ),
    ];

    let before = private.snapshot().await;
    assert!(before.staging.is_empty(), "{before:?}");
    let mut unauthorized_body = None;
    for (what, auth, form, status, needle) in cases {
        let answer = private.post("/legacy/", auth, form).await;
        assert_eq!(answer.status, status, "{what}: {answer:?}");
        assert!(answer.body.contains(needle), "{what}: {answer:?}");
        if status == StatusCode::UNAUTHORIZED {
            assert_eq!(
                answer.headers[WWW_AUTHENTICATE], "Basic realm=\"larder\"",
                "{what}"
            );
            // No hint at which part was wrong: every refusal reads the same.
            let body = unauthorized_body.get_or_insert_with(|| answer.body.clone());
            assert_eq!(&answer.body, body, "{what}");
        }
        assert_eq!(private.snapshot().await, before, "{what} changed something");
    }

    // Not multipart at all.
    let response = http()
        .post(private.url("/legacy/"))
        .basic_auth("__token__", Some(&token))
        .body(wheel.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(private.snapshot().await, before);

    // The original upload is untouched.
    let (_, page) = private.json_page("/simple/", "larder-private-lib").await;
    assert_eq!(page["files"][0]["hashes"]["sha256"], sha256_hex(&wheel));
    assert_eq!(page["files"].as_array().unwrap().len(), 1);
}

/// A valid zip that is not a wheel: no members at all.
fn empty_zip() -> Vec<u8> {
    // The smallest valid zip: an empty archive (end of central directory only).
    let mut zip = b"PK\x05\x06".to_vec();
    zip.extend_from_slice(&[0; 18]);
    zip
}

#[tokio::test]
async fn oversized_uploads_are_413_and_change_nothing() {
    let private = PrivateLarder::start_with("[private]\nmax-upload-size = \"64 KiB\"\n").await;
    let before = private.snapshot().await;
    let big = vec![b'x'; 100 * 1024];
    let filename = "larder_private_big-1.0-py3-none-any.whl";
    let answer = private
        .upload(Form::twine("larder-private-big", "1.0", filename, &big))
        .await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE, "{answer:?}");
    assert!(
        answer
            .body
            .contains("larger than the upload limit of 64 KiB"),
        "{answer:?}"
    );
    let answer = private
        .post(
            "/uploadpackage/",
            Some(("__token__", &private.token)),
            Form::default().file("sdist", "larder-private-big-1.0.tar.gz", &big),
        )
        .await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE, "{answer:?}");
    assert_eq!(private.snapshot().await, before);
    // Just under the limit is fine.
    let small = lib_wheel_form();
    assert_eq!(private.upload(small).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_client_cut_off_mid_upload_leaves_no_staging_file() {
    let private = PrivateLarder::start().await;
    let before = private.snapshot().await;
    let content = vec![b'z'; 256 * 1024];
    let filename = "larder_private_cut-1.0-py3-none-any.whl";
    let (content_type, body) =
        Form::twine("larder-private-cut", "1.0", filename, &content).unfinished();
    let sent = &body[..body.len() - 128 * 1024];
    let address = private.larder.base.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    let head = format!(
        "POST /legacy/ HTTP/1.1\r\nHost: {address}\r\nContent-Type: {content_type}\r\n\
         Content-Length: {}\r\nAuthorization: {}\r\n\r\n",
        body.len() + 64,
        basic("__token__", &private.token)
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(sent).await.unwrap();
    stream.flush().await.unwrap();

    // The file part is being staged...
    let staging = private.larder.data_dir.join("staging");
    let mut seen = false;
    for _ in 0..200 {
        if std::fs::read_dir(&staging).unwrap().next().is_some() {
            seen = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(seen, "the upload never reached a staging file");
    // ...when the client goes away.
    drop(stream);
    let mut gone = false;
    for _ in 0..200 {
        if std::fs::read_dir(&staging).unwrap().next().is_none() {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(gone, "a staging file outlived the cut-off upload");
    assert_eq!(private.snapshot().await, before);
    let (status, _) = private
        .json_page("/local/simple/", "larder-private-cut")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn pypicache_upload_endpoint_with_curl() {
    let private = PrivateLarder::start().await;
    let dir = tempfile::tempdir().unwrap();
    let sdist_path = dir.path().join(LIB_SDIST);
    std::fs::write(&sdist_path, dist(LIB_SDIST)).unwrap();
    let wheel_path = dir.path().join(LIB_WHEEL);
    std::fs::write(&wheel_path, dist(LIB_WHEEL)).unwrap();
    let curl = |field: &str, path: &std::path::Path, user: Option<String>| {
        let mut command = tokio::process::Command::new("curl");
        command
            .args([
                "--silent",
                "--show-error",
                "--noproxy",
                "*",
                "--write-out",
                "\n%{http_code}",
            ])
            .arg("--form")
            .arg(format!("{field}=@{}", path.display()));
        if let Some(user) = user {
            command.arg("--user").arg(user);
        }
        command
            .arg(private.url("/uploadpackage/"))
            .kill_on_drop(true);
        async move {
            let output = tokio::time::timeout(Duration::from_secs(60), command.output())
                .await
                .unwrap()
                .unwrap();
            assert!(output.status.success(), "{output:?}");
            let text = String::from_utf8(output.stdout).unwrap();
            let (body, code) = text.rsplit_once('\n').unwrap();
            (code.to_owned(), body.to_owned())
        }
    };
    let token_user = Some(format!("__token__:{}", private.token));

    let (code, body) = curl("sdist", &sdist_path, None).await;
    assert_eq!(code, "401", "{body}");
    let (code, body) = curl("sdist", &sdist_path, token_user.clone()).await;
    assert_eq!(code, "200", "{body}");
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["uploaded"], "ok");
    assert_eq!(json["filename"], LIB_SDIST);
    assert_eq!(json["sha256"], sha256_hex(&dist(LIB_SDIST)));
    let (code, body) = curl("wheel", &wheel_path, Some(format!("alice:{PASSWORD}"))).await;
    assert_eq!(code, "200", "{body}");
    let (code, body) = curl("sdist", &sdist_path, token_user).await;
    assert_eq!(code, "409", "{body}");

    let (_, page) = private.json_page("/simple/", "larder-private-lib").await;
    let names: Vec<_> = page["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["filename"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, [LIB_SDIST, LIB_WHEEL]);
}

#[tokio::test]
async fn reads_can_require_authentication() {
    let private = PrivateLarder::start_with("[auth]\nanonymous-read = false\n").await;
    assert_eq!(
        private.upload(lib_wheel_form()).await.status,
        StatusCode::OK
    );
    let sha = sha256_hex(&dist(LIB_WHEEL));
    let file_path = format!("/files/{sha}/{LIB_WHEEL}");
    for path in [
        "/simple/",
        "/simple/larder-private-lib/",
        "/local/simple/",
        file_path.as_str(),
    ] {
        let response = http().get(private.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(
            response.headers()[WWW_AUTHENTICATE],
            "Basic realm=\"larder\""
        );
        let response = http()
            .get(private.url(path))
            .basic_auth("reader", Some("wrong"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{path}");
        for (user, password) in [
            ("reader", PASSWORD),
            ("alice", PASSWORD),
            ("__token__", private.read_token.as_str()),
            ("__token__", private.token.as_str()),
        ] {
            let response = http()
                .get(private.url(path))
                .basic_auth(user, Some(password))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::OK, "{path} as {user}");
        }
    }
    for open in ["/healthz", "/metrics"] {
        let response = http().get(private.url(open)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{open}");
    }
}

#[tokio::test]
async fn token_commands_create_list_and_revoke() {
    let private = PrivateLarder::start().await;
    let run = private.cli(&["token", "list"]).await;
    run.assert_ok();
    let lines: Vec<_> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{run:?}");
    assert!(lines[0].starts_with("ci\tupload\t"), "{run:?}");
    assert!(lines[1].starts_with("viewer\tread\t"), "{run:?}");
    assert!(
        !run.stdout.contains("larder_"),
        "tokens are never shown again"
    );

    private
        .cli(&["token", "create", "ci"])
        .await
        .assert_err("a token named `ci` exists already");
    private
        .cli(&["token", "create", "bad name"])
        .await
        .assert_err("is not a token name");
    private
        .cli(&["token", "create", "x", "--scope", "admin"])
        .await
        .assert_err("is not a scope");

    assert_eq!(
        private.upload(lib_wheel_form()).await.status,
        StatusCode::OK
    );
    private.cli(&["token", "revoke", "ci"]).await.assert_ok();
    let answer = private
        .upload(Form::twine(
            "larder-private-lib",
            "0.3",
            LIB_SDIST,
            &dist(LIB_SDIST),
        ))
        .await;
    assert_eq!(
        answer.status,
        StatusCode::UNAUTHORIZED,
        "a revoked token fails at once"
    );
    private
        .cli(&["token", "revoke", "ci"])
        .await
        .assert_err("there is no token named `ci`");
}
