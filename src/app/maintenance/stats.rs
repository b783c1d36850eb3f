//! `larder stats`: what the store holds, by source and origin, and all-time
//! traffic figures.
//!
//! Contents come from the catalog's blob rows (blobs in state `stored`). A
//! blob known under several sources counts once under each source, and once
//! under one origin, chosen in this order: private (an upload uses it),
//! imported, mirror, cached upstream. Traffic figures are the running
//! server's counters as it last persisted them (every
//! `prune.flush-interval` and on a graceful shutdown), summed over every run
//! of the server on this data directory; `/metrics` shows the same counters
//! since the process started.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::Maintenance;
use crate::catalog::{BlobState, BlobUsage};
use crate::error::Result;
use crate::model::Source;

/// Counter values already added to the catalog, so each flush adds only
/// what is new. Held across the write, so flushes do not interleave.
pub(super) type PersistedCounters = tokio::sync::Mutex<HashMap<&'static str, u64>>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Origin {
    /// Uploaded to the private index.
    Private,
    /// Stored by `larder import`.
    Imported,
    /// Fetched for a generic mirror.
    Mirror,
    /// Fetched from an upstream package index.
    Upstream,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    pub files: u64,
    pub bytes: u64,
}

impl Tally {
    fn add(&mut self, bytes: u64) {
        self.files += 1;
        self.bytes += bytes;
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Stats {
    /// Every stored blob, each once.
    pub total: Tally,
    /// By `blob_name` source: an upstream's or mirror's name, `private`, `import`.
    pub by_source: BTreeMap<String, Tally>,
    pub by_origin: BTreeMap<Origin, Tally>,
    /// Rows a prune left half-removed (`larder verify --repair` finishes them).
    pub deleting: u64,
    pub all_time: Traffic,
}

/// Persisted server counters, summed over all runs.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Traffic {
    /// Package and mirror files served from the store.
    pub file_hits: u64,
    /// Files that had to be fetched.
    pub file_misses: u64,
    /// `file_hits / (file_hits + file_misses)`; `None` before any request.
    pub hit_ratio: Option<f64>,
    pub page_hits: u64,
    pub page_misses: u64,
    /// File bytes sent from the store.
    pub bytes_from_cache: u64,
    /// File bytes received from upstreams and mirror sources.
    pub bytes_from_upstream: u64,
}

impl Maintenance {
    /// Adds what the counters gained since the last flush to the catalog.
    pub(crate) async fn flush_counters(&self) -> Result<()> {
        let mut persisted = self.persisted.lock().await;
        let totals = self.metrics.totals();
        let deltas: Vec<(&str, u64)> = totals
            .iter()
            .map(|&(name, value)| {
                let before = persisted.get(name).copied().unwrap_or(0);
                (name, value.saturating_sub(before))
            })
            .filter(|&(_, delta)| delta > 0)
            .collect();
        if deltas.is_empty() {
            return Ok(());
        }
        self.catalog.add_counters(&deltas).await?;
        persisted.extend(totals);
        Ok(())
    }

    pub(crate) async fn stats(&self) -> Result<Stats> {
        let usage = self.catalog.blob_usage().await?;
        let counters: HashMap<String, u64> = self.catalog.counters().await?.into_iter().collect();
        let mirrors: Vec<&str> = self.mirrors.iter().map(String::as_str).collect();
        let mut stats = tally(&usage, &mirrors);
        stats.all_time = traffic(&counters);
        Ok(stats)
    }
}

/// The contents part of [`Stats`] (pure, for tests).
fn tally(usage: &[BlobUsage], mirrors: &[&str]) -> Stats {
    let mut stats = Stats {
        total: Tally::default(),
        by_source: BTreeMap::new(),
        by_origin: BTreeMap::new(),
        deleting: 0,
        all_time: Traffic::default(),
    };
    for blob in usage {
        if blob.state != BlobState::Stored {
            stats.deleting += 1;
            continue;
        }
        stats.total.add(blob.size);
        let mut sources: Vec<&Source> = blob.names.iter().map(|n| &n.source).collect();
        sources.sort_unstable();
        sources.dedup();
        for source in &sources {
            stats
                .by_source
                .entry(source.to_string())
                .or_default()
                .add(blob.size);
        }
        let origin = if blob.private || sources.contains(&&Source::Upload) {
            Origin::Private
        } else if sources.contains(&&Source::Import) {
            Origin::Imported
        } else if sources
            .iter()
            .any(|s| matches!(s, Source::Mirror(_)) || mirrors.contains(&s.as_stored()))
            || (!blob.names.is_empty() && blob.names.iter().all(|n| n.project.is_empty()))
        {
            Origin::Mirror
        } else {
            Origin::Upstream
        };
        stats.by_origin.entry(origin).or_default().add(blob.size);
    }
    stats
}

fn traffic(counters: &HashMap<String, u64>) -> Traffic {
    let get = |name: &str| counters.get(name).copied().unwrap_or(0);
    let (hits, misses) = (get("file_hits"), get("file_misses"));
    Traffic {
        file_hits: hits,
        file_misses: misses,
        hit_ratio: (hits + misses > 0).then(|| hits as f64 / (hits + misses) as f64),
        page_hits: get("page_hits"),
        page_misses: get("page_misses"),
        bytes_from_cache: get("bytes_from_cache"),
        bytes_from_upstream: get("bytes_from_upstream"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::UsageName;
    use crate::model::Sha256Hex;

    fn blob(c: char, size: u64, private: bool, names: &[(&str, &str)]) -> BlobUsage {
        BlobUsage {
            sha256: Sha256Hex::parse(&c.to_string().repeat(64)).unwrap(),
            size,
            state: BlobState::Stored,
            last_access_at: 0,
            private,
            names: names
                .iter()
                .map(|(source, project)| UsageName {
                    source: Source::from_stored(source, !project.is_empty()),
                    project: (*project).into(),
                    filename: "f".into(),
                })
                .collect(),
        }
    }

    #[test]
    fn counts_each_blob_once_per_source_and_once_per_origin() {
        let usage = vec![
            blob('a', 10, false, &[("main", "demo")]),
            blob('b', 20, false, &[("main", "demo"), ("import", "demo")]),
            blob('c', 30, true, &[("private", "mine")]),
            blob('d', 40, false, &[("distfiles", "")]),
        ];
        let stats = tally(&usage, &["distfiles"]);
        assert_eq!(
            stats.total,
            Tally {
                files: 4,
                bytes: 100
            }
        );
        assert_eq!(
            stats.by_source["main"],
            Tally {
                files: 2,
                bytes: 30
            }
        );
        assert_eq!(
            stats.by_source["import"],
            Tally {
                files: 1,
                bytes: 20
            }
        );
        assert_eq!(
            stats.by_origin[&Origin::Upstream],
            Tally {
                files: 1,
                bytes: 10
            }
        );
        assert_eq!(
            stats.by_origin[&Origin::Imported],
            Tally {
                files: 1,
                bytes: 20
            }
        );
        assert_eq!(
            stats.by_origin[&Origin::Private],
            Tally {
                files: 1,
                bytes: 30
            }
        );
        assert_eq!(
            stats.by_origin[&Origin::Mirror],
            Tally {
                files: 1,
                bytes: 40
            }
        );
    }

    #[test]
    fn hit_ratio_needs_requests() {
        assert_eq!(traffic(&HashMap::new()).hit_ratio, None);
        let counters = HashMap::from([("file_hits".to_owned(), 3), ("file_misses".to_owned(), 1)]);
        assert_eq!(traffic(&counters).hit_ratio, Some(0.75));
    }
}
