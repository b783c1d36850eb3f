//! The TOML file: its shape (kebab-case keys, unknown keys rejected), reading
//! it into a [`Config`], and writing a `Config` back out with secrets redacted.
//!
//! Missing keys take their values from [`Config::default`], so the defaults are
//! written down in one place only.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::private::{FileAuth, FilePrivate, FileUser};
use super::prune::FilePrune;
use super::server::FileServer;
use super::{
    ClientConfig, Config, DEFAULT_MAX_STALE, DEFAULT_PAGE_TTL, LogFormat, Secret, UpstreamConfig,
    default_upstream_name, mirror::FileMirror, parse_upstream_url, redact_url, units,
};
use crate::error::{Error, ErrorKind, Result};

#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
struct FileConfig {
    data_dir: PathBuf,
    listen: SocketAddr,
    offline: bool,
    log_format: LogFormat,
    #[serde(with = "units::duration")]
    not_found_ttl: Duration,
    client: ClientConfig,
    #[serde(rename = "upstream", skip_serializing_if = "Vec::is_empty")]
    upstreams: Vec<FileUpstream>,
    #[serde(rename = "mirror", skip_serializing_if = "Vec::is_empty")]
    mirrors: Vec<FileMirror>,
    private: FilePrivate,
    auth: FileAuth,
    prune: FilePrune,
    server: FileServer,
    #[serde(rename = "user", skip_serializing_if = "Vec::is_empty")]
    users: Vec<FileUser>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct FileUpstream {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    url: String,
    #[serde(default = "default_page_ttl", with = "units::duration")]
    page_ttl: Duration,
    #[serde(default = "default_max_stale", with = "units::duration")]
    max_stale: Duration,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    password: Option<Secret>,
}

/// Reads a config file's text over the defaults. `path` is only for messages.
pub(super) fn parse(path: &Path, text: &str) -> Result<Config> {
    let file: FileConfig = toml::from_str(text).map_err(|err| syntax_error(path, text, err))?;
    file.into_config()
}

pub(super) fn to_redacted_toml(config: &Config) -> String {
    // Serializing plain strings, numbers and tables cannot fail; should it
    // ever, the output says so instead of printing half a config.
    toml::to_string(&FileConfig::redacted(config))
        .unwrap_or_else(|err| format!("# cannot show the configuration: {err}\n"))
}

/// Describes a TOML error by file, line, column and key path, as
/// "file `larder.toml`, line 3, column 12: `upstream.page-ttl`: ...".
///
/// toml's own rendering quotes the offending source line, which could hold a
/// password. Without the input it renders the message followed by the key
/// path (``in `upstream.page-ttl` ``) instead; the line and column are added
/// here from the span.
fn syntax_error(path: &Path, text: &str, mut err: toml::de::Error) -> Error {
    let location = err
        .span()
        .map(|span| {
            let (line, column) = line_and_column(text, span.start);
            format!(", line {line}, column {column}")
        })
        .unwrap_or_default();
    let message = err.message().to_owned();
    err.set_input(None);
    let rendered = err.to_string();
    let key = rendered
        .strip_prefix(&message)
        .and_then(|rest| rest.trim().strip_prefix("in "))
        .map(|key| format!("{key}: "))
        .unwrap_or_default();
    Error::new(
        ErrorKind::Config,
        format!(
            "invalid config file `{}`{location}: {key}{message}",
            path.display()
        ),
    )
}

/// 1-based line and column (in characters) of a byte offset.
fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before
        .rsplit('\n')
        .next()
        .unwrap_or_default()
        .chars()
        .count()
        + 1;
    (line, column)
}

fn default_page_ttl() -> Duration {
    DEFAULT_PAGE_TTL
}

fn default_max_stale() -> Duration {
    DEFAULT_MAX_STALE
}

impl FileConfig {
    fn into_config(self) -> Result<Config> {
        let upstreams = self
            .upstreams
            .into_iter()
            .enumerate()
            .map(|(index, upstream)| upstream.into_config(index + 1))
            .collect::<Result<_>>()?;
        let mirrors = self
            .mirrors
            .into_iter()
            .enumerate()
            .map(|(index, mirror)| mirror.into_config(index + 1))
            .collect::<Result<_>>()?;
        Ok(Config {
            data_dir: self.data_dir,
            listen: self.listen,
            offline: self.offline,
            log_format: self.log_format,
            not_found_ttl: self.not_found_ttl,
            client: self.client,
            upstreams,
            mirrors,
            private: self.private.into_config()?,
            auth: self.auth.into_config(self.users),
            prune: self.prune.into_config()?,
            server: self.server.into_config(),
        })
    }

    /// The file that would produce `config`, with URL credentials replaced by
    /// `***` (passwords are [`Secret`]s and serialize as `***` anyway).
    fn redacted(config: &Config) -> Self {
        let (auth, users) = FileAuth::redacted(&config.auth);
        FileConfig {
            // Lossy because TOML text must be UTF-8; this is for reading only.
            data_dir: PathBuf::from(config.data_dir.to_string_lossy().into_owned()),
            listen: config.listen,
            offline: config.offline,
            log_format: config.log_format,
            not_found_ttl: config.not_found_ttl,
            client: config.client.clone(),
            upstreams: config
                .upstreams
                .iter()
                .map(FileUpstream::redacted)
                .collect(),
            mirrors: config.mirrors.iter().map(FileMirror::redacted).collect(),
            private: FilePrivate::redacted(&config.private),
            auth,
            prune: FilePrune::redacted(&config.prune),
            server: FileServer::redacted(&config.server),
            users,
        }
    }
}

impl Default for FileConfig {
    fn default() -> Self {
        FileConfig::redacted(&Config::default())
    }
}

impl FileUpstream {
    /// `number` counts from 1, as people count `[[upstream]]` tables.
    fn into_config(self, number: usize) -> Result<UpstreamConfig> {
        let url = parse_upstream_url(&format!("upstream[{number}].url"), &self.url)?;
        Ok(UpstreamConfig {
            name: self.name.unwrap_or_else(|| default_upstream_name(number)),
            url,
            page_ttl: self.page_ttl,
            max_stale: self.max_stale,
            username: self.username,
            password: self.password,
        })
    }

    fn redacted(upstream: &UpstreamConfig) -> Self {
        FileUpstream {
            name: Some(upstream.name.clone()),
            url: redact_url(upstream.url.as_str()),
            page_ttl: upstream.page_ttl,
            max_stale: upstream.max_stale,
            username: upstream.username.clone(),
            password: upstream.password.clone(),
        }
    }
}
