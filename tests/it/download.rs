//! `larder download` and its download cache, against a real HTTP server.

use std::path::Path;

use md5::{Digest, Md5};
use sha2::Sha256;

use crate::common::{FixtureServer, larder, tree};

const BODY: &[u8] = b"the first version\n";
const CHANGED: &[u8] = b"the upstream changed this file\n";

fn md5_hex(bytes: &[u8]) -> String {
    hex::encode(Md5::digest(bytes))
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn read(path: impl AsRef<Path>) -> Vec<u8> {
    std::fs::read(path.as_ref()).unwrap_or_else(|e| panic!("{}: {e}", path.as_ref().display()))
}

struct Setup {
    server: FixtureServer,
    work: tempfile::TempDir,
}

impl Setup {
    async fn new() -> Self {
        let server = FixtureServer::start().await;
        server.put("/dist/foo-1.0.tar.gz", BODY);
        let work = tempfile::tempdir().unwrap();
        std::fs::create_dir(work.path().join("cache")).unwrap();
        Self { server, work }
    }

    fn dir(&self) -> &Path {
        self.work.path()
    }

    fn cache(&self) -> String {
        self.dir().join("cache").display().to_string()
    }

    fn url(&self) -> String {
        self.server.url("/dist/foo-1.0.tar.gz")
    }
}

#[tokio::test]
async fn without_cache_downloads_to_basename_in_cwd() {
    let s = Setup::new().await;
    let run = larder(s.dir(), &["download", &s.url()]).await;
    run.assert_ok();
    assert_eq!(run.last_line(), "foo-1.0.tar.gz");
    assert_eq!(read(s.dir().join("foo-1.0.tar.gz")), BODY);
    assert_eq!(tree(s.dir()), ["cache", "foo-1.0.tar.gz"]);
}

#[tokio::test]
async fn without_cache_output_path_is_used() {
    let s = Setup::new().await;
    let out = s.dir().join("renamed.tgz");
    let run = larder(
        s.dir(),
        &["download", &s.url(), "-o", out.to_str().unwrap()],
    )
    .await;
    assert_eq!(run.assert_ok().last_line(), out.to_str().unwrap());
    assert_eq!(read(&out), BODY);
}

#[tokio::test]
async fn local_path_without_cache_or_output_is_returned_as_itself() {
    let s = Setup::new().await;
    let local = s.dir().join("local.txt");
    std::fs::write(&local, BODY).unwrap();
    let run = larder(s.dir(), &["download", local.to_str().unwrap()]).await;
    assert_eq!(run.assert_ok().last_line(), local.to_str().unwrap());
    assert_eq!(tree(s.dir()), ["cache", "local.txt"]);
}

#[tokio::test]
async fn missing_file_is_an_error_and_leaves_nothing() {
    let s = Setup::new().await;
    let run = larder(s.dir(), &["download", &s.server.url("/nope.tgz")]).await;
    run.assert_err("404");
    assert_eq!(tree(s.dir()), ["cache"]);
}

#[tokio::test]
async fn cached_copy_is_kept_even_when_upstream_changes() {
    let s = Setup::new().await;
    let cache = s.cache();
    let run = larder(s.dir(), &["download", &s.url(), "--cache", &cache]).await;
    let cached = s.dir().join("cache/foo-1.0.tar.gz");
    assert_eq!(run.assert_ok().last_line(), cached.to_str().unwrap());
    assert_eq!(read(&cached), BODY);

    s.server.put("/dist/foo-1.0.tar.gz", CHANGED);
    let run = larder(s.dir(), &["download", &s.url(), "--cache", &cache]).await;
    assert_eq!(run.assert_ok().last_line(), cached.to_str().unwrap());
    assert_eq!(read(&cached), BODY);
    assert_eq!(s.server.hits("/dist/foo-1.0.tar.gz"), 1);

    // Base-name naming: another URL with the same base name gets the cached copy.
    let other = s.server.url("/elsewhere/foo-1.0.tar.gz");
    let run = larder(s.dir(), &["download", &other, "--cache", &cache]).await;
    assert_eq!(run.assert_ok().last_line(), cached.to_str().unwrap());
    assert_eq!(s.server.hits("/elsewhere/foo-1.0.tar.gz"), 0);
    assert_eq!(tree(&s.dir().join("cache")), ["foo-1.0.tar.gz"]);
}

#[tokio::test]
async fn namespace_folder_is_created_on_demand() {
    let s = Setup::new().await;
    let run = larder(
        s.dir(),
        &[
            "download",
            &s.url(),
            "--cache",
            &s.cache(),
            "--namespace",
            "cmmi",
        ],
    )
    .await;
    let cached = s.dir().join("cache/cmmi/foo-1.0.tar.gz");
    assert_eq!(run.assert_ok().last_line(), cached.to_str().unwrap());
    assert_eq!(read(&cached), BODY);

    let run = larder(
        s.dir(),
        &[
            "download",
            &s.url(),
            "--cache",
            &s.cache(),
            "--namespace",
            "../escape",
        ],
    )
    .await;
    run.assert_err("namespace");
    assert_eq!(
        tree(&s.dir().join("cache")),
        ["cmmi", "cmmi/foo-1.0.tar.gz"]
    );
}

#[tokio::test]
async fn hash_names_keep_same_basenames_apart() {
    let s = Setup::new().await;
    s.server.put("/other/foo-1.0.tar.gz", CHANGED);
    let first = s.url();
    let second = s.server.url("/other/foo-1.0.tar.gz");
    for (url, body) in [(&first, BODY), (&second, CHANGED)] {
        let run = larder(
            s.dir(),
            &["download", url, "--cache", &s.cache(), "--hash-name"],
        )
        .await;
        let cached = s.dir().join("cache").join(md5_hex(url.as_bytes()));
        assert_eq!(run.assert_ok().last_line(), cached.to_str().unwrap());
        assert_eq!(read(&cached), body);
    }
    assert_eq!(tree(&s.dir().join("cache")).len(), 2);
}

#[tokio::test]
async fn checksums_are_checked_on_fresh_downloads() {
    let s = Setup::new().await;
    let cache = s.cache();
    for (flag, good) in [("--md5", md5_hex(BODY)), ("--sha256", sha256_hex(BODY))] {
        let bad = "0".repeat(good.len());
        let run = larder(
            s.dir(),
            &["download", &s.url(), "--cache", &cache, flag, &bad],
        )
        .await;
        run.assert_err("checksum mismatch").assert_err(&s.url());
        assert!(
            tree(&s.dir().join("cache")).is_empty(),
            "nothing cached or left behind"
        );

        let run = larder(s.dir(), &["download", &s.url(), flag, &bad]).await;
        run.assert_err("checksum mismatch");
        assert_eq!(tree(s.dir()), ["cache"], "no file without cache either");

        let run = larder(
            s.dir(),
            &["download", &s.url(), "--cache", &cache, flag, &good],
        )
        .await;
        run.assert_ok();
        std::fs::remove_file(s.dir().join("cache/foo-1.0.tar.gz")).unwrap();
    }
}

#[tokio::test]
async fn checksums_are_checked_on_cached_copies_and_local_files() {
    let s = Setup::new().await;
    let cache = s.cache();
    larder(s.dir(), &["download", &s.url(), "--cache", &cache])
        .await
        .assert_ok();
    let wrong = md5_hex(b"something else");
    let run = larder(
        s.dir(),
        &["download", &s.url(), "--cache", &cache, "--md5", &wrong],
    )
    .await;
    run.assert_err("checksum mismatch").assert_err("cached");
    assert_eq!(
        read(s.dir().join("cache/foo-1.0.tar.gz")),
        BODY,
        "cached copy kept"
    );

    let local = s.dir().join("local.txt");
    std::fs::write(&local, BODY).unwrap();
    let run = larder(
        s.dir(),
        &["download", local.to_str().unwrap(), "--md5", &wrong],
    )
    .await;
    run.assert_err("checksum mismatch")
        .assert_err("local resource");
    let good = md5_hex(BODY);
    let run = larder(
        s.dir(),
        &["download", local.to_str().unwrap(), "--md5", &good],
    )
    .await;
    run.assert_ok();
}

#[tokio::test]
async fn output_gets_a_copy_on_fresh_download_and_from_cache() {
    let s = Setup::new().await;
    let cache = s.cache();
    for name in ["fresh.tgz", "from-cache.tgz"] {
        let out = s.dir().join(name);
        let run = larder(
            s.dir(),
            &[
                "download",
                &s.url(),
                "--cache",
                &cache,
                "-o",
                out.to_str().unwrap(),
            ],
        )
        .await;
        assert_eq!(run.assert_ok().last_line(), out.to_str().unwrap());
        assert_eq!(read(&out), BODY);
    }
    assert_eq!(s.server.hits("/dist/foo-1.0.tar.gz"), 1);
    assert_eq!(read(s.dir().join("cache/foo-1.0.tar.gz")), BODY);
}

#[tokio::test]
async fn offline_refuses_uncached_urls_but_uses_cache_and_local_files() {
    let s = Setup::new().await;
    let cache = s.cache();
    let run = larder(
        s.dir(),
        &["download", &s.url(), "--cache", &cache, "--offline"],
    )
    .await;
    run.assert_err("offline mode").assert_err(&s.url());
    assert_eq!(s.server.hits("/dist/foo-1.0.tar.gz"), 0);

    larder(s.dir(), &["download", &s.url(), "--cache", &cache])
        .await
        .assert_ok();
    let run = larder(
        s.dir(),
        &["download", &s.url(), "--cache", &cache, "--offline"],
    )
    .await;
    run.assert_ok();
    assert_eq!(s.server.hits("/dist/foo-1.0.tar.gz"), 1);

    let local = s.dir().join("local.txt");
    std::fs::write(&local, CHANGED).unwrap();
    let file_url = format!("file://{}", local.display());
    let run = larder(
        s.dir(),
        &["download", &file_url, "--cache", &cache, "--offline"],
    )
    .await;
    let cached = s.dir().join("cache/local.txt");
    assert_eq!(run.assert_ok().last_line(), cached.to_str().unwrap());
    assert_eq!(
        read(&cached),
        CHANGED,
        "local resources are copied into the cache"
    );
}

#[tokio::test]
async fn missing_cache_directory_is_an_error_and_not_created() {
    let s = Setup::new().await;
    let missing = s.dir().join("no-such-cache");
    let run = larder(
        s.dir(),
        &["download", &s.url(), "--cache", missing.to_str().unwrap()],
    )
    .await;
    run.assert_err("does not exist");
    assert!(!missing.exists());
}

#[tokio::test]
async fn fallback_prefers_network_and_falls_back_to_cache() {
    let mut s = Setup::new().await;
    let cache = s.cache();
    let cached = s.dir().join("cache/foo-1.0.tar.gz");
    larder(s.dir(), &["download", &s.url(), "--cache", &cache])
        .await
        .assert_ok();

    // The network wins while it works: the cached copy is replaced.
    s.server.put("/dist/foo-1.0.tar.gz", CHANGED);
    let run = larder(
        s.dir(),
        &["download", &s.url(), "--cache", &cache, "--fallback"],
    )
    .await;
    assert_eq!(run.assert_ok().last_line(), cached.to_str().unwrap());
    assert_eq!(read(&cached), CHANGED);

    // A checksum mismatch neither uses nor overwrites the cached copy.
    s.server.put("/dist/foo-1.0.tar.gz", BODY);
    let run = larder(
        s.dir(),
        &[
            "download",
            &s.url(),
            "--cache",
            &cache,
            "--fallback",
            "--md5",
            &md5_hex(CHANGED),
        ],
    )
    .await;
    run.assert_err("checksum mismatch");
    assert_eq!(read(&cached), CHANGED);

    // Offline, the cached copy is used without asking the server.
    let hits = s.server.hits("/dist/foo-1.0.tar.gz");
    let run = larder(
        s.dir(),
        &[
            "download",
            &s.url(),
            "--cache",
            &cache,
            "--fallback",
            "--offline",
        ],
    )
    .await;
    assert_eq!(run.assert_ok().last_line(), cached.to_str().unwrap());
    assert_eq!(s.server.hits("/dist/foo-1.0.tar.gz"), hits);

    // A file gone upstream: the cached copy is used.
    let gone = s.server.url("/gone/foo-1.0.tar.gz");
    let run = larder(
        s.dir(),
        &["download", &gone, "--cache", &cache, "--fallback"],
    )
    .await;
    assert_eq!(run.assert_ok().last_line(), cached.to_str().unwrap());

    // The server is down: the cached copy is used.
    s.server.stop().await;
    let run = larder(
        s.dir(),
        &["download", &s.url(), "--cache", &cache, "--fallback"],
    )
    .await;
    assert_eq!(run.assert_ok().last_line(), cached.to_str().unwrap());
    assert_eq!(read(&cached), CHANGED);
    assert_eq!(
        tree(&s.dir().join("cache")),
        ["foo-1.0.tar.gz"],
        "no temporary files"
    );
}

#[tokio::test]
async fn checksums_use_raw_bytes_crlf_included() {
    let s = Setup::new().await;
    let crlf: &[u8] = b"line one\r\nline two\r\n\r\n";
    s.server.put("/dist/crlf.txt", crlf);
    let url = s.server.url("/dist/crlf.txt");
    let run = larder(
        s.dir(),
        &[
            "download",
            &url,
            "--cache",
            &s.cache(),
            "--md5",
            &md5_hex(crlf),
            "--sha256",
            &sha256_hex(crlf),
        ],
    )
    .await;
    run.assert_ok();
    assert_eq!(read(s.dir().join("cache/crlf.txt")), crlf);
}

#[tokio::test]
async fn server_errors_are_retried_a_bounded_number_of_times() {
    let s = Setup::new().await;
    let config = s.dir().join("larder.toml");
    std::fs::write(&config, "[client]\nretries = 2\nretry-backoff = \"10ms\"\n").unwrap();
    let config = config.to_str().unwrap();

    s.server.fail_next("/dist/foo-1.0.tar.gz", 2);
    let run = larder(s.dir(), &["download", &s.url(), "--config", config]).await;
    run.assert_ok();
    assert_eq!(s.server.hits("/dist/foo-1.0.tar.gz"), 3);

    s.server.fail_next("/dist/foo-1.0.tar.gz", 5);
    let out = s.dir().join("second.tgz");
    let run = larder(
        s.dir(),
        &[
            "download",
            &s.url(),
            "--config",
            config,
            "-o",
            out.to_str().unwrap(),
        ],
    )
    .await;
    run.assert_err("500");
    assert_eq!(
        s.server.hits("/dist/foo-1.0.tar.gz"),
        6,
        "one try and two retries"
    );
    assert!(!out.exists());
}
