//! Which projects have uploaded files, kept in memory for the hot path.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Which projects have uploaded files, in memory, so that a page request
/// does not pay a catalog query to learn that a project is *not* private (the
/// common case, on the hot path). Reloaded after [`RELOAD_AFTER`] so uploads
/// and deletes made by another process show up.
#[derive(Debug, Default)]
pub(super) struct PrivateProjects(Mutex<Option<(Instant, Arc<HashSet<String>>)>>);

const RELOAD_AFTER: Duration = Duration::from_secs(5);

impl PrivateProjects {
    pub(super) fn current(&self) -> Option<Arc<HashSet<String>>> {
        match &*self.0.lock().expect("poisoned") {
            Some((at, set)) if at.elapsed() < RELOAD_AFTER => Some(set.clone()),
            _ => None,
        }
    }

    pub(super) fn replace(&self, set: Arc<HashSet<String>>) {
        *self.0.lock().expect("poisoned") = Some((Instant::now(), set));
    }

    /// Adds a project at once (an upload through this process).
    pub(super) fn insert(&self, project: &str) {
        if let Some((_, set)) = &mut *self.0.lock().expect("poisoned") {
            Arc::make_mut(set).insert(project.to_owned());
        }
    }

    /// Forgets the set, so the next request reloads it (after a delete).
    pub(super) fn invalidate(&self) {
        *self.0.lock().expect("poisoned") = None;
    }
}
