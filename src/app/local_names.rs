//! The local names (projects with stored or uploaded files) in memory, so
//! the project lists do not scan the catalog on every request. Reloaded when
//! this process records a new name, and at least every few seconds for what
//! other processes (`larder import`, `prune`) change.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::maintenance::Usage;
use super::pages::LocalNames;
use crate::catalog::Catalog;
use crate::error::Result;

const RELOAD_AFTER: Duration = Duration::from_secs(5);

#[derive(Debug)]
pub(crate) struct LocalProjects {
    catalog: Arc<dyn Catalog>,
    /// Counts the names this process records.
    usage: Arc<Usage>,
    loaded: Mutex<Option<Loaded>>,
}

#[derive(Debug)]
struct Loaded {
    at: Instant,
    changes: u64,
    names: LocalNames,
}

impl LocalProjects {
    pub(crate) fn new(catalog: Arc<dyn Catalog>, usage: Arc<Usage>) -> Self {
        Self {
            catalog,
            usage,
            loaded: Mutex::default(),
        }
    }

    pub(crate) async fn current(&self) -> Result<LocalNames> {
        let changes = self.usage.names_recorded();
        if let Some(loaded) = &*self.loaded.lock().expect("poisoned")
            && loaded.changes == changes
            && loaded.at.elapsed() < RELOAD_AFTER
        {
            return Ok(loaded.names.clone());
        }
        let mut names = self.catalog.stored_projects().await?;
        names.sort_unstable();
        names.dedup();
        let mut loaded = self.loaded.lock().expect("poisoned");
        let generation = match &*loaded {
            Some(previous) if *previous.names.names == names => previous.names.generation,
            Some(previous) => previous.names.generation + 1,
            None => 1,
        };
        let names = LocalNames {
            generation,
            names: Arc::new(names),
        };
        *loaded = Some(Loaded {
            at: Instant::now(),
            changes,
            names: names.clone(),
        });
        Ok(names)
    }
}
