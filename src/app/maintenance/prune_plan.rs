//! Which blobs a prune removes, and in what order: a pure function over the
//! catalog's [`BlobUsage`] records, so the policy is tested without a store.
//!
//! Blobs are grouped into units: a distribution file together with its
//! PEP 658 `.metadata` file (named `<file>.metadata` in the same project),
//! so the two leave together. A unit's last access is the latest of its
//! blobs'. Units never pruned: any blob an upload uses, any blob the keep
//! list protects, and rows not in state `stored`. With `unused_before`,
//! every other unit not accessed after then goes; with `max_size`, units go
//! least recently used first until the stored bytes fit. A metadata blob
//! shared by several distributions (identical METADATA) goes with the last
//! of them.

use std::collections::HashMap;

use super::keep::KeepList;
use crate::catalog::{BlobState, BlobUsage};

/// What to prune down to; `None` fields do not apply.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Policy {
    pub max_size: Option<u64>,
    /// Unix seconds: units last accessed at or before this go.
    pub unused_before: Option<i64>,
}

/// One distribution (or a lone blob) with the metadata blobs attached to it.
#[derive(Debug)]
struct Unit {
    main: usize,
    metadata: Vec<usize>,
    last_access: i64,
}

/// Indexes into `usage` of the blobs to remove, in removal order (least
/// recently used first, each distribution before its metadata).
pub(super) fn plan(usage: &[BlobUsage], policy: Policy, keep: &KeepList) -> Vec<usize> {
    let protected: Vec<bool> = usage
        .iter()
        .map(|blob| {
            blob.private
                || blob.state != BlobState::Stored
                || blob.names.iter().any(|n| keep.protects(n, &blob.sha256))
        })
        .collect();
    let mut units = units(usage);
    units.sort_by(|a, b| {
        (a.last_access, &usage[a.main].sha256).cmp(&(b.last_access, &usage[b.main].sha256))
    });
    // How many not-yet-removed units each metadata blob is attached to.
    let mut owners: HashMap<usize, usize> = HashMap::new();
    for unit in &units {
        for &m in &unit.metadata {
            *owners.entry(m).or_default() += 1;
        }
    }
    let mut stored: u64 = usage
        .iter()
        .filter(|b| b.state == BlobState::Stored)
        .map(|b| b.size)
        .sum();
    let mut removed = Vec::new();
    for unit in &units {
        if protected[unit.main] {
            continue;
        }
        let stale = policy.unused_before.is_some_and(|t| unit.last_access <= t);
        let too_big = policy.max_size.is_some_and(|max| stored > max);
        if !stale && !too_big {
            continue;
        }
        removed.push(unit.main);
        stored = stored.saturating_sub(usage[unit.main].size);
        for &m in &unit.metadata {
            let left = owners.entry(m).or_default();
            *left = left.saturating_sub(1);
            if *left == 0 && !protected[m] {
                removed.push(m);
                stored = stored.saturating_sub(usage[m].size);
            }
        }
    }
    removed
}

/// Groups blobs into units (see the module docs).
fn units(usage: &[BlobUsage]) -> Vec<Unit> {
    // (project, filename) of every distribution name → the unit of its blob.
    let mut by_file: HashMap<(&str, &str), usize> = HashMap::new();
    let mut units: Vec<Unit> = Vec::new();
    let mut lone_metadata = Vec::new();
    for (index, blob) in usage.iter().enumerate() {
        let describes: Vec<(&str, &str)> = blob
            .names
            .iter()
            .filter_map(|n| metadata_of(&n.project, &n.filename))
            .collect();
        if !blob.names.is_empty() && describes.len() == blob.names.len() {
            lone_metadata.push((index, describes));
            continue;
        }
        for name in &blob.names {
            by_file.insert((&name.project, &name.filename), units.len());
        }
        units.push(Unit {
            main: index,
            metadata: Vec::new(),
            last_access: blob.last_access_at,
        });
    }
    for (index, describes) in lone_metadata {
        let mut owners: Vec<usize> = describes
            .iter()
            .filter_map(|key| by_file.get(key).copied())
            .collect();
        owners.sort_unstable();
        owners.dedup();
        if owners.is_empty() {
            units.push(Unit {
                main: index,
                metadata: Vec::new(),
                last_access: usage[index].last_access_at,
            });
        }
        for owner in owners {
            let unit = &mut units[owner];
            unit.metadata.push(index);
            unit.last_access = unit.last_access.max(usage[index].last_access_at);
        }
    }
    units
}

/// `(project, distribution filename)` when `filename` is a package's
/// `.metadata` file.
fn metadata_of<'a>(project: &'a str, filename: &'a str) -> Option<(&'a str, &'a str)> {
    let dist = filename.strip_suffix(".metadata")?;
    (!project.is_empty() && !dist.is_empty()).then_some((project, dist))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::UsageName;
    use crate::model::Sha256Hex;
    use crate::requirements::{Source, no_includes, parse};

    fn blob(c: char, size: u64, at: i64, filenames: &[&str]) -> BlobUsage {
        BlobUsage {
            sha256: Sha256Hex::parse(&c.to_string().repeat(64)).unwrap(),
            size,
            state: BlobState::Stored,
            last_access_at: at,
            private: false,
            names: filenames
                .iter()
                .map(|f| UsageName {
                    source: crate::model::Source::from_stored("main", true),
                    project: "demo".into(),
                    filename: (*f).into(),
                })
                .collect(),
        }
    }

    fn names(usage: &[BlobUsage], plan: &[usize]) -> Vec<String> {
        plan.iter()
            .map(|&i| {
                usage[i]
                    .names
                    .first()
                    .map_or("?".into(), |n| n.filename.clone())
            })
            .collect()
    }

    fn store() -> Vec<BlobUsage> {
        vec![
            blob('a', 100, 10, &["demo-1.0.tar.gz"]),
            blob('b', 100, 30, &["demo-2.0-py3-none-any.whl"]),
            blob('c', 5, 40, &["demo-2.0-py3-none-any.whl.metadata"]),
            blob('d', 100, 20, &["demo-3.0.tar.gz"]),
            blob('e', 100, 50, &["demo-4.0.tar.gz"]),
        ]
    }

    #[test]
    fn max_size_removes_least_recently_used_first() {
        let usage = store();
        let policy = Policy {
            max_size: Some(250),
            unused_before: None,
        };
        let plan = plan(&usage, policy, &KeepList::default());
        assert_eq!(names(&usage, &plan), ["demo-1.0.tar.gz", "demo-3.0.tar.gz"]);
        // Fitting already: nothing goes.
        let roomy = Policy {
            max_size: Some(405),
            unused_before: None,
        };
        assert!(super::plan(&usage, roomy, &KeepList::default()).is_empty());
    }

    #[test]
    fn metadata_goes_with_its_file_and_lends_it_recency() {
        let usage = store();
        // The wheel was read at 30 but its metadata at 40: the unit counts as 40.
        let policy = Policy {
            max_size: Some(100),
            unused_before: None,
        };
        let plan = plan(&usage, policy, &KeepList::default());
        assert_eq!(
            names(&usage, &plan),
            [
                "demo-1.0.tar.gz",
                "demo-3.0.tar.gz",
                "demo-2.0-py3-none-any.whl",
                "demo-2.0-py3-none-any.whl.metadata"
            ]
        );
    }

    #[test]
    fn uploads_kept_files_and_deleting_rows_are_never_chosen() {
        let mut usage = store();
        usage[0].private = true;
        usage[3].state = BlobState::Deleting;
        let keep = KeepList::new(
            parse(
                &Source {
                    name: "r.txt".into(),
                    text: "demo==4.0\n".into(),
                },
                &mut no_includes,
            )
            .unwrap()
            .wanted,
        );
        let policy = Policy {
            max_size: Some(0),
            unused_before: None,
        };
        let plan = plan(&usage, policy, &keep);
        assert_eq!(
            names(&usage, &plan),
            [
                "demo-2.0-py3-none-any.whl",
                "demo-2.0-py3-none-any.whl.metadata"
            ]
        );
    }

    #[test]
    fn unused_for_removes_everything_older() {
        let usage = store();
        let policy = Policy {
            max_size: None,
            unused_before: Some(25),
        };
        let plan = plan(&usage, policy, &KeepList::default());
        assert_eq!(names(&usage, &plan), ["demo-1.0.tar.gz", "demo-3.0.tar.gz"]);
    }

    #[test]
    fn shared_metadata_stays_until_its_last_file_goes() {
        let usage = vec![
            blob('a', 10, 10, &["demo-1.0-cp312-none-any.whl"]),
            blob('b', 10, 20, &["demo-1.0-cp313-none-any.whl"]),
            blob(
                'c',
                1,
                5,
                &[
                    "demo-1.0-cp312-none-any.whl.metadata",
                    "demo-1.0-cp313-none-any.whl.metadata",
                ],
            ),
        ];
        let one = Policy {
            max_size: Some(15),
            unused_before: None,
        };
        assert_eq!(plan(&usage, one, &KeepList::default()), [0]);
        let all = Policy {
            max_size: Some(0),
            unused_before: None,
        };
        assert_eq!(plan(&usage, all, &KeepList::default()), [0, 1, 2]);
    }
}
