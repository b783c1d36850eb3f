//! Fixtures for the private index: the distributions the tests upload (built
//! by `tests/support/make_private_dists.py`), a larder with a user, a read
//! user and tokens, multipart bodies as twine builds them, and a snapshot of
//! what larder stores (to show that a refused upload changes nothing).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::Duration;

use blake2::Blake2b;
use blake2::digest::consts::U32;
use bytes::Bytes;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use super::index::{FixtureIndex, Flavor};
use super::server::{Larder, http};
use super::{larder, tree};

/// The password of the configured users `alice` (upload) and `reader` (read).
pub const PASSWORD: &str = "correct horse battery staple";

/// The distributions of `make_private_dists.py`, by file name.
pub fn private_dists() -> &'static BTreeMap<String, Bytes> {
    static DISTS: OnceLock<BTreeMap<String, Bytes>> = OnceLock::new();
    DISTS.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("larder-private-dists-")
            .tempdir()
            .unwrap();
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/make_private_dists.py");
        let output = std::process::Command::new("python3")
            .arg(&script)
            .arg(dir.path())
            .output()
            .expect("cannot run python3");
        assert!(
            output.status.success(),
            "make_private_dists.py failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        std::fs::read_dir(dir.path())
            .unwrap()
            .map(|entry| {
                let entry = entry.unwrap();
                let name = entry.file_name().into_string().unwrap();
                (name, Bytes::from(std::fs::read(entry.path()).unwrap()))
            })
            .collect()
    })
}

/// The bytes of one of [`private_dists`].
#[track_caller]
pub fn dist(filename: &str) -> Bytes {
    private_dists()
        .get(filename)
        .unwrap_or_else(|| panic!("no fixture distribution {filename}"))
        .clone()
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

pub fn blake2b_256_hex(bytes: &[u8]) -> String {
    hex::encode(Blake2b::<U32>::digest(bytes))
}

/// `larder user hash` of `password`: the line it prints.
pub async fn hash_password(password: &str) -> String {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_larder"))
        .args(["user", "hash"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(format!("{password}\n").as_bytes())
        .await
        .unwrap();
    drop(stdin);
    let output = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("larder user hash timed out")
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    stdout.lines().last().unwrap().to_owned()
}

/// A running larder with a fixture upstream, a config with the users
/// `alice` (upload) and `reader` (read), and tokens `ci` (upload) and
/// `viewer` (read).
pub struct PrivateLarder {
    pub larder: Larder,
    pub index: FixtureIndex,
    pub token: String,
    pub read_token: String,
    pub config: PathBuf,
    _dir: tempfile::TempDir,
}

impl PrivateLarder {
    pub async fn start() -> Self {
        Self::start_with("").await
    }

    /// `extra` is more TOML for the config (`[private]`, `[auth]`).
    pub async fn start_with(extra: &str) -> Self {
        let index = FixtureIndex::start(Flavor::Json).await;
        let dir = tempfile::tempdir().unwrap();
        let hash = hash_password(PASSWORD).await;
        let config = dir.path().join("larder.toml");
        std::fs::write(
            &config,
            format!(
                "{extra}\n\
                 [[user]]\nname = \"alice\"\npassword-hash = \"{hash}\"\n\
                 [[user]]\nname = \"reader\"\npassword-hash = \"{hash}\"\nscope = \"read\"\n"
            ),
        )
        .unwrap();
        let config_arg = config.to_str().unwrap().to_owned();
        let larder =
            Larder::start(&["--config", &config_arg, "--upstream", &index.simple_url()]).await;
        let mut this = Self {
            larder,
            index,
            token: String::new(),
            read_token: String::new(),
            config,
            _dir: dir,
        };
        this.token = this.create_token("ci", "upload").await;
        this.read_token = this.create_token("viewer", "read").await;
        this
    }

    /// Runs `larder ARGS --config … --cache-dir …` on this larder's data.
    pub async fn cli(&self, args: &[&str]) -> super::Run {
        let data_dir = self.larder.data_dir.to_str().unwrap();
        let config = self.config.to_str().unwrap();
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--config", config, "--cache-dir", data_dir]);
        larder(self.larder.data_dir.parent().unwrap(), &all).await
    }

    pub async fn create_token(&self, name: &str, scope: &str) -> String {
        let run = self.cli(&["token", "create", name, "--scope", scope]).await;
        run.assert_ok();
        run.last_line().to_owned()
    }

    pub fn url(&self, path: &str) -> String {
        self.larder.url(path)
    }

    /// POSTs `form` to `path` with basic auth `user:password`.
    pub async fn post(&self, path: &str, auth: Option<(&str, &str)>, form: Form) -> Answer {
        let (content_type, body) = form.finish();
        let mut request = http()
            .post(self.url(path))
            .header("content-type", content_type)
            .body(body);
        if let Some((user, password)) = auth {
            request = request.basic_auth(user, Some(password));
        }
        Answer::from(request.send().await.unwrap()).await
    }

    /// Uploads with the upload token through the legacy API.
    pub async fn upload(&self, form: Form) -> Answer {
        self.post("/legacy/", Some(("__token__", &self.token)), form)
            .await
    }

    /// What larder stores: blob and staging files, and the local project list.
    pub async fn snapshot(&self) -> Snapshot {
        let data = &self.larder.data_dir;
        let list = http()
            .get(self.url("/local/simple/?format=json"))
            .basic_auth("__token__", Some(&self.token))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        Snapshot {
            blobs: tree(&data.join("blobs")),
            staging: tree(&data.join("staging")),
            local_projects: list,
        }
    }

    /// The JSON page of `project` at `prefix` (`/simple/` or `/local/simple/`).
    pub async fn json_page(&self, prefix: &str, project: &str) -> (StatusCode, serde_json::Value) {
        let response = http()
            .get(self.url(&format!("{prefix}{project}/?format=json")))
            .send()
            .await
            .unwrap();
        let status = response.status();
        let body = response.bytes().await.unwrap();
        (
            status,
            serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
        )
    }
}

#[derive(Debug, PartialEq, Eq)]
pub struct Snapshot {
    pub blobs: Vec<String>,
    pub staging: Vec<String>,
    pub local_projects: String,
}

/// A response, read whole.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Answer {
    async fn from(response: reqwest::Response) -> Self {
        Self {
            status: response.status(),
            headers: response.headers().clone(),
            body: response.text().await.unwrap(),
        }
    }
}

/// A `multipart/form-data` body, built by hand so tests control every byte.
pub struct Form {
    boundary: String,
    body: Vec<u8>,
}

impl Default for Form {
    fn default() -> Self {
        Self {
            boundary: "larder-test-boundary-7MA4YWxkTrZu0gW".to_owned(),
            body: Vec::new(),
        }
    }
}

impl Form {
    pub fn text(mut self, name: &str, value: &str) -> Self {
        self.body.extend_from_slice(
            format!(
                "--{}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n",
                self.boundary
            )
            .as_bytes(),
        );
        self
    }

    pub fn file(mut self, name: &str, filename: &str, bytes: &[u8]) -> Self {
        self.body.extend_from_slice(
            format!(
                "--{}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\n\
                 Content-Type: application/octet-stream\r\n\r\n",
                self.boundary
            )
            .as_bytes(),
        );
        self.body.extend_from_slice(bytes);
        self.body.extend_from_slice(b"\r\n");
        self
    }

    /// The metadata fields twine sends for `filename` (`name` and `version`
    /// given), with the digests of `bytes`, but not the file.
    pub fn twine_fields(name: &str, version: &str, filename: &str, bytes: &[u8]) -> Self {
        let filetype = if filename.ends_with(".whl") {
            "bdist_wheel"
        } else {
            "sdist"
        };
        Form::default()
            .text(":action", "file_upload")
            .text("protocol_version", "1")
            .text("name", name)
            .text("version", version)
            .text("filetype", filetype)
            .text("pyversion", "py3")
            .text("metadata_version", "2.1")
            .text("summary", "A larder test fixture distribution")
            .text("description", &"long description ".repeat(100))
            .text("classifiers", "Programming Language :: Python :: 3")
            .text("sha256_digest", &sha256_hex(bytes))
            .text("blake2_256_digest", &blake2b_256_hex(bytes))
    }

    /// What twine sends: the fields, then the file as `content`.
    pub fn twine(name: &str, version: &str, filename: &str, bytes: &[u8]) -> Self {
        Self::twine_fields(name, version, filename, bytes).file("content", filename, bytes)
    }

    pub fn content_type(&self) -> String {
        format!("multipart/form-data; boundary={}", self.boundary)
    }

    /// The whole body (closing boundary included) and its content type.
    pub fn finish(mut self) -> (String, Vec<u8>) {
        let content_type = self.content_type();
        self.body
            .extend_from_slice(format!("--{}--\r\n", self.boundary).as_bytes());
        (content_type, self.body)
    }

    /// The body so far, without the closing boundary (a cut-off upload).
    pub fn unfinished(self) -> (String, Vec<u8>) {
        (self.content_type(), self.body)
    }
}

/// `user:password` in base64, for hand-written requests.
pub fn basic(user: &str, password: &str) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let input = format!("{user}:{password}").into_bytes();
    let mut out = String::new();
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(TABLE[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    format!("Basic {out}")
}
