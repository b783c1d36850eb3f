//! Larder's configuration, loaded once at start-up, validated, then immutable.
//!
//! Sources, each overriding the one before: built-in defaults < TOML file <
//! environment (`LARDER_*`) < command-line flags. [`Config::load`] does the I/O
//! and hands everything to [`Config::from_sources`], a pure merge that tests
//! call directly. `config.example.toml` at the crate root documents every key;
//! a test below parses it so it cannot drift from the code.
//!
//! Secrets never leave this module in clear text except through
//! [`Secret::expose`] and the [`Url`] itself: `Debug`, error messages and
//! [`Config::to_redacted_toml`] show `***` for passwords and URL credentials.

mod file;
mod mirror;
mod private;
mod prune;
mod server;
pub mod units;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use url::Url;

use crate::error::{Error, ErrorKind, Result};
use crate::model::UpstreamName;

pub use mirror::{MirrorConfig, MirrorPolicy, RESERVED_ROUTES, SOURCE_MIRROR_NAME};
pub use private::{AuthConfig, PrivateConfig, UserConfig};
pub use prune::PruneConfig;
pub use server::ServerConfig;

/// Path of the config file, used when `load` is given no path.
pub const LARDER_CONFIG: &str = "LARDER_CONFIG";
/// Overrides `data-dir`.
pub const LARDER_DATA_DIR: &str = "LARDER_DATA_DIR";
/// Overrides `listen` (an `ip:port`).
pub const LARDER_LISTEN: &str = "LARDER_LISTEN";
/// Overrides `offline`: `1`/`true`/`yes`/`on` or `0`/`false`/`no`/`off`.
pub const LARDER_OFFLINE: &str = "LARDER_OFFLINE";
/// Overrides `log-format`: `text` or `json`.
pub const LARDER_LOG_FORMAT: &str = "LARDER_LOG_FORMAT";
/// Simple-index URLs separated by whitespace or commas. Replaces the file's
/// whole `[[upstream]]` list; the upstreams get default settings and the
/// names `upstream-1`, `upstream-2`, ...
pub const LARDER_UPSTREAM: &str = "LARDER_UPSTREAM";

/// The variables larder reads. Other `LARDER_*` names are ignored: they may
/// belong to scripts or tests around larder. An empty value counts as unset,
/// as shells make "set but empty" easy to produce by accident.
const ENV_VARS: [&str; 6] = [
    LARDER_CONFIG,
    LARDER_DATA_DIR,
    LARDER_LISTEN,
    LARDER_OFFLINE,
    LARDER_LOG_FORMAT,
    LARDER_UPSTREAM,
];

const DEFAULT_PAGE_TTL: Duration = Duration::from_mins(10);
const DEFAULT_MAX_STALE: Duration = Duration::from_hours(7 * 24);
/// More retries than this only delay the error a client is waiting for.
const MAX_RETRIES: u32 = 10;

/// The effective configuration. Build it with [`Config::load`] or
/// [`Config::from_sources`]; [`Config::default`] is the built-in defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Where the blobs and the catalog live; relative paths are relative to the
    /// working directory.
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    /// Serve only what is cached; never contact an upstream.
    pub offline: bool,
    pub log_format: LogFormat,
    /// How long an upstream's "no such project" is remembered.
    pub not_found_ttl: Duration,
    pub client: ClientConfig,
    /// In priority order; may be empty (`serve` checks that itself).
    pub upstreams: Vec<UpstreamConfig>,
    /// Generic caching mirrors (`[[mirror]]`, `--source`).
    pub mirrors: Vec<MirrorConfig>,
    /// The private index: upload limit, projects merged with upstream.
    pub private: PrivateConfig,
    /// Who may read and upload.
    pub auth: AuthConfig,
    /// Background pruning and the server's batched catalog writes.
    pub prune: PruneConfig,
    /// Client connection limits and timeouts.
    pub server: ServerConfig,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// The upstream HTTP client (`[client]`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct ClientConfig {
    #[serde(with = "units::duration")]
    pub connect_timeout: Duration,
    /// Per read, not for a whole download, so large files are not cut off.
    #[serde(with = "units::duration")]
    pub read_timeout: Duration,
    /// Retries on connection errors and 5xx answers.
    pub retries: u32,
    /// The first backoff, doubled on each retry.
    #[serde(with = "units::duration")]
    pub retry_backoff: Duration,
    pub user_agent: String,
}

/// One `[[upstream]]`: a package index larder proxies.
#[derive(Clone, PartialEq, Eq)]
pub struct UpstreamConfig {
    /// `[a-z0-9-]+`, unique among the upstreams.
    pub name: String,
    /// The index's simple URL, http(s), always ending in `/`. May carry
    /// credentials; print it only through `Debug` or the redacted TOML.
    pub url: Url,
    /// How long a fetched project page is used without revalidation; 0 means
    /// always revalidate.
    pub page_ttl: Duration,
    /// How long past its TTL a page is still served when the upstream fails.
    pub max_stale: Duration,
    pub username: Option<String>,
    pub password: Option<Secret>,
}

/// A value that must not appear in logs: `Debug`, `Display` and `Serialize`
/// all print `***`. Use [`Secret::expose`] where the real value is needed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

/// What command-line flags override; `None` (or an empty list) means the flag
/// was not given.
#[derive(Clone, Default)]
pub struct Overrides {
    pub data_dir: Option<PathBuf>,
    pub listen: Option<SocketAddr>,
    pub offline: Option<bool>,
    /// Replaces the configured upstream list, like [`LARDER_UPSTREAM`].
    pub upstreams: Vec<Url>,
    /// `--source`: one catch-all mirror of these base URLs, replacing any
    /// configured catch-all (`mount = "/"`).
    pub sources: Vec<Url>,
}

impl Config {
    /// Merges the sources in precedence order and validates the result.
    ///
    /// `file` is the config file's path (for messages) and text; `env` holds
    /// the environment variables (names not listed in this module are
    /// ignored). Pure, so tests call it directly.
    pub fn from_sources(
        file: Option<(&Path, &str)>,
        env: &BTreeMap<String, String>,
        flags: &Overrides,
    ) -> Result<Config> {
        let mut config = match file {
            Some((path, text)) => file::parse(path, text)?,
            None => Config::default(),
        };
        config.apply_env(env)?;
        config.apply_flags(flags)?;
        config.validate()?;
        Ok(config)
    }

    /// Reads the config file and the process environment, then calls
    /// [`Config::from_sources`].
    ///
    /// Without `path`, the file named by [`LARDER_CONFIG`] is read if that is
    /// set; otherwise there is no file and the defaults apply.
    pub fn load(path: Option<&Path>, flags: &Overrides) -> Result<Config> {
        let env = process_env()?;
        let path = match path {
            Some(path) => Some(path.to_path_buf()),
            None => env_value(&env, LARDER_CONFIG).map(PathBuf::from),
        };
        let text = path.as_deref().map(read_file).transpose()?;
        let file = path.as_deref().zip(text.as_deref());
        Config::from_sources(file, &env, flags)
    }

    /// The effective configuration as TOML, every key included, with
    /// passwords and URL credentials shown as `***` (for `larder check-config`).
    pub fn to_redacted_toml(&self) -> String {
        file::to_redacted_toml(self)
    }

    /// Checks what the types cannot: names, URLs, limits. Errors name the key
    /// (`upstream[N]` counts from 1) and the offending value.
    ///
    /// [`Config::from_sources`] calls this; call it yourself only on a
    /// `Config` built by hand.
    pub fn validate(&self) -> Result<()> {
        if self.data_dir.as_os_str().is_empty() {
            return Err(invalid("data-dir", "must not be empty"));
        }
        self.client.validate()?;
        mirror::validate(&self.mirrors, &self.upstreams)?;
        private::validate(&self.private, &self.auth)?;
        prune::validate(&self.prune)?;
        server::validate(&self.server)?;
        let mut names = BTreeSet::new();
        for (index, upstream) in self.upstreams.iter().enumerate() {
            let number = index + 1;
            upstream.validate(number)?;
            if !names.insert(upstream.name.as_str()) {
                return Err(invalid(
                    &format!("upstream[{number}].name"),
                    format!("`{}` is the name of another upstream", upstream.name),
                ));
            }
        }
        Ok(())
    }

    fn apply_env(&mut self, env: &BTreeMap<String, String>) -> Result<()> {
        if let Some(value) = env_value(env, LARDER_DATA_DIR) {
            self.data_dir = PathBuf::from(value);
        }
        if let Some(value) = env_value(env, LARDER_LISTEN) {
            self.listen = parse_listen(LARDER_LISTEN, value)?;
        }
        if let Some(value) = env_value(env, LARDER_OFFLINE) {
            self.offline = parse_bool(LARDER_OFFLINE, value)?;
        }
        if let Some(value) = env_value(env, LARDER_LOG_FORMAT) {
            self.log_format = parse_log_format(LARDER_LOG_FORMAT, value)?;
        }
        if let Some(value) = env_value(env, LARDER_UPSTREAM) {
            let urls = value
                .split(|c: char| c == ',' || c.is_whitespace())
                .filter(|url| !url.is_empty())
                .map(|url| parse_upstream_url(LARDER_UPSTREAM, url))
                .collect::<Result<Vec<_>>>()?;
            self.upstreams = upstreams_with_defaults(urls);
        }
        Ok(())
    }

    fn apply_flags(&mut self, flags: &Overrides) -> Result<()> {
        if let Some(data_dir) = &flags.data_dir {
            self.data_dir.clone_from(data_dir);
        }
        if let Some(listen) = flags.listen {
            self.listen = listen;
        }
        if let Some(offline) = flags.offline {
            self.offline = offline;
        }
        if !flags.upstreams.is_empty() {
            let urls = flags
                .upstreams
                .iter()
                .map(|url| normalize_upstream_url("--upstream", url.clone()))
                .collect::<Result<Vec<_>>>()?;
            self.upstreams = upstreams_with_defaults(urls);
        }
        if !flags.sources.is_empty() {
            let urls = flags
                .sources
                .iter()
                .map(|url| normalize_upstream_url("--source", url.clone()))
                .collect::<Result<Vec<_>>>()?;
            self.mirrors
                .retain(|m| m.mount.as_deref() != Some("/") && m.name != SOURCE_MIRROR_NAME);
            self.mirrors.push(MirrorConfig::from_sources(urls));
        }
        Ok(())
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("./larder-data"),
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 3141)),
            offline: false,
            log_format: LogFormat::Text,
            not_found_ttl: Duration::from_mins(1),
            client: ClientConfig::default(),
            upstreams: Vec::new(),
            mirrors: Vec::new(),
            private: PrivateConfig::default(),
            auth: AuthConfig::default(),
            prune: PruneConfig::default(),
            server: ServerConfig::default(),
        }
    }
}

impl ClientConfig {
    fn validate(&self) -> Result<()> {
        // A zero timeout would make reqwest fail every request, which looks
        // like an unreachable upstream rather than a config mistake.
        for (key, timeout) in [
            ("client.connect-timeout", self.connect_timeout),
            ("client.read-timeout", self.read_timeout),
        ] {
            if timeout.is_zero() {
                return Err(invalid(key, "`0s` would fail every request"));
            }
        }
        if self.retries > MAX_RETRIES {
            return Err(invalid(
                "client.retries",
                format!("`{}` is more than {MAX_RETRIES}", self.retries),
            ));
        }
        if self.user_agent.is_empty() || self.user_agent.chars().any(char::is_control) {
            return Err(invalid(
                "client.user-agent",
                format!(
                    "`{}` is not a valid header value",
                    self.user_agent.escape_debug()
                ),
            ));
        }
        Ok(())
    }
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_mins(1),
            retries: 3,
            retry_backoff: Duration::from_millis(250),
            user_agent: concat!("larder/", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }
}

impl UpstreamConfig {
    /// An upstream as `LARDER_UPSTREAM` and `--upstream` create them: default
    /// freshness and no credentials (other than any in the URL).
    fn with_defaults(number: usize, url: Url) -> Self {
        UpstreamConfig {
            name: default_upstream_name(number),
            url,
            page_ttl: DEFAULT_PAGE_TTL,
            max_stale: DEFAULT_MAX_STALE,
            username: None,
            password: None,
        }
    }

    fn validate(&self, number: usize) -> Result<()> {
        UpstreamName::new(&self.name)
            .map_err(|e| invalid(&format!("upstream[{number}].name"), e.to_string()))?;
        let url_key = format!("upstream[{number}].url");
        let shown = redact_url(self.url.as_str());
        check_upstream_url(&url_key, &shown, &self.url)?;
        if !self.url.path().ends_with('/') {
            return Err(invalid(&url_key, format!("`{shown}` must end with `/`")));
        }
        let url_has_credentials = !self.url.username().is_empty() || self.url.password().is_some();
        if url_has_credentials && (self.username.is_some() || self.password.is_some()) {
            return Err(invalid(
                &format!("upstream[{number}]"),
                "credentials are given both in `url` and in `username`/`password`",
            ));
        }
        Ok(())
    }
}

impl fmt::Debug for UpstreamConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UpstreamConfig")
            .field("name", &self.name)
            .field("url", &redact_url(self.url.as_str()))
            .field("page_ttl", &self.page_ttl)
            .field("max_stale", &self.max_stale)
            .field("username", &self.username)
            .field("password", &self.password)
            .finish()
    }
}

impl fmt::Debug for Overrides {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let upstreams: Vec<String> = self
            .upstreams
            .iter()
            .map(|url| redact_url(url.as_str()))
            .collect();
        f.debug_struct("Overrides")
            .field("data_dir", &self.data_dir)
            .field("listen", &self.listen)
            .field("offline", &self.offline)
            .field("upstreams", &upstreams)
            .field(
                "sources",
                &self
                    .sources
                    .iter()
                    .map(|u| redact_url(u.as_str()))
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The real value, for the one place that needs it (an auth header).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str("***")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // serde's own "invalid type" errors quote the value, which here is
        // the secret, so they are replaced by one that does not.
        String::deserialize(deserializer).map(Secret).map_err(|_| {
            serde::de::Error::custom("expected a string (the value is a secret and not shown)")
        })
    }
}

/// A config error naming where the value came from: a file key such as
/// `upstream[1].url`, an environment variable or a flag.
fn invalid(key: &str, problem: impl fmt::Display) -> Error {
    Error::new(
        ErrorKind::Config,
        format!("invalid config: `{key}`: {problem}"),
    )
}

fn default_upstream_name(number: usize) -> String {
    format!("upstream-{number}")
}

fn upstreams_with_defaults(urls: Vec<Url>) -> Vec<UpstreamConfig> {
    urls.into_iter()
        .enumerate()
        .map(|(index, url)| UpstreamConfig::with_defaults(index + 1, url))
        .collect()
}

/// Parses an upstream's simple URL given as text under `key`; errors quote
/// the text as written (credentials hidden).
fn parse_upstream_url(key: &str, value: &str) -> Result<Url> {
    let shown = redact_url(value);
    let url =
        Url::parse(value).map_err(|err| invalid(key, format!("`{shown}` is not a URL: {err}")))?;
    check_upstream_url(key, &shown, &url)?;
    Ok(with_trailing_slash(url))
}

/// Checks an upstream URL given as a [`Url`] (by a flag) under `key`.
fn normalize_upstream_url(key: &str, url: Url) -> Result<Url> {
    check_upstream_url(key, &redact_url(url.as_str()), &url)?;
    Ok(with_trailing_slash(url))
}

/// Adds the trailing `/` that project URLs (`<url><project>/`) are joined
/// against; without it the join would replace the last path segment.
fn with_trailing_slash(mut url: Url) -> Url {
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    url
}

/// `shown` is the URL as the error should quote it.
fn check_upstream_url(key: &str, shown: &str, url: &Url) -> Result<()> {
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(invalid(key, format!("`{shown}` is not an http(s) URL")));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid(
            key,
            format!("`{shown}` must not have a query or fragment"),
        ));
    }
    Ok(())
}

/// `url` with any `user:password@` replaced by `***@`. Works on text so that
/// it also hides credentials in values that failed to parse as a URL.
pub(crate) fn redact_url(url: &str) -> String {
    let Some(authority_start) = url.find("://").map(|index| index + 3) else {
        return url.to_owned();
    };
    let rest = &url[authority_start..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{}***{}", &url[..authority_start], &rest[at..]),
        None => url.to_owned(),
    }
}

fn parse_listen(key: &str, value: &str) -> Result<SocketAddr> {
    value.parse().map_err(|_| {
        invalid(
            key,
            format!("`{value}` is not an address:port (e.g. `127.0.0.1:3141`)"),
        )
    })
}

fn parse_bool(key: &str, value: &str) -> Result<bool> {
    match value.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(invalid(
            key,
            format!("`{value}` is not a boolean (use `true` or `false`)"),
        )),
    }
}

fn parse_log_format(key: &str, value: &str) -> Result<LogFormat> {
    match value.to_ascii_lowercase().as_str() {
        "text" => Ok(LogFormat::Text),
        "json" => Ok(LogFormat::Json),
        _ => Err(invalid(
            key,
            format!("`{value}` is not a log format (use `text` or `json`)"),
        )),
    }
}

/// The value of one of larder's variables, trimmed; `None` when unset or empty.
fn env_value<'e>(env: &'e BTreeMap<String, String>, name: &str) -> Option<&'e str> {
    env.get(name)
        .map(|value| value.trim())
        .filter(|value| !value.is_empty())
}

/// Larder's variables from the process environment. Only these are read, so
/// an unrelated variable that is not UTF-8 cannot make start-up fail.
fn process_env() -> Result<BTreeMap<String, String>> {
    let mut env = BTreeMap::new();
    for name in ENV_VARS {
        let Some(value) = std::env::var_os(name) else {
            continue;
        };
        let value = value
            .into_string()
            .map_err(|_| invalid(name, "the value is not valid UTF-8"))?;
        env.insert(name.to_owned(), value);
    }
    Ok(env)
}

fn read_file(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|err| {
        Error::new(
            ErrorKind::Config,
            format!("cannot read config file `{}`", path.display()),
        )
        .with_source(err)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = include_str!("../../config.example.toml");

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|&(name, value)| (name.to_owned(), value.to_owned()))
            .collect()
    }

    fn from_file(text: &str) -> Result<Config> {
        Config::from_sources(
            Some((Path::new("larder.toml"), text)),
            &BTreeMap::new(),
            &Overrides::default(),
        )
    }

    fn error_message(result: Result<Config>) -> String {
        let err = result.expect_err("the config should be rejected");
        assert_eq!(err.kind(), ErrorKind::Config);
        err.to_string()
    }

    fn url(text: &str) -> Url {
        Url::parse(text).unwrap()
    }

    fn upstream_urls(config: &Config) -> Vec<(&str, &str)> {
        config
            .upstreams
            .iter()
            .map(|upstream| (upstream.name.as_str(), upstream.url.as_str()))
            .collect()
    }

    const FILE: &str = r#"
        data-dir = "/srv/file"
        listen = "127.0.0.1:1111"
        offline = true

        [[upstream]]
        name = "file"
        url = "http://127.0.0.1:8080/simple/"
    "#;

    #[test]
    fn defaults_apply_without_any_source() {
        let config = Config::from_sources(None, &BTreeMap::new(), &Overrides::default()).unwrap();
        assert_eq!(config, Config::default());
        assert_eq!(config.data_dir, Path::new("./larder-data"));
        assert_eq!(config.listen.to_string(), "127.0.0.1:3141");
        assert!(!config.offline);
        assert_eq!(config.log_format, LogFormat::Text);
        assert_eq!(config.not_found_ttl, Duration::from_secs(60));
        assert_eq!(config.client.retries, 3);
        assert_eq!(
            config.client.user_agent,
            format!("larder/{}", env!("CARGO_PKG_VERSION"))
        );
        assert!(config.upstreams.is_empty());
    }

    #[test]
    fn file_overrides_defaults() {
        let config = from_file(FILE).unwrap();
        assert_eq!(config.data_dir, Path::new("/srv/file"));
        assert_eq!(config.listen.port(), 1111);
        assert!(config.offline);
        assert_eq!(
            upstream_urls(&config),
            [("file", "http://127.0.0.1:8080/simple/")]
        );
        // Keys the file leaves out keep their defaults.
        assert_eq!(config.client, ClientConfig::default());
        assert_eq!(config.upstreams[0].page_ttl, DEFAULT_PAGE_TTL);
    }

    #[test]
    fn environment_overrides_file() {
        let env = env(&[
            (LARDER_DATA_DIR, "/srv/env"),
            (LARDER_LISTEN, "127.0.0.1:2222"),
            (LARDER_OFFLINE, "no"),
            (LARDER_LOG_FORMAT, "json"),
            (
                LARDER_UPSTREAM,
                "http://127.0.0.1:9001/simple, http://127.0.0.1:9002/a/simple/",
            ),
        ]);
        let file = Some((Path::new("larder.toml"), FILE));
        let config = Config::from_sources(file, &env, &Overrides::default()).unwrap();
        assert_eq!(config.data_dir, Path::new("/srv/env"));
        assert_eq!(config.listen.port(), 2222);
        assert!(!config.offline);
        assert_eq!(config.log_format, LogFormat::Json);
        assert_eq!(
            upstream_urls(&config),
            [
                ("upstream-1", "http://127.0.0.1:9001/simple/"),
                ("upstream-2", "http://127.0.0.1:9002/a/simple/"),
            ]
        );
        assert_eq!(config.upstreams[1].max_stale, DEFAULT_MAX_STALE);
    }

    #[test]
    fn flags_override_environment() {
        let env = env(&[
            (LARDER_DATA_DIR, "/srv/env"),
            (LARDER_LISTEN, "127.0.0.1:2222"),
            (LARDER_OFFLINE, "no"),
            (LARDER_UPSTREAM, "http://127.0.0.1:9001/simple/"),
        ]);
        let flags = Overrides {
            data_dir: Some(PathBuf::from("/srv/flag")),
            listen: Some("127.0.0.1:3333".parse().unwrap()),
            offline: Some(true),
            upstreams: vec![url("http://127.0.0.1:9003/simple")],
            ..Overrides::default()
        };
        let file = Some((Path::new("larder.toml"), FILE));
        let config = Config::from_sources(file, &env, &flags).unwrap();
        assert_eq!(config.data_dir, Path::new("/srv/flag"));
        assert_eq!(config.listen.port(), 3333);
        assert!(config.offline);
        assert_eq!(
            upstream_urls(&config),
            [("upstream-1", "http://127.0.0.1:9003/simple/")]
        );
    }

    #[test]
    fn flag_upstreams_are_checked_and_redacted() {
        let flags = Overrides {
            upstreams: vec![url("http://u:hunter2@127.0.0.1/simple/?x")],
            ..Overrides::default()
        };
        assert!(!format!("{flags:?}").contains("hunter2"));
        let message = error_message(Config::from_sources(None, &BTreeMap::new(), &flags));
        assert!(
            message
                .contains("`--upstream`: `http://***@127.0.0.1/simple/?x` must not have a query"),
            "{message}"
        );
    }

    #[test]
    fn empty_and_unknown_environment_variables_are_ignored() {
        let env = env(&[
            (LARDER_DATA_DIR, ""),
            (LARDER_UPSTREAM, "  "),
            ("LARDER_SOMETHING_ELSE", "whatever"),
        ]);
        let file = Some((Path::new("larder.toml"), FILE));
        let config = Config::from_sources(file, &env, &Overrides::default()).unwrap();
        assert_eq!(config, from_file(FILE).unwrap());
    }

    #[test]
    fn bad_environment_values_name_the_variable() {
        let cases = [
            (
                LARDER_LISTEN,
                "abc",
                "`LARDER_LISTEN`: `abc` is not an address:port",
            ),
            (
                LARDER_OFFLINE,
                "maybe",
                "`LARDER_OFFLINE`: `maybe` is not a boolean",
            ),
            (
                LARDER_LOG_FORMAT,
                "xml",
                "`LARDER_LOG_FORMAT`: `xml` is not a log format",
            ),
            (
                LARDER_UPSTREAM,
                "ftp://x",
                "`LARDER_UPSTREAM`: `ftp://x` is not an http(s) URL",
            ),
            (
                LARDER_UPSTREAM,
                "not a url",
                "`LARDER_UPSTREAM`: `not` is not a URL",
            ),
        ];
        for (name, value, expected) in cases {
            let result = Config::from_sources(None, &env(&[(name, value)]), &Overrides::default());
            let message = error_message(result);
            assert!(message.contains(expected), "{message}");
        }
    }

    #[test]
    fn unknown_key_is_an_error_naming_it() {
        let message = error_message(from_file("data-dir = \"/x\"\ncahce-dir = \"/y\"\n"));
        assert!(
            message.contains("`larder.toml`, line 2, column 1"),
            "{message}"
        );
        assert!(message.contains("unknown field `cahce-dir`"), "{message}");

        let message = error_message(from_file("[client]\nretires = 3\n"));
        assert!(
            message.contains("line 2, column 1: `client`: unknown field `retires`"),
            "{message}"
        );
    }

    #[test]
    fn bad_duration_names_the_key() {
        let text = "[[upstream]]\nurl = \"http://127.0.0.1/simple/\"\npage-ttl = \"10 minutes\"\n";
        let message = error_message(from_file(text));
        assert!(
            message.contains("line 3, column 12: `upstream.page-ttl`: `10 minutes` is not"),
            "{message}"
        );
    }

    #[test]
    fn invalid_values_name_the_key_and_value() {
        let upstream = |fields: &str| format!("[[upstream]]\n{fields}\n");
        let cases = [
            (
                upstream("url = \"ftp://x\""),
                "invalid config: `upstream[1].url`: `ftp://x` is not an http(s) URL",
            ),
            (
                upstream("url = \"http://127.0.0.1/simple/?x=1\""),
                "`upstream[1].url`: `http://127.0.0.1/simple/?x=1` must not have a query",
            ),
            (
                upstream("url = \"http://127.0.0.1/s/\"\nname = \"Main\""),
                "`upstream[1].name`: `Main` must be lower-case letters",
            ),
            (
                "[client]\nretries = 11\n".to_owned(),
                "`client.retries`: `11` is more than 10",
            ),
            (
                "[client]\nread-timeout = \"0s\"\n".to_owned(),
                "`client.read-timeout`: `0s` would fail every request",
            ),
            (
                upstream("url = \"http://u:p@127.0.0.1/s/\"\nusername = \"u\""),
                "`upstream[1]`: credentials are given both in `url` and in `username`",
            ),
        ];
        for (text, expected) in cases {
            let message = error_message(from_file(&text));
            assert!(message.contains(expected), "{message}");
        }
    }

    #[test]
    fn page_ttl_may_be_zero() {
        let text = "[[upstream]]\nurl = \"http://127.0.0.1/simple/\"\npage-ttl = \"0s\"\n";
        assert_eq!(
            from_file(text).unwrap().upstreams[0].page_ttl,
            Duration::ZERO
        );
    }

    #[test]
    fn upstream_url_gets_a_trailing_slash() {
        let text = "[[upstream]]\nurl = \"https://pypi.example.internal/simple\"\n";
        let config = from_file(text).unwrap();
        assert_eq!(
            upstream_urls(&config),
            [("upstream-1", "https://pypi.example.internal/simple/")]
        );
    }

    #[test]
    fn upstream_names_default_by_position_and_must_be_unique() {
        let text = r#"
            [[upstream]]
            url = "http://127.0.0.1:8001/simple/"
            [[upstream]]
            name = "mirror"
            url = "http://127.0.0.1:8002/simple/"
            [[upstream]]
            url = "http://127.0.0.1:8003/simple/"
        "#;
        let names: Vec<_> = from_file(text)
            .unwrap()
            .upstreams
            .into_iter()
            .map(|upstream| upstream.name)
            .collect();
        assert_eq!(names, ["upstream-1", "mirror", "upstream-3"]);

        let duplicate = r#"
            [[upstream]]
            name = "main"
            url = "http://127.0.0.1:8001/simple/"
            [[upstream]]
            name = "main"
            url = "http://127.0.0.1:8002/simple/"
        "#;
        let message = error_message(from_file(duplicate));
        assert!(
            message.contains("`upstream[2].name`: `main` is the name of another upstream"),
            "{message}"
        );
    }

    #[test]
    fn source_names_are_one_namespace_without_reserved_words() {
        // An upstream named like the source of uploads would have its cached
        // files counted as uploads and never pruned.
        for reserved in ["private", "import"] {
            let text = format!(
                "[[upstream]]\nname = \"{reserved}\"\nurl = \"http://127.0.0.1:8001/simple/\"\n"
            );
            let message = error_message(from_file(&text));
            assert!(
                message.contains(&format!("`upstream[1].name`: `{reserved}` is reserved")),
                "{message}"
            );
            let text = format!(
                "[[mirror]]\nname = \"{reserved}\"\nsources = [\"http://127.0.0.1:8001/d/\"]\n"
            );
            let message = error_message(from_file(&text));
            assert!(
                message.contains(&format!("`mirror[1].name`: `{reserved}` is reserved")),
                "{message}"
            );
        }
        let clash = r#"
            [[upstream]]
            name = "main"
            url = "http://127.0.0.1:8001/simple/"
            [[mirror]]
            name = "main"
            sources = ["http://127.0.0.1:8002/files/"]
        "#;
        let message = error_message(from_file(clash));
        assert!(
            message.contains("`mirror[1].name`: `main` is the name of an upstream"),
            "{message}"
        );
    }

    #[test]
    fn secrets_never_appear_in_output() {
        let text = r#"
            [[upstream]]
            name = "with-password"
            url = "http://127.0.0.1:8001/simple/"
            username = "ci"
            password = "hunter2-password"
            [[upstream]]
            name = "with-url-credentials"
            url = "http://tokenuser:hunter2-in-url@127.0.0.1:8002/simple/"
        "#;
        let config = from_file(text).unwrap();
        // The real values stay usable.
        let password = config.upstreams[0].password.as_ref().unwrap();
        assert_eq!(password.expose(), "hunter2-password");
        assert_eq!(config.upstreams[1].url.password(), Some("hunter2-in-url"));

        let toml = config.to_redacted_toml();
        let debug = format!("{config:?}");
        for shown in [&toml, &debug] {
            assert!(!shown.contains("hunter2"), "{shown}");
            assert!(!shown.contains("tokenuser"), "{shown}");
            assert!(
                shown.contains("http://***@127.0.0.1:8002/simple/"),
                "{shown}"
            );
        }
        assert!(toml.contains("password = \"***\""), "{toml}");
        assert_eq!(format!("{password} {password:?}"), "*** ***");
    }

    #[test]
    fn secrets_never_appear_in_errors() {
        let bad_type = "[[upstream]]\nurl = \"http://127.0.0.1/s/\"\npassword = 123456789\n";
        let message = error_message(from_file(bad_type));
        assert!(!message.contains("123456789"), "{message}");
        assert!(message.contains("`upstream.password`"), "{message}");

        let bad_url = "[[upstream]]\nurl = \"ftp://u:hunter2@127.0.0.1/s/\"\n";
        let message = error_message(from_file(bad_url));
        assert!(!message.contains("hunter2"), "{message}");

        let unparsable = env(&[(LARDER_UPSTREAM, "http://u:hunter2@[bad/simple/")]);
        let result = Config::from_sources(None, &unparsable, &Overrides::default());
        let message = error_message(result);
        assert!(!message.contains("hunter2"), "{message}");
    }

    #[test]
    fn redacted_toml_shows_every_key_and_reads_back() {
        let config = from_file(FILE).unwrap();
        let toml = config.to_redacted_toml();
        for key in [
            "data-dir = \"/srv/file\"",
            "listen = \"127.0.0.1:1111\"",
            "log-format = \"text\"",
            "not-found-ttl = \"1m\"",
            "read-timeout = \"1m\"",
            "retry-backoff = \"250ms\"",
            "[[upstream]]",
            "page-ttl = \"10m\"",
            "max-stale = \"7d\"",
        ] {
            assert!(toml.contains(key), "{key} missing from:\n{toml}");
        }
        assert_eq!(from_file(&toml).unwrap(), config);
    }

    #[test]
    fn load_names_a_file_it_cannot_read() {
        let path = Path::new("/nonexistent/larder.toml");
        let err = Config::load(Some(path), &Overrides::default()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        assert!(
            err.to_string()
                .starts_with("cannot read config file `/nonexistent/larder.toml`: "),
            "{err}"
        );
    }

    #[test]
    fn example_config_parses_and_shows_the_defaults() {
        let config = Config::from_sources(
            Some((Path::new("config.example.toml"), EXAMPLE)),
            &BTreeMap::new(),
            &Overrides::default(),
        )
        .unwrap();
        let expected_upstream = UpstreamConfig {
            name: "main".to_owned(),
            url: url("https://pypi.example.internal/simple/"),
            page_ttl: DEFAULT_PAGE_TTL,
            max_stale: DEFAULT_MAX_STALE,
            username: None,
            password: None,
        };
        // The example documents the defaults, so apart from its one upstream
        // it must be the default configuration.
        assert_eq!(config.upstreams, [expected_upstream]);
        let mirror = &config.mirrors[0];
        assert_eq!(mirror.name, "distfiles");
        assert_eq!(mirror.sources.len(), 2);
        assert_eq!(mirror.mount.as_deref(), Some("/distfiles"));
        assert_eq!(mirror.policy, MirrorPolicy::Immutable);
        assert_eq!(
            Config {
                upstreams: Vec::new(),
                mirrors: Vec::new(),
                ..config
            },
            Config::default()
        );
    }
}
