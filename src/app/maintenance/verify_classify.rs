//! What `larder verify` concludes from the catalog's rows and what it found
//! on disk: a pure function, so every kind of damage is tested without
//! breaking a real store.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use serde::Serialize;

use crate::catalog::{BlobState, BlobUsage};
use crate::model::Sha256Hex;

/// A kind of damage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Problem {
    /// A blob file whose content does not hash to its name (or cannot be read).
    Corrupt,
    /// A catalog row whose blob file is gone.
    Missing,
    /// A valid blob file the catalog has no row for (e.g. a crash between
    /// commit and record).
    Orphan,
    /// A file in the blob tree that is not named like a blob.
    Stray,
    /// A staging file nothing has written to for a long time (a crash
    /// during a download or upload).
    StaleStaging,
    /// A row a prune marked `deleting` and never finished removing.
    StuckDeleting,
}

/// One blob file as found on disk.
#[derive(Debug, Clone)]
pub(super) struct FileCheck {
    pub path: PathBuf,
    /// The digest its name and place say it has; `None` for a stray file.
    pub named: Option<Sha256Hex>,
    /// Its actual digest and size, or why it could not be read.
    pub actual: Result<(Sha256Hex, u64), String>,
}

/// One problem, before any repair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Found {
    pub problem: Problem,
    pub sha256: Option<Sha256Hex>,
    pub path: Option<PathBuf>,
    /// An upload uses the blob: its row must not be forgotten.
    pub private: bool,
    /// The file's size (orphans are recorded with it).
    pub size: u64,
    pub detail: String,
}

/// Compares the catalog's rows with the files on disk.
pub(super) fn classify(rows: &[BlobUsage], files: &[FileCheck]) -> Vec<Found> {
    let by_sha: HashMap<&Sha256Hex, &BlobUsage> = rows.iter().map(|r| (&r.sha256, r)).collect();
    let mut on_disk: HashMap<&Sha256Hex, &FileCheck> = HashMap::new();
    let mut found = Vec::new();
    for file in files {
        let Some(named) = &file.named else {
            found.push(Found {
                problem: Problem::Stray,
                sha256: None,
                path: Some(file.path.clone()),
                private: false,
                size: 0,
                detail: "not named like a blob".to_owned(),
            });
            continue;
        };
        on_disk.insert(named, file);
        let row = by_sha.get(named);
        if row.is_some_and(|r| r.state == BlobState::Deleting) {
            continue; // reported with its row below
        }
        let private = row.is_some_and(|r| r.private);
        let mut report = |problem, size, detail: String| {
            found.push(Found {
                problem,
                sha256: Some(named.clone()),
                path: Some(file.path.clone()),
                private,
                size,
                detail,
            });
        };
        match &file.actual {
            Err(e) => report(Problem::Corrupt, 0, format!("cannot be read: {e}")),
            Ok((actual, size)) if actual != named => {
                report(
                    Problem::Corrupt,
                    *size,
                    format!("content hashes to {actual}"),
                );
            }
            Ok((_, size)) if row.is_none() => {
                report(Problem::Orphan, *size, "no catalog row".to_owned());
            }
            Ok(_) => {}
        }
    }
    let seen: HashSet<&Sha256Hex> = on_disk.keys().copied().collect();
    for row in rows {
        let file = on_disk.get(&row.sha256);
        if row.state == BlobState::Deleting {
            found.push(Found {
                problem: Problem::StuckDeleting,
                sha256: Some(row.sha256.clone()),
                path: file.map(|f| f.path.clone()),
                private: row.private,
                size: row.size,
                detail: "a prune did not finish removing it".to_owned(),
            });
        } else if !seen.contains(&row.sha256) {
            found.push(Found {
                problem: Problem::Missing,
                sha256: Some(row.sha256.clone()),
                path: None,
                private: row.private,
                size: row.size,
                detail: "the catalog knows it, the store does not have it".to_owned(),
            });
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sha(c: char) -> Sha256Hex {
        Sha256Hex::parse(&c.to_string().repeat(64)).unwrap()
    }

    fn row(c: char, state: BlobState, private: bool) -> BlobUsage {
        BlobUsage {
            sha256: sha(c),
            size: 3,
            state,
            last_access_at: 0,
            private,
            names: Vec::new(),
        }
    }

    fn file(named: Option<char>, actual: Result<char, &str>) -> FileCheck {
        FileCheck {
            path: PathBuf::from(named.map_or("x".to_owned(), |c| c.to_string())),
            named: named.map(sha),
            actual: actual.map(|c| (sha(c), 3)).map_err(str::to_owned),
        }
    }

    fn problems(found: &[Found]) -> Vec<(Problem, Option<Sha256Hex>)> {
        found
            .iter()
            .map(|f| (f.problem, f.sha256.clone()))
            .collect()
    }

    #[test]
    fn a_healthy_store_has_nothing_to_say() {
        let rows = [row('a', BlobState::Stored, false)];
        assert!(classify(&rows, &[file(Some('a'), Ok('a'))]).is_empty());
    }

    #[test]
    fn names_every_kind_of_damage() {
        let rows = [
            row('a', BlobState::Stored, false),
            row('b', BlobState::Stored, true),
            row('c', BlobState::Deleting, false),
            row('d', BlobState::Stored, false),
        ];
        let files = [
            file(Some('a'), Ok('f')),
            file(Some('c'), Ok('c')),
            file(Some('d'), Err("denied")),
            file(Some('e'), Ok('e')),
            file(None, Ok('9')),
        ];
        let found = classify(&rows, &files);
        assert_eq!(
            problems(&found),
            [
                (Problem::Corrupt, Some(sha('a'))),
                (Problem::Corrupt, Some(sha('d'))),
                (Problem::Orphan, Some(sha('e'))),
                (Problem::Stray, None),
                (Problem::Missing, Some(sha('b'))),
                (Problem::StuckDeleting, Some(sha('c'))),
            ]
        );
        let missing = found
            .iter()
            .find(|f| f.problem == Problem::Missing)
            .unwrap();
        assert!(missing.private);
        let stuck = found
            .iter()
            .find(|f| f.problem == Problem::StuckDeleting)
            .unwrap();
        assert!(stuck.path.is_some());
    }
}
