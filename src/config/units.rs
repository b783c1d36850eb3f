//! Durations (`"10m"`) and sizes (`"20 GiB"`) as people write them in config
//! files and environment variables.
//!
//! The parsers are pure and strict: one whole number and one unit, because a
//! config value that is silently read as something else is worse than an error
//! at start-up. The [`duration`] and [`size`] modules plug them into serde with
//! `#[serde(with = "...")]`, and format values back so that they parse again.

use std::time::Duration;

/// A duration or size that could not be parsed; the message quotes the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnitError {
    #[error(
        "`{0}` is not a duration: expected a whole number with a unit \
         `ms`, `s`, `m`, `h` or `d` (e.g. `30s`, `10m`), or a number of seconds"
    )]
    InvalidDuration(String),
    #[error(
        "`{0}` is not a size: expected a whole number with a unit `B`, `KB`, `MB`, \
         `GB`, `TB`, `KiB`, `MiB`, `GiB` or `TiB` (e.g. `20 GiB`), or a number of bytes"
    )]
    InvalidSize(String),
    #[error("`{0}` is too large")]
    TooLarge(String),
}

const MILLIS_PER_UNIT: [(&str, u64); 5] = [
    ("d", 86_400_000),
    ("h", 3_600_000),
    ("m", 60_000),
    ("s", 1_000),
    ("ms", 1),
];

const BYTES_PER_UNIT: [(&str, u64); 9] = [
    ("TiB", 1 << 40),
    ("TB", 1_000_000_000_000),
    ("GiB", 1 << 30),
    ("GB", 1_000_000_000),
    ("MiB", 1 << 20),
    ("MB", 1_000_000),
    ("KiB", 1 << 10),
    ("KB", 1_000),
    ("B", 1),
];

/// Parses `500ms`, `30s`, `10m`, `2h` or `7d`; a plain number is seconds.
///
/// Units are lower-case only, so that `10M` (months? megabytes?) is an error
/// rather than a guess.
pub fn parse_duration(value: &str) -> Result<Duration, UnitError> {
    let invalid = || UnitError::InvalidDuration(value.to_owned());
    let (number, unit) = split_number(value).ok_or_else(invalid)?;
    let millis_per_unit = match unit {
        "" => 1_000,
        unit => lookup(&MILLIS_PER_UNIT, unit, str::eq).ok_or_else(invalid)?,
    };
    let millis = number
        .checked_mul(millis_per_unit)
        .ok_or_else(|| UnitError::TooLarge(value.to_owned()))?;
    Ok(Duration::from_millis(millis))
}

/// Parses `20 GiB`, `512MB`, `1 TB`; a plain number is bytes.
///
/// `KB`..`TB` are powers of 1000 and `KiB`..`TiB` powers of 1024. Units are
/// matched without regard to case, since `20 gb` has only one sensible reading.
pub fn parse_size(value: &str) -> Result<u64, UnitError> {
    let invalid = || UnitError::InvalidSize(value.to_owned());
    let (number, unit) = split_number(value).ok_or_else(invalid)?;
    let bytes_per_unit = match unit {
        "" => 1,
        unit => lookup(&BYTES_PER_UNIT, unit, str::eq_ignore_ascii_case).ok_or_else(invalid)?,
    };
    number
        .checked_mul(bytes_per_unit)
        .ok_or_else(|| UnitError::TooLarge(value.to_owned()))
}

/// Formats a duration in the largest unit that represents it exactly
/// (`600s` → `10m`), so that [`parse_duration`] reads it back unchanged.
///
/// Below a millisecond is truncated: nothing in larder is configured that
/// finely, and the parsers do not accept it either.
pub fn format_duration(duration: Duration) -> String {
    let millis = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
    if millis == 0 {
        return "0s".to_owned();
    }
    let (unit, per_unit) = largest_exact_unit(&MILLIS_PER_UNIT, millis);
    format!("{}{unit}", millis / per_unit)
}

/// Formats a size in the largest unit that represents it exactly
/// (`21474836480` → `20 GiB`), so that [`parse_size`] reads it back unchanged.
pub fn format_size(bytes: u64) -> String {
    if bytes == 0 {
        return "0 B".to_owned();
    }
    let (unit, per_unit) = largest_exact_unit(&BYTES_PER_UNIT, bytes);
    format!("{} {unit}", bytes / per_unit)
}

/// Splits `"20 GiB"` into `(20, "GiB")`; `None` unless the value is digits,
/// optional spaces and an optional unit of letters.
fn split_number(value: &str) -> Option<(u64, &str)> {
    let value = value.trim();
    let digits_end = value
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(value.len());
    let (digits, rest) = value.split_at(digits_end);
    let unit = rest.trim_start();
    if digits.is_empty() || !unit.chars().all(|c| c.is_ascii_alphabetic()) {
        return None;
    }
    // All digits, so the only possible failure is overflow; report it as an
    // invalid value rather than a separate case, as nobody writes 20 digits.
    let number = digits.parse().ok()?;
    Some((number, unit))
}

fn lookup(table: &[(&str, u64)], unit: &str, matches: fn(&str, &str) -> bool) -> Option<u64> {
    table
        .iter()
        .find(|(name, _)| matches(name, unit))
        .map(|&(_, factor)| factor)
}

/// The first (largest) unit of `table` that divides `amount`; the tables end
/// with a unit of 1, which divides everything.
fn largest_exact_unit<'t>(table: &[(&'t str, u64)], amount: u64) -> (&'t str, u64) {
    table
        .iter()
        .copied()
        .find(|&(_, factor)| amount.is_multiple_of(factor))
        .unwrap_or(("", 1))
}

/// Serde support for a [`Duration`] written as `"10m"` (or a plain number of
/// seconds); use with `#[serde(with = "units::duration")]`.
pub mod duration {
    use std::fmt;
    use std::time::Duration;

    use serde::de::{self, Visitor};
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&super::format_duration(*value))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        deserializer.deserialize_any(DurationVisitor)
    }

    struct DurationVisitor;

    impl Visitor<'_> for DurationVisitor {
        type Value = Duration;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a duration such as \"30s\" or \"10m\"")
        }

        fn visit_str<E: de::Error>(self, value: &str) -> Result<Duration, E> {
            super::parse_duration(value).map_err(E::custom)
        }

        fn visit_u64<E: de::Error>(self, seconds: u64) -> Result<Duration, E> {
            Ok(Duration::from_secs(seconds))
        }

        fn visit_i64<E: de::Error>(self, seconds: i64) -> Result<Duration, E> {
            u64::try_from(seconds)
                .map(Duration::from_secs)
                .map_err(|_| E::custom(format!("`{seconds}` is not a duration: it is negative")))
        }
    }
}

/// Serde support for a size in bytes written as `"20 GiB"` (or a plain number
/// of bytes); use with `#[serde(with = "units::size")]`.
pub mod size {
    use std::fmt;

    use serde::de::{self, Visitor};
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &u64, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&super::format_size(*bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
        deserializer.deserialize_any(SizeVisitor)
    }

    struct SizeVisitor;

    impl Visitor<'_> for SizeVisitor {
        type Value = u64;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a size such as \"20 GiB\"")
        }

        fn visit_str<E: de::Error>(self, value: &str) -> Result<u64, E> {
            super::parse_size(value).map_err(E::custom)
        }

        fn visit_u64<E: de::Error>(self, bytes: u64) -> Result<u64, E> {
            Ok(bytes)
        }

        fn visit_i64<E: de::Error>(self, bytes: i64) -> Result<u64, E> {
            u64::try_from(bytes)
                .map_err(|_| E::custom(format!("`{bytes}` is not a size: it is negative")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_durations() {
        let cases = [
            ("500ms", Duration::from_millis(500)),
            ("30s", Duration::from_secs(30)),
            ("10m", Duration::from_secs(600)),
            ("2h", Duration::from_secs(7_200)),
            ("7d", Duration::from_secs(604_800)),
            ("0s", Duration::ZERO),
            ("45", Duration::from_secs(45)),
            (" 10 m ", Duration::from_secs(600)),
        ];
        for (input, expected) in cases {
            assert_eq!(parse_duration(input), Ok(expected), "{input:?}");
        }
    }

    #[test]
    fn rejects_bad_durations_naming_the_value() {
        for input in [
            "", "m", "10x", "10M", "1.5h", "-1s", "1h30m", "10 m s", "s10",
        ] {
            let err = parse_duration(input).unwrap_err();
            assert_eq!(err, UnitError::InvalidDuration(input.to_owned()));
            assert!(err.to_string().contains(&format!("`{input}`")), "{err}");
        }
        assert_eq!(
            parse_duration("99999999999999999d"),
            Err(UnitError::TooLarge("99999999999999999d".to_owned()))
        );
    }

    #[test]
    fn parses_sizes() {
        let cases = [
            ("0", 0),
            ("512", 512),
            ("512B", 512),
            ("1 KB", 1_000),
            ("1KiB", 1_024),
            ("3 MB", 3_000_000),
            ("3 MiB", 3 << 20),
            ("20 GB", 20_000_000_000),
            ("20 GiB", 20 << 30),
            ("20 gib", 20 << 30),
            ("2TB", 2_000_000_000_000),
            ("2 TiB", 2 << 40),
        ];
        for (input, expected) in cases {
            assert_eq!(parse_size(input), Ok(expected), "{input:?}");
        }
    }

    #[test]
    fn rejects_bad_sizes_naming_the_value() {
        for input in [
            "",
            "GiB",
            "20 GiBs",
            "1.5 GB",
            "-1 B",
            "20 XB",
            "1 GiB 2 MiB",
        ] {
            let err = parse_size(input).unwrap_err();
            assert_eq!(err, UnitError::InvalidSize(input.to_owned()));
            assert!(err.to_string().contains(&format!("`{input}`")), "{err}");
        }
        assert_eq!(
            parse_size("99999999 TiB"),
            Err(UnitError::TooLarge("99999999 TiB".to_owned()))
        );
    }

    #[test]
    fn formats_in_the_largest_exact_unit() {
        let durations = [
            (Duration::ZERO, "0s"),
            (Duration::from_millis(250), "250ms"),
            (Duration::from_millis(1_500), "1500ms"),
            (Duration::from_secs(60), "1m"),
            (Duration::from_secs(90), "90s"),
            (Duration::from_secs(600), "10m"),
            (Duration::from_secs(7 * 86_400), "7d"),
        ];
        for (duration, text) in durations {
            assert_eq!(format_duration(duration), text);
            assert_eq!(parse_duration(text), Ok(duration));
        }
        let sizes = [
            (0, "0 B"),
            (999, "999 B"),
            (1_000, "1 KB"),
            (1_024, "1 KiB"),
            (20 << 30, "20 GiB"),
        ];
        for (bytes, text) in sizes {
            assert_eq!(format_size(bytes), text);
            assert_eq!(parse_size(text), Ok(bytes));
        }
    }

    #[test]
    fn serde_reads_strings_and_plain_numbers() {
        #[derive(Debug, serde::Deserialize, serde::Serialize)]
        struct Limits {
            #[serde(with = "duration")]
            ttl: Duration,
            #[serde(with = "size")]
            max: u64,
        }
        let limits: Limits = toml::from_str("ttl = \"10m\"\nmax = \"20 GiB\"").unwrap();
        assert_eq!(limits.ttl, Duration::from_secs(600));
        assert_eq!(limits.max, 20 << 30);
        assert_eq!(
            toml::to_string(&limits).unwrap(),
            "ttl = \"10m\"\nmax = \"20 GiB\"\n"
        );

        let limits: Limits = toml::from_str("ttl = 30\nmax = 512").unwrap();
        assert_eq!((limits.ttl, limits.max), (Duration::from_secs(30), 512));

        let err = toml::from_str::<Limits>("ttl = \"10x\"\nmax = 1").unwrap_err();
        assert!(err.message().contains("`10x` is not a duration"), "{err}");
    }
}
