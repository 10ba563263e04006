//! Process-wide counters, kept in one place and rendered in Prometheus text format.
//!
//! Plain atomics: incrementing is one relaxed add on the hot path, and `/metrics`
//! reads them without locks.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use crate::reason::DisconnectReason;

/// All counters and gauges of the process.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Engine.IO sessions and native connections currently open.
    pub connections_open: AtomicI64,
    /// Connections ever opened.
    pub connections_total: AtomicU64,
    /// Socket.IO sockets currently joined to a namespace.
    pub sockets_open: AtomicI64,
    /// Messages written to clients (one per recipient), counted per write: a broadcast
    /// adds nothing per recipient on the sender's side.
    pub messages_out: AtomicU64,
    /// Messages received from clients.
    pub messages_in: AtomicU64,
    /// Connections closed because their outbound queue filled up.
    pub slow_consumer_disconnects: AtomicU64,
    /// Connections closed because a client packet could not be decoded.
    pub parse_errors: AtomicU64,
    /// Requests refused with an Engine.IO error code.
    pub rejected_requests: AtomicU64,
    /// 1 while the cluster link to Redis is up (subscribed and publishing), else 0.
    pub cluster_connected: AtomicI64,
    /// Messages published to Redis.
    pub cluster_published: AtomicU64,
    /// Messages not published: Redis away or slow, the publish queue full.
    pub cluster_dropped: AtomicU64,
    /// Messages received from Redis and applied.
    pub cluster_received: AtomicU64,
    /// Messages received from Redis that were malformed or oversized, and dropped.
    pub cluster_malformed: AtomicU64,
    /// Plugin store operations that failed (Redis away) and answered as if unset.
    pub store_errors: AtomicU64,
}

/// The process's counters.
pub static METRICS: Metrics = Metrics {
    connections_open: AtomicI64::new(0),
    connections_total: AtomicU64::new(0),
    sockets_open: AtomicI64::new(0),
    messages_out: AtomicU64::new(0),
    messages_in: AtomicU64::new(0),
    slow_consumer_disconnects: AtomicU64::new(0),
    parse_errors: AtomicU64::new(0),
    rejected_requests: AtomicU64::new(0),
    cluster_connected: AtomicI64::new(0),
    cluster_published: AtomicU64::new(0),
    cluster_dropped: AtomicU64::new(0),
    cluster_received: AtomicU64::new(0),
    cluster_malformed: AtomicU64::new(0),
    store_errors: AtomicU64::new(0),
};

/// Counts a connection closed for `reason`.
pub fn record_close(reason: DisconnectReason) {
    match reason {
        DisconnectReason::SlowConsumer => inc(&METRICS.slow_consumer_disconnects),
        DisconnectReason::ParseError => inc(&METRICS.parse_errors),
        _ => {}
    }
}

/// Adds one to a counter.
pub fn inc(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// Adds `n` to a counter.
pub fn add(counter: &AtomicU64, n: u64) {
    if n > 0 {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

impl Metrics {
    /// Renders every metric in the Prometheus text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let gauges = [
            (
                "portico_connections_open",
                "Open client connections.",
                self.connections_open.load(Ordering::Relaxed),
            ),
            (
                "portico_sockets_open",
                "Sockets joined to a namespace.",
                self.sockets_open.load(Ordering::Relaxed),
            ),
            (
                "portico_cluster_connected",
                "1 while the link to Redis is up (Redis adapter only).",
                self.cluster_connected.load(Ordering::Relaxed),
            ),
        ];
        for (name, help, value) in gauges {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}");
        }
        let counters = [
            (
                "portico_connections_total",
                "Client connections opened.",
                &self.connections_total,
            ),
            (
                "portico_messages_in_total",
                "Messages received from clients.",
                &self.messages_in,
            ),
            (
                "portico_messages_out_total",
                "Messages written to clients, one per recipient.",
                &self.messages_out,
            ),
            (
                "portico_slow_consumer_disconnects_total",
                "Clients disconnected because their outbound queue was full.",
                &self.slow_consumer_disconnects,
            ),
            (
                "portico_parse_errors_total",
                "Clients disconnected for sending an undecodable packet.",
                &self.parse_errors,
            ),
            (
                "portico_rejected_requests_total",
                "HTTP requests refused with an Engine.IO error.",
                &self.rejected_requests,
            ),
            (
                "portico_cluster_published_total",
                "Messages published to Redis for the other nodes.",
                &self.cluster_published,
            ),
            (
                "portico_cluster_dropped_total",
                "Messages for the other nodes dropped because Redis was away or slow.",
                &self.cluster_dropped,
            ),
            (
                "portico_cluster_received_total",
                "Messages from other nodes received through Redis.",
                &self.cluster_received,
            ),
            (
                "portico_cluster_malformed_total",
                "Messages from Redis dropped as malformed or oversized.",
                &self.cluster_malformed,
            ),
            (
                "portico_store_errors_total",
                "Plugin store operations that failed (Redis away) and answered as if unset.",
                &self.store_errors,
            ),
        ];
        for (name, help, value) in counters {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                value.load(Ordering::Relaxed)
            );
        }
        out
    }
}
