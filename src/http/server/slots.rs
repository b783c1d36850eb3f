//! How many connections may be open at once, in all and from one address;
//! and saying so in the log when connections are refused, without a line
//! per refusal (a flood of them is exactly when they come by the thousand).

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::time::Instant;
use tracing::warn;

/// At most one warning about refused connections per this long.
const WARN_EVERY: Duration = Duration::from_secs(10);

/// The open connections, counted against the limits.
#[derive(Clone)]
pub(super) struct Slots {
    open: Arc<Mutex<Open>>,
    max: u32,
    max_per_client: u32,
}

#[derive(Default)]
struct Open {
    total: u32,
    /// Only addresses with open connections, so that the map cannot grow
    /// with every client ever seen.
    per_client: HashMap<IpAddr, u32>,
}

/// An open connection's place; dropping it frees the place.
pub(super) struct Slot {
    slots: Slots,
    client: IpAddr,
}

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Refusal {
    Total(u32),
    PerClient(u32, IpAddr),
}

impl Slots {
    pub(super) fn new(max: u32, max_per_client: u32) -> Self {
        Self {
            open: Arc::default(),
            max,
            max_per_client,
        }
    }

    fn open(&self) -> MutexGuard<'_, Open> {
        // Counters, consistent after any panic.
        self.open
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A place for a connection from `client`, unless a limit is reached.
    pub(super) fn take(&self, client: IpAddr) -> Result<Slot, Refusal> {
        let mut open = self.open();
        if open.total >= self.max {
            return Err(Refusal::Total(self.max));
        }
        let from_client = open.per_client.entry(client).or_default();
        if *from_client >= self.max_per_client {
            return Err(Refusal::PerClient(self.max_per_client, client));
        }
        *from_client += 1;
        open.total += 1;
        Ok(Slot {
            slots: self.clone(),
            client,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.slots.open();
        open.total -= 1;
        if let Some(from_client) = open.per_client.get_mut(&self.client) {
            *from_client -= 1;
            if *from_client == 0 {
                open.per_client.remove(&self.client);
            }
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Total(max) => write!(f, "{max} connections are open (`server.max-connections`)"),
            Self::PerClient(max, client) => write!(
                f,
                "{max} connections from {client} are open (`server.max-connections-per-client`)"
            ),
        }
    }
}

/// Warns about refused connections at most every [`WARN_EVERY`], counting
/// the ones in between.
#[derive(Default)]
pub(super) struct RefusalLog {
    last_warning: Option<Instant>,
    unreported: u64,
}

impl RefusalLog {
    pub(super) fn refused(&mut self, why: Refusal) {
        self.unreported += 1;
        let now = Instant::now();
        if self
            .last_warning
            .is_some_and(|last| now.duration_since(last) < WARN_EVERY)
        {
            return;
        }
        warn!(
            refused = self.unreported,
            "refused {} connection(s) since the last warning; the latest because {why}",
            self.unreported
        );
        self.last_warning = Some(now);
        self.unreported = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 2));

    #[test]
    fn limits_apply_and_closing_frees_a_place() {
        let slots = Slots::new(3, 2);
        let a1 = slots.take(A).unwrap();
        let _a2 = slots.take(A).unwrap();
        assert_eq!(slots.take(A).err(), Some(Refusal::PerClient(2, A)));
        let _b1 = slots.take(B).unwrap();
        assert_eq!(slots.take(B).err(), Some(Refusal::Total(3)));
        drop(a1);
        let _a3 = slots.take(A).unwrap();
        assert_eq!(slots.open().per_client[&A], 2);
    }

    #[test]
    fn forgets_clients_without_connections() {
        let slots = Slots::new(10, 10);
        drop(slots.take(A).unwrap());
        assert!(slots.open().per_client.is_empty());
        assert_eq!(slots.open().total, 0);
    }

    #[test]
    fn refusals_name_the_limit() {
        assert_eq!(
            Refusal::PerClient(256, A).to_string(),
            "256 connections from 127.0.0.1 are open (`server.max-connections-per-client`)"
        );
    }

    #[test]
    fn refusals_are_counted_between_warnings() {
        let mut log = RefusalLog::default();
        log.refused(Refusal::Total(1));
        assert_eq!(log.unreported, 0, "the first refusal is reported at once");
        log.refused(Refusal::Total(1));
        log.refused(Refusal::Total(1));
        assert_eq!(log.unreported, 2);
        // As if the last warning were `WARN_EVERY` ago.
        log.last_warning = log.last_warning.map(|last| last - WARN_EVERY);
        log.refused(Refusal::Total(1));
        assert_eq!(log.unreported, 0);
    }
}
