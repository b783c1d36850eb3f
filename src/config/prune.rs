//! `[prune]`: how large the store may grow before `serve` prunes it in the
//! background, how often it checks, and how often it writes what it
//! observed (last-access times, counters) to the catalog.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{invalid, units};
use crate::error::Result;

const DEFAULT_INTERVAL: Duration = Duration::from_mins(5);
const DEFAULT_FLUSH_INTERVAL: Duration = Duration::from_secs(30);

/// Background pruning and the server's batched catalog writes (`[prune]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PruneConfig {
    /// When set, `serve` removes least recently used cached files whenever
    /// the store grows past this many bytes. `None`: the server never prunes.
    pub max_size: Option<u64>,
    /// How often `serve` compares the store's size with `max_size` (it also
    /// checks after downloads that added a hundredth of `max_size`).
    pub interval: Duration,
    /// How often `serve` writes last-access times and counters to the
    /// catalog (and once more on a graceful shutdown). What a crash loses is
    /// at most this much of them.
    pub flush_interval: Duration,
}

impl Default for PruneConfig {
    fn default() -> Self {
        Self {
            max_size: None,
            interval: DEFAULT_INTERVAL,
            flush_interval: DEFAULT_FLUSH_INTERVAL,
        }
    }
}

/// `[prune]` as written in the file.
#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub(super) struct FilePrune {
    #[serde(skip_serializing_if = "Option::is_none", with = "optional_size")]
    max_size: Option<u64>,
    #[serde(with = "units::duration")]
    interval: Duration,
    #[serde(with = "units::duration")]
    flush_interval: Duration,
}

impl Default for FilePrune {
    fn default() -> Self {
        Self::redacted(&PruneConfig::default())
    }
}

impl FilePrune {
    pub(super) fn into_config(self) -> Result<PruneConfig> {
        Ok(PruneConfig {
            max_size: self.max_size,
            interval: self.interval,
            flush_interval: self.flush_interval,
        })
    }

    pub(super) fn redacted(prune: &PruneConfig) -> Self {
        Self {
            max_size: prune.max_size,
            interval: prune.interval,
            flush_interval: prune.flush_interval,
        }
    }
}

/// `units::size` for an optional key (absent means `None`).
mod optional_size {
    use serde::{Deserializer, Serializer};

    use super::units;

    pub(super) fn serialize<S: Serializer>(
        value: &Option<u64>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(bytes) => units::size::serialize(bytes, serializer),
            None => serializer.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<u64>, D::Error> {
        units::size::deserialize(deserializer).map(Some)
    }
}

/// Zero intervals would make the background loops spin.
pub(super) fn validate(prune: &PruneConfig) -> Result<()> {
    for (key, value) in [
        ("prune.interval", prune.interval),
        ("prune.flush-interval", prune.flush_interval),
    ] {
        if value.is_zero() {
            return Err(invalid(key, "must be longer than 0s"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_sizes_and_round_trips() {
        let file: FilePrune = toml::from_str("max-size = \"20 GiB\"\ninterval = \"1m\"").unwrap();
        let config = file.into_config().unwrap();
        assert_eq!(config.max_size, Some(20 << 30));
        assert_eq!(config.interval, Duration::from_mins(1));
        assert_eq!(config.flush_interval, DEFAULT_FLUSH_INTERVAL);
        let again = FilePrune::redacted(&config).into_config().unwrap();
        assert_eq!(again, config);
    }

    #[test]
    fn bad_values_name_the_key() {
        let err = toml::from_str::<FilePrune>("max-size = \"lots\"").unwrap_err();
        assert!(err.to_string().contains("lots"), "{err}");
        let plain: FilePrune = toml::from_str("max-size = 1000").unwrap();
        assert_eq!(plain.into_config().unwrap().max_size, Some(1000));
        let zero = PruneConfig {
            flush_interval: Duration::ZERO,
            ..PruneConfig::default()
        };
        assert!(
            validate(&zero)
                .unwrap_err()
                .to_string()
                .contains("prune.flush-interval")
        );
    }
}
