//! The pages kept in memory, bounded by bytes: least recently used first
//! out. A page that leaves memory stays in the catalog and comes back on its
//! next request.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use super::entry::PageEntry;

/// What the hot pages may hold, by [`PageEntry::weight`].
pub(super) const DEFAULT_BUDGET: usize = 32 * 1024 * 1024;

#[derive(Debug)]
pub(super) struct HotPages {
    budget: usize,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    entries: HashMap<String, Slot>,
    /// Entries by last use: the first is the next to go.
    by_use: BTreeMap<u64, String>,
    clock: u64,
    held: usize,
}

#[derive(Debug)]
struct Slot {
    entry: Arc<PageEntry>,
    weight: usize,
    used: u64,
}

impl HotPages {
    pub(super) fn new(budget: usize) -> Self {
        Self {
            budget,
            state: Mutex::default(),
        }
    }

    pub(super) fn get(&self, project: &str) -> Option<Arc<PageEntry>> {
        let mut state = self.state.lock().expect("poisoned");
        let tick = state.tick();
        let slot = state.entries.get_mut(project)?;
        let previous = std::mem::replace(&mut slot.used, tick);
        let entry = slot.entry.clone();
        state.by_use.remove(&previous);
        state.by_use.insert(tick, project.to_owned());
        Some(entry)
    }

    /// Keeps `entry`, evicting the least recently used pages past the
    /// budget. A page larger than the whole budget is not kept.
    pub(super) fn insert(&self, project: &str, entry: Arc<PageEntry>) {
        let weight = entry.weight();
        let mut state = self.state.lock().expect("poisoned");
        state.remove(project);
        if weight > self.budget {
            return;
        }
        while state.held + weight > self.budget {
            let Some((_, victim)) = state.by_use.pop_first() else {
                break;
            };
            state.remove(&victim);
        }
        let tick = state.tick();
        state.by_use.insert(tick, project.to_owned());
        state.held += weight;
        state.entries.insert(
            project.to_owned(),
            Slot {
                entry,
                weight,
                used: tick,
            },
        );
    }
}

impl State {
    fn tick(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }

    fn remove(&mut self, project: &str) {
        if let Some(slot) = self.entries.remove(project) {
            self.by_use.remove(&slot.used);
            self.held -= slot.weight;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ProjectFile, ProjectPage, Sha256Hex};

    fn entry(files: usize) -> Arc<PageEntry> {
        let sha = Sha256Hex::parse(&"a".repeat(64)).unwrap();
        let file = ProjectFile::bare("demo-1.0.tar.gz", &sha);
        let page = ProjectPage {
            name: "demo".to_owned(),
            files: vec![file; files],
            versions: Vec::new(),
            status: None,
        };
        Arc::new(PageEntry::new(page, "main".to_owned(), None, None, 0))
    }

    #[test]
    fn evicts_least_recently_used_by_bytes() {
        let one = entry(10).weight();
        let hot = HotPages::new(one * 3);
        hot.insert("a", entry(10));
        hot.insert("b", entry(10));
        hot.insert("c", entry(10));
        assert!(hot.get("a").is_some(), "a is now the most recently used");
        hot.insert("d", entry(10));
        assert!(hot.get("b").is_none(), "b was least recently used");
        for kept in ["a", "c", "d"] {
            assert!(hot.get(kept).is_some(), "{kept}");
        }
        // One big page pushes out as many small ones as it needs.
        hot.insert("big", entry(20));
        assert!(hot.get("big").is_some());
        let left = ["a", "c", "d"]
            .iter()
            .filter(|p| hot.get(p).is_some())
            .count();
        assert_eq!(left, 1);
        let held = hot.state.lock().unwrap().held;
        assert!(held <= one * 3, "{held} > {}", one * 3);
    }

    #[test]
    fn a_page_over_the_budget_is_not_kept() {
        let hot = HotPages::new(entry(5).weight());
        hot.insert("huge", entry(50));
        assert!(hot.get("huge").is_none());
        hot.insert("small", entry(5));
        assert!(hot.get("small").is_some());
    }

    #[test]
    fn replacing_a_page_keeps_the_count_right() {
        let hot = HotPages::new(entry(10).weight() * 2);
        hot.insert("a", entry(10));
        hot.insert("a", entry(10));
        hot.insert("b", entry(10));
        assert!(hot.get("a").is_some() && hot.get("b").is_some());
    }
}
