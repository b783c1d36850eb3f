//! `[[mirror]]`: generic caching mirrors of plain file trees, and the
//! `--source URL` short form (one mirror answering every path that is not one
//! of larder's own routes).

use std::collections::BTreeSet;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use url::Url;

use super::{UpstreamConfig, invalid, parse_upstream_url, redact_url, units};
use crate::error::Result;
use crate::model::MirrorName;

/// Paths larder answers itself; mounts may not shadow or sit under them.
pub const RESERVED_ROUTES: &[&str] = &[
    "/simple",
    "/local",
    "/files",
    "/mirror",
    "/healthz",
    "/metrics",
    "/legacy",
    "/uploadpackage",
];

/// The name the `--source` short form gives its mirror.
pub const SOURCE_MIRROR_NAME: &str = "default";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MirrorConfig {
    /// `[a-z0-9-]+`; the mirror is served at `/mirror/<name>/`.
    pub name: String,
    /// Base URLs (ending in `/`), tried in order on a miss.
    pub sources: Vec<Url>,
    /// Also serve the mirror at this path prefix; `/` makes it answer every
    /// path that is not one of larder's own routes.
    pub mount: Option<String>,
    pub policy: MirrorPolicy,
    /// Pass query strings on to the sources (and key the cache by them).
    pub allow_query: bool,
    /// The name of a `sha256sum`-style file next to the files (such as
    /// `SHA256SUMS`) that fetched files are verified against when it lists them.
    pub checksums: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MirrorPolicy {
    /// Fetched once and kept: for files whose names are never reused.
    Immutable,
    /// Revalidated with the source's validators once older than this.
    Revalidate(Duration),
}

/// `[[mirror]]` as written in the file.
#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub(super) struct FileMirror {
    name: String,
    sources: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    mount: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    revalidate: Option<String>,
    #[serde(default)]
    allow_query: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    checksums: Option<String>,
}

impl FileMirror {
    /// `number` counts from 1, as people count `[[mirror]]` tables.
    pub(super) fn into_config(self, number: usize) -> Result<MirrorConfig> {
        let key = |field: &str| format!("mirror[{number}].{field}");
        let sources = self
            .sources
            .iter()
            .map(|source| parse_upstream_url(&key("sources"), source))
            .collect::<Result<Vec<_>>>()?;
        let policy = match &self.revalidate {
            None => MirrorPolicy::Immutable,
            Some(raw) => MirrorPolicy::Revalidate(
                units::parse_duration(raw).map_err(|e| invalid(&key("revalidate"), e))?,
            ),
        };
        Ok(MirrorConfig {
            name: self.name,
            sources,
            mount: self.mount,
            policy,
            allow_query: self.allow_query,
            checksums: self.checksums,
        })
    }

    pub(super) fn redacted(mirror: &MirrorConfig) -> Self {
        Self {
            name: mirror.name.clone(),
            sources: mirror
                .sources
                .iter()
                .map(|u| redact_url(u.as_str()))
                .collect(),
            mount: mirror.mount.clone(),
            revalidate: match mirror.policy {
                MirrorPolicy::Immutable => None,
                MirrorPolicy::Revalidate(age) => Some(units::format_duration(age)),
            },
            allow_query: mirror.allow_query,
            checksums: mirror.checksums.clone(),
        }
    }
}

impl MirrorConfig {
    /// The mirror `--source URL...` describes.
    pub fn from_sources(sources: Vec<Url>) -> Self {
        Self {
            name: SOURCE_MIRROR_NAME.to_owned(),
            sources,
            mount: Some("/".to_owned()),
            policy: MirrorPolicy::Immutable,
            allow_query: false,
            checksums: None,
        }
    }
}

/// Checks names, sources and mounts of all mirrors together (mounts may not
/// overlap larder's routes or each other).
pub(super) fn validate(mirrors: &[MirrorConfig], upstreams: &[UpstreamConfig]) -> Result<()> {
    let mut names = BTreeSet::new();
    let mut mounts: Vec<(usize, &str)> = Vec::new();
    for (index, mirror) in mirrors.iter().enumerate() {
        let number = index + 1;
        let key = |field: &str| format!("mirror[{number}].{field}");
        MirrorName::new(&mirror.name).map_err(|e| invalid(&key("name"), e.to_string()))?;
        // One namespace for both: the catalog records a blob's source by name.
        if upstreams.iter().any(|u| u.name == mirror.name) {
            return Err(invalid(
                &key("name"),
                format!("`{}` is the name of an upstream", mirror.name),
            ));
        }
        if !names.insert(mirror.name.as_str()) {
            return Err(invalid(
                &key("name"),
                format!("`{}` is the name of another mirror", mirror.name),
            ));
        }
        if mirror.sources.is_empty() {
            return Err(invalid(&key("sources"), "needs at least one base URL"));
        }
        if let Some(file) = &mirror.checksums
            && (file.is_empty() || file.contains(['/', '\\']) || file == "." || file == "..")
        {
            return Err(invalid(
                &key("checksums"),
                format!("`{file}` must be a plain file name"),
            ));
        }
        if let Some(mount) = &mirror.mount {
            check_mount(&key("mount"), mount)?;
            for (other, existing) in &mounts {
                if overlaps(mount, existing) {
                    return Err(invalid(
                        &key("mount"),
                        format!("`{mount}` overlaps the mount `{existing}` of mirror[{other}]"),
                    ));
                }
            }
            mounts.push((number, mount));
        }
    }
    Ok(())
}

fn check_mount(key: &str, mount: &str) -> Result<()> {
    if mount == "/" {
        return Ok(());
    }
    let well_formed = mount.starts_with('/')
        && !mount.ends_with('/')
        && mount[1..].split('/').all(|segment| {
            !segment.is_empty()
                && segment != "."
                && segment != ".."
                && segment
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-._~".contains(c))
        });
    if !well_formed {
        return Err(invalid(
            key,
            format!("`{mount}` must look like `/distfiles` (no trailing `/`, no `.` or `..`)"),
        ));
    }
    if let Some(route) = RESERVED_ROUTES.iter().find(|route| overlaps(mount, route)) {
        return Err(invalid(
            key,
            format!("`{mount}` overlaps larder's own route `{route}`"),
        ));
    }
    Ok(())
}

/// Whether one path prefix contains the other (`/` is the fallback mount and
/// overlaps nothing but another `/`).
fn overlaps(a: &str, b: &str) -> bool {
    if a == "/" || b == "/" {
        return a == b;
    }
    let within =
        |inner: &str, outer: &str| inner == outer || inner.starts_with(&format!("{outer}/"));
    within(a, b) || within(b, a)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mirror(name: &str, mount: Option<&str>) -> MirrorConfig {
        MirrorConfig {
            name: name.to_owned(),
            sources: vec![Url::parse("http://127.0.0.1:9/").unwrap()],
            mount: mount.map(str::to_owned),
            policy: MirrorPolicy::Immutable,
            allow_query: false,
            checksums: None,
        }
    }

    #[test]
    fn mounts() {
        let ok = [
            vec![
                mirror("a", Some("/distfiles")),
                mirror("b", Some("/releases")),
            ],
            vec![mirror("a", Some("/")), mirror("b", Some("/distfiles"))],
            vec![mirror("a", Some("/simple-extras"))],
        ];
        for mirrors in ok {
            validate(&mirrors, &[]).unwrap();
        }
        let bad = [
            (
                vec![mirror("a", Some("/simple"))],
                "overlaps larder's own route `/simple`",
            ),
            (vec![mirror("a", Some("/files/x"))], "`/files`"),
            (
                vec![mirror("a", Some("/d")), mirror("b", Some("/d/e"))],
                "overlaps the mount `/d`",
            ),
            (
                vec![mirror("a", Some("/")), mirror("b", Some("/"))],
                "overlaps the mount `/`",
            ),
            (vec![mirror("a", Some("/d/"))], "no trailing"),
            (vec![mirror("a", Some("/../etc"))], "no trailing"),
            (
                vec![mirror("a", None), mirror("a", None)],
                "name of another mirror",
            ),
            (vec![mirror("A", None)], "lower-case"),
        ];
        for (mirrors, needle) in bad {
            let err = validate(&mirrors, &[]).unwrap_err().to_string();
            assert!(err.contains(needle), "{err}");
            assert!(err.contains("mirror["), "{err}");
        }
    }
}
