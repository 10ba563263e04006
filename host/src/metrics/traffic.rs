//! Traffic since it was last read, for the Admin UI's charts (`aggregatedEvents` of
//! `server_stats`): connections opened and closed (by reason), messages and bytes both
//! ways. Plain atomics the reader swaps to zero: the Prometheus series count the same
//! things for scraping, but a recorder's counters cannot be read back.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::reason::DisconnectReason;

/// The node's traffic since [`take`].
pub static TRAFFIC: Traffic = Traffic {
    connections: AtomicU64::new(0),
    packets_in: AtomicU64::new(0),
    packets_out: AtomicU64::new(0),
    bytes_in: AtomicU64::new(0),
    bytes_out: AtomicU64::new(0),
    disconnections: Mutex::new(BTreeMap::new()),
};

/// Counts of what crossed the node's connections.
#[derive(Debug)]
pub struct Traffic {
    connections: AtomicU64,
    packets_in: AtomicU64,
    packets_out: AtomicU64,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
    /// Closed connections by reason. A std mutex: once per connection closed.
    disconnections: Mutex<BTreeMap<&'static str, u64>>,
}

/// What [`take`] read.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TrafficSince {
    /// Connections opened.
    pub connections: u64,
    /// Connections closed, by Socket.IO's reason.
    pub disconnections: BTreeMap<&'static str, u64>,
    /// Messages received.
    pub packets_in: u64,
    /// Messages sent.
    pub packets_out: u64,
    /// Bytes of messages received.
    pub bytes_in: u64,
    /// Bytes written to clients.
    pub bytes_out: u64,
}

impl Traffic {
    /// A message of `bytes` received.
    #[inline]
    pub fn received(&self, bytes: usize) {
        self.packets_in.fetch_add(1, Ordering::Relaxed);
        self.bytes_in.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// `messages` messages written, `bytes` in all.
    #[inline]
    pub fn sent(&self, messages: u64, bytes: usize) {
        self.packets_out.fetch_add(messages, Ordering::Relaxed);
        self.bytes_out.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    pub(super) fn opened(&self) {
        self.connections.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn closed(&self, reason: DisconnectReason) {
        *self.by_reason().entry(reason.as_str()).or_default() += 1;
    }

    fn by_reason(&self) -> std::sync::MutexGuard<'_, BTreeMap<&'static str, u64>> {
        self.disconnections
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Reads the traffic since the last call, and starts counting afresh.
pub fn take() -> TrafficSince {
    let t = &TRAFFIC;
    TrafficSince {
        connections: t.connections.swap(0, Ordering::Relaxed),
        disconnections: std::mem::take(&mut *t.by_reason()),
        packets_in: t.packets_in.swap(0, Ordering::Relaxed),
        packets_out: t.packets_out.swap(0, Ordering::Relaxed),
        bytes_in: t.bytes_in.swap(0, Ordering::Relaxed),
        bytes_out: t.bytes_out.swap(0, Ordering::Relaxed),
    }
}
