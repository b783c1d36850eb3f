//! Generic caching mirrors: any file tree behind an ordered list of sources.
//!
//! A requested path is normalized and confined to the mirror first; only the
//! configured sources are ever asked, in order, falling through on 404, 5xx,
//! timeouts and refused connections. The file then goes through the same
//! single-flight download as package files. `immutable` mirrors keep a file
//! forever; `revalidate` mirrors ask the source that gave it again (with its
//! validators) once it is older than the configured age, and keep serving
//! the stored copy when every source fails.

mod known_paths;

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue, IF_MODIFIED_SINCE, IF_NONE_MATCH};
use tracing::debug;
use url::Url;

use super::clock::unix_now;
use super::fetch::{Fallback, Fetcher, Job, OpenedFile, Record};
use super::offline_miss;
use super::recent_misses::RecentMisses;
use crate::catalog::{Catalog, MirrorEntry};
use crate::config::{MirrorConfig, MirrorPolicy};
use crate::error::{Error, ErrorKind, Result};
use crate::model::{MirrorName, Sha256Hex, checksums, mirror_path};
use crate::store::Expected;
use crate::upstream::{Client, redact};
use known_paths::KnownPaths;

/// Checksum files larger than this are not read (they are lists of lines).
const MAX_CHECKSUM_FILE: u64 = 4 * 1024 * 1024;

/// One mirror, as configured, with its typed name.
#[derive(Debug)]
struct Mirror {
    name: MirrorName,
    config: MirrorConfig,
}

#[derive(Debug)]
pub(crate) struct Mirrors {
    mirrors: Vec<Mirror>,
    catalog: Arc<dyn Catalog>,
    client: Client,
    fetcher: Fetcher,
    offline: bool,
    /// Immutable paths already served, by digest.
    known: KnownPaths,
    /// Paths no source had, for `not-found-ttl`.
    missing: RecentMisses<(MirrorName, String)>,
}

impl Mirrors {
    pub(crate) fn new(
        configs: &[MirrorConfig],
        catalog: Arc<dyn Catalog>,
        client: Client,
        fetcher: Fetcher,
        offline: bool,
        not_found_ttl: Duration,
    ) -> Result<Self> {
        let mirrors = configs
            .iter()
            .map(|config| {
                let name = MirrorName::new(&config.name)
                    .map_err(|e| Error::new(ErrorKind::Config, format!("mirror name: {e}")))?;
                Ok(Mirror {
                    name,
                    config: config.clone(),
                })
            })
            .collect::<Result<_>>()?;
        Ok(Self {
            mirrors,
            catalog,
            client,
            fetcher,
            offline,
            known: KnownPaths::default(),
            missing: RecentMisses::new(not_found_ttl),
        })
    }

    /// Opens `path` (as requested, still percent-encoded) of the mirror
    /// `name`; `query` is passed on only when the mirror allows it.
    pub(crate) async fn open(
        &self,
        name: &str,
        path: &str,
        query: Option<&str>,
    ) -> Result<OpenedFile> {
        let Mirror {
            name,
            config: mirror,
        } = self
            .mirrors
            .iter()
            .find(|m| m.name.as_str() == name)
            .ok_or_else(|| Error::not_found(format!("no mirror is named `{name}`")))?;
        let mut path = mirror_path::normalize(path)?;
        if let Some(query) = query.filter(|q| mirror.allow_query && !q.is_empty()) {
            path = format!("{path}?{query}");
        }
        let immutable = mirror.policy == MirrorPolicy::Immutable;
        let key = (name.clone(), path.clone());

        // An immutable path never changes its bytes: once known, serve it
        // without asking the catalog (a pruned blob falls through below).
        if immutable
            && let Some(sha256) = self.known.get(&key)
            && let Some(opened) = self.fetcher.open_stored(&sha256, true).await?
        {
            return Ok(opened);
        }

        let stored = self.stored_mirror_entry(mirror, &path).await?;
        if let Some(entry) = &stored
            && (self.offline || is_fresh(mirror.policy, entry))
            && let Some(opened) = self.fetcher.open_stored(&entry.sha256, immutable).await?
        {
            if immutable {
                self.known.insert(key, entry.sha256.clone());
            }
            return Ok(opened);
        }
        if self.offline {
            return Err(offline_miss(&format!("`{path}` of mirror `{name}`")));
        }
        if stored.is_none() && self.missing.contains(&key) {
            return Err(Error::not_found(format!(
                "no source of mirror `{name}` has `{path}`"
            )));
        }

        let expected_sha256 = match &mirror.checksums {
            Some(file) => self.listed_checksum(mirror, &path, file).await,
            None => None,
        };
        let job = Job {
            key: format!("mirror `{name}`: {path}"),
            sources: sources(mirror, &path, stored.as_ref())?,
            expected: Expected {
                sha256: expected_sha256.clone(),
                md5: None,
                len: None,
            },
            record: Record::Mirror {
                mirror: name.clone(),
                path: path.clone(),
            },
            fallback: stored.as_ref().map(|entry| Fallback {
                sha256: entry.sha256.clone(),
                size: entry.size,
            }),
        };
        let etag = expected_sha256.map(|s| s.to_string());
        let result = self.fetcher.follow(job, etag, immutable).await;
        if let Err(e) = &result
            && e.kind() == ErrorKind::NotFound
        {
            self.missing.insert(key);
        }
        result
    }

    /// The catalog's entry for `path`, when its blob is still stored.
    async fn stored_mirror_entry(
        &self,
        mirror: &MirrorConfig,
        path: &str,
    ) -> Result<Option<MirrorEntry>> {
        let Some(entry) = self.catalog.mirror_entry(&mirror.name, path).await? else {
            return Ok(None);
        };
        Ok(self
            .fetcher
            .is_stored(&entry.sha256)
            .await?
            .then_some(entry))
    }

    /// The SHA-256 the mirror's checksum file next to `path` lists for it,
    /// from the first source that has such a file.
    async fn listed_checksum(
        &self,
        mirror: &MirrorConfig,
        path: &str,
        sums_file: &str,
    ) -> Option<Sha256Hex> {
        let dir = path.rsplit_once('/').map_or("", |(dir, _)| dir);
        let sums_path = if dir.is_empty() {
            sums_file.to_owned()
        } else {
            format!("{dir}/{sums_file}")
        };
        let filename = mirror_path::file_name(path);
        for base in &mirror.sources {
            let Ok(url) = base.join(&sums_path) else {
                continue;
            };
            let Ok(response) = self
                .client
                .get_with_retries(&url, &HeaderMap::new(), 0)
                .await
            else {
                continue;
            };
            if !response.status().is_success()
                || response
                    .content_length()
                    .is_some_and(|n| n > MAX_CHECKSUM_FILE)
            {
                continue;
            }
            let Ok(text) = response.text().await else {
                continue;
            };
            let found = checksums::sha256_for(&text, &filename);
            debug!(url = %redact(&url), file = %filename, found = found.is_some(), "read checksum file");
            return found;
        }
        None
    }
}

fn is_fresh(policy: MirrorPolicy, entry: &MirrorEntry) -> bool {
    match policy {
        MirrorPolicy::Immutable => true,
        MirrorPolicy::Revalidate(max_age) => {
            let age = u64::try_from(unix_now() - entry.fetched_at).unwrap_or(0);
            age < max_age.as_secs()
        }
    }
}

/// The URL of `path` at every source, confined to it, with validators for
/// the source that gave the stored copy.
fn sources(
    mirror: &MirrorConfig,
    path: &str,
    stored: Option<&MirrorEntry>,
) -> Result<Vec<(Url, HeaderMap)>> {
    mirror
        .sources
        .iter()
        .map(|base| {
            let url = base
                .join(path)
                .ok()
                .filter(|url| url.as_str().starts_with(base.as_str()))
                .ok_or_else(|| {
                    Error::invalid(format!(
                        "`{path}` does not stay inside mirror `{}`",
                        mirror.name
                    ))
                })?;
            let mut headers = HeaderMap::new();
            if let Some(entry) = stored.filter(|e| e.source == url.as_str()) {
                let mut validator = |name, value: &Option<String>| {
                    if let Some(value) =
                        value.as_deref().and_then(|v| HeaderValue::from_str(v).ok())
                    {
                        headers.insert(name, value);
                    }
                };
                validator(IF_NONE_MATCH, &entry.etag);
                validator(IF_MODIFIED_SINCE, &entry.last_modified);
            }
            Ok((url, headers))
        })
        .collect()
}
