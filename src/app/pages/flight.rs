//! One refresh per project at a time: concurrent misses for a project wait
//! for the first one's upstream request instead of making their own.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::OwnedMutexGuard;

#[derive(Debug, Default)]
pub(super) struct Flights {
    by_key: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// The right to refresh one key. Whoever waited for it must look at the
/// cache again first: the previous holder may have filled it.
pub(super) struct Flight<'a> {
    flights: &'a Flights,
    key: String,
    lock: Arc<tokio::sync::Mutex<()>>,
    _turn: OwnedMutexGuard<()>,
}

impl Flights {
    pub(super) async fn join(&self, key: &str) -> Flight<'_> {
        let lock = self
            .by_key
            .lock()
            .expect("poisoned")
            .entry(key.to_owned())
            .or_default()
            .clone();
        Flight {
            flights: self,
            key: key.to_owned(),
            _turn: lock.clone().lock_owned().await,
            lock,
        }
    }
}

impl Drop for Flight<'_> {
    /// Only now, with the result kept, may a new flight start: a request
    /// arriving in between would otherwise fetch the page again.
    fn drop(&mut self) {
        let mut by_key = self.flights.by_key.lock().expect("poisoned");
        // A waiter of an older flight must not end a newer one.
        if by_key
            .get(&self.key)
            .is_some_and(|l| Arc::ptr_eq(l, &self.lock))
        {
            by_key.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_holder_per_key_at_a_time() {
        let flights = Flights::default();
        let first = flights.join("a").await;
        let other = tokio::time::timeout(std::time::Duration::from_millis(5), flights.join("b"));
        assert!(other.await.is_ok(), "another key is independent");
        let same = tokio::time::timeout(std::time::Duration::from_millis(20), flights.join("a"));
        assert!(same.await.is_err(), "the same key waits");
        drop(first);
        assert!(flights.by_key.lock().unwrap().is_empty());
        let _again = flights.join("a").await;
    }
}
