//! Digests of immutable mirror paths already served, so a warm request for
//! one needs no catalog lookup (a pruned blob falls through to the catalog).

use std::collections::HashMap;
use std::sync::Mutex;

use crate::model::{MirrorName, Sha256Hex};

/// Digests of immutable mirror paths already served, so a warm request needs
/// no catalog lookup. Bounded: past the cap it starts over.
#[derive(Debug, Default)]
pub(super) struct KnownPaths(Mutex<HashMap<(MirrorName, String), Sha256Hex>>);

impl KnownPaths {
    pub(super) fn get(&self, key: &(MirrorName, String)) -> Option<Sha256Hex> {
        self.0.lock().expect("poisoned").get(key).cloned()
    }

    pub(super) fn insert(&self, key: (MirrorName, String), sha256: Sha256Hex) {
        let mut paths = self.0.lock().expect("poisoned");
        if paths.len() >= MAX_HOT_PATHS {
            paths.clear();
        }
        paths.insert(key, sha256);
    }
}

const MAX_HOT_PATHS: usize = 65_536;
