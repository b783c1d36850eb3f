//! The `MANIFEST` of an exported tree: one line per file of the tree (itself
//! excluded), sorted by path:
//!
//! ```text
//! <sha256 hex> <size in bytes> <path relative to the tree, `/`-separated>
//! ```
//!
//! Fields are separated by one space; the path is last and runs to the end
//! of the line. `sha256sum -c` does not read it as is, but
//! `awk '{print $1 "  " $3}' MANIFEST | sha256sum -c` does.

use crate::error::{Error, Result};
use crate::model::Sha256Hex;

pub const FILE_NAME: &str = "MANIFEST";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub sha256: Sha256Hex,
    pub size: u64,
    pub path: String,
}

/// The manifest text of `entries` (sorted by path here).
pub fn render(entries: &[Entry]) -> String {
    let mut sorted: Vec<&Entry> = entries.iter().collect();
    sorted.sort_by(|a, b| a.path.cmp(&b.path));
    let mut out = String::with_capacity(sorted.len() * 120);
    for entry in sorted {
        out.push_str(&format!("{} {} {}\n", entry.sha256, entry.size, entry.path));
    }
    out
}

/// Parses a manifest; a malformed line is an error naming it.
pub fn parse(text: &str) -> Result<Vec<Entry>> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(number, line)| {
            let bad = || Error::invalid(format!("MANIFEST line {} is malformed", number + 1));
            let mut parts = line.splitn(3, ' ');
            let (Some(sha), Some(size), Some(path)) = (parts.next(), parts.next(), parts.next())
            else {
                return Err(bad());
            };
            Ok(Entry {
                sha256: Sha256Hex::parse(sha).map_err(|_| bad())?,
                size: size.parse().map_err(|_| bad())?,
                path: path.to_owned(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_sorted_and_parses_back() {
        let entry = |c: char, size, path: &str| Entry {
            sha256: Sha256Hex::parse(&c.to_string().repeat(64)).unwrap(),
            size,
            path: path.to_owned(),
        };
        let entries = vec![
            entry('b', 7, "simple/index.html"),
            entry('a', 42, "files/demo-1.0 x.whl"),
        ];
        let text = render(&entries);
        assert_eq!(
            text,
            format!(
                "{} 42 files/demo-1.0 x.whl\n{} 7 simple/index.html\n",
                "a".repeat(64),
                "b".repeat(64)
            )
        );
        let mut sorted = entries.clone();
        sorted.reverse();
        assert_eq!(parse(&text).unwrap(), sorted);
        for bad in ["abc 1 x", &format!("{} x y", "a".repeat(64)), "only"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
