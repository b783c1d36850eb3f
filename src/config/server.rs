//! `[server]`: how long and how many client connections `serve` keeps open,
//! so that slow or numerous clients cannot exhaust its file descriptors.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{invalid, units};
use crate::error::Result;

const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_mins(1);
const DEFAULT_MAX_HEADER_SIZE: u64 = 64 << 10;
const DEFAULT_MAX_CONNECTIONS: u32 = 10_000;
const DEFAULT_MAX_CONNECTIONS_PER_CLIENT: u32 = 256;
const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);

/// hyper refuses (panics on) a smaller read buffer than this: the request
/// line and the headers every client sends must fit.
const MIN_HEADER_SIZE: u64 = 8 << 10;
/// Larger heads are an attack, not a request; hyper's own default is ~400 KB.
const MAX_HEADER_SIZE: u64 = 16 << 20;

/// Client connection limits (`[server]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// How long a client may take to send a request's head (request line
    /// and headers), from the connection's start or the head's first byte.
    pub header_timeout: Duration,
    /// How long a connection with no request in flight is kept open, and
    /// how long one may take none of a response.
    pub idle_timeout: Duration,
    /// The largest request head accepted; larger ones get 431.
    pub max_header_size: u64,
    /// Connections open at once; further ones are refused (503) until one closes.
    pub max_connections: u32,
    /// Connections open at once from one IP address.
    pub max_connections_per_client: u32,
    /// How long a graceful shutdown waits for open responses and downloads
    /// in flight before it cuts them off.
    pub shutdown_timeout: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_header_size: DEFAULT_MAX_HEADER_SIZE,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_connections_per_client: DEFAULT_MAX_CONNECTIONS_PER_CLIENT,
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
        }
    }
}

/// `[server]` as written in the file.
#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub(super) struct FileServer {
    #[serde(with = "units::duration")]
    header_timeout: Duration,
    #[serde(with = "units::duration")]
    idle_timeout: Duration,
    #[serde(with = "units::size")]
    max_header_size: u64,
    max_connections: u32,
    max_connections_per_client: u32,
    #[serde(with = "units::duration")]
    shutdown_timeout: Duration,
}

impl Default for FileServer {
    fn default() -> Self {
        Self::redacted(&ServerConfig::default())
    }
}

impl FileServer {
    pub(super) fn into_config(self) -> ServerConfig {
        ServerConfig {
            header_timeout: self.header_timeout,
            idle_timeout: self.idle_timeout,
            max_header_size: self.max_header_size,
            max_connections: self.max_connections,
            max_connections_per_client: self.max_connections_per_client,
            shutdown_timeout: self.shutdown_timeout,
        }
    }

    /// Nothing here is secret; named like the other sections' for symmetry.
    pub(super) fn redacted(server: &ServerConfig) -> Self {
        Self {
            header_timeout: server.header_timeout,
            idle_timeout: server.idle_timeout,
            max_header_size: server.max_header_size,
            max_connections: server.max_connections,
            max_connections_per_client: server.max_connections_per_client,
            shutdown_timeout: server.shutdown_timeout,
        }
    }
}

/// Zero limits would refuse or cut off every client.
pub(super) fn validate(server: &ServerConfig) -> Result<()> {
    for (key, value) in [
        ("server.header-timeout", server.header_timeout),
        ("server.idle-timeout", server.idle_timeout),
    ] {
        if value.is_zero() {
            return Err(invalid(key, "`0s` would close every connection"));
        }
    }
    for (key, value) in [
        ("server.max-connections", server.max_connections),
        (
            "server.max-connections-per-client",
            server.max_connections_per_client,
        ),
    ] {
        if value == 0 {
            return Err(invalid(key, "`0` would refuse every connection"));
        }
    }
    let size = server.max_header_size;
    if !(MIN_HEADER_SIZE..=MAX_HEADER_SIZE).contains(&size) {
        return Err(invalid(
            "server.max-header-size",
            format!(
                "`{}` is not between {} and {}",
                units::format_size(size),
                units::format_size(MIN_HEADER_SIZE),
                units::format_size(MAX_HEADER_SIZE)
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_values_and_round_trips() {
        let file: FileServer =
            toml::from_str("header-timeout = \"2s\"\nmax-header-size = \"16 KiB\"").unwrap();
        let config = file.into_config();
        assert_eq!(config.header_timeout, Duration::from_secs(2));
        assert_eq!(config.max_header_size, 16 << 10);
        assert_eq!(config.idle_timeout, DEFAULT_IDLE_TIMEOUT);
        assert_eq!(config.max_connections, DEFAULT_MAX_CONNECTIONS);
        let again = FileServer::redacted(&config).into_config();
        assert_eq!(again, config);
        validate(&config).unwrap();
    }

    #[test]
    fn bad_values_name_the_key_and_value() {
        let cases = [
            (
                ServerConfig {
                    idle_timeout: Duration::ZERO,
                    ..ServerConfig::default()
                },
                "`server.idle-timeout`: `0s`",
            ),
            (
                ServerConfig {
                    max_connections_per_client: 0,
                    ..ServerConfig::default()
                },
                "`server.max-connections-per-client`: `0`",
            ),
            (
                ServerConfig {
                    max_header_size: 4096,
                    ..ServerConfig::default()
                },
                "`server.max-header-size`: `4 KiB` is not between 8 KiB and 16 MiB",
            ),
        ];
        for (config, expected) in cases {
            let message = validate(&config).unwrap_err().to_string();
            assert!(message.contains(expected), "{message}");
        }
    }
}
