//! A namespace's series, registered once when it is made.

use metrics::{Counter, Gauge, counter, gauge};

use super::names::*;
use crate::reason::DisconnectReason;

/// The handles of one namespace's series (label `namespace`).
#[derive(Debug)]
pub struct NamespaceMetrics {
    name: String,
    sockets: Gauge,
    connects: Counter,
    events_in: Counter,
    events_out: Counter,
    acks: Counter,
    broadcasts: Counter,
    deliveries: Counter,
}

impl NamespaceMetrics {
    /// Registers the series of namespace `name`.
    pub fn new(name: &str) -> NamespaceMetrics {
        let label = || ("namespace", name.to_owned());
        NamespaceMetrics {
            name: name.to_owned(),
            sockets: gauge!(SOCKETS_OPEN, &[label()]),
            connects: counter!(SOCKET_CONNECTS_TOTAL, &[label()]),
            events_in: counter!(EVENTS_IN_TOTAL, &[label()]),
            events_out: counter!(EVENTS_OUT_TOTAL, &[label()]),
            acks: counter!(ACKS_TOTAL, &[label()]),
            broadcasts: counter!(BROADCASTS_TOTAL, &[label()]),
            deliveries: counter!(DELIVERIES_TOTAL, &[label()]),
        }
    }

    /// A socket joined.
    pub fn socket_joined(&self) {
        self.connects.increment(1);
        self.sockets.increment(1.0);
    }

    /// A socket left for `reason`.
    pub fn socket_left(&self, reason: DisconnectReason) {
        self.sockets.decrement(1.0);
        counter!(SOCKET_DISCONNECTS_TOTAL, "namespace" => self.name.clone(), "reason" => reason.as_str())
            .increment(1);
    }

    /// An event arrived from a client.
    pub fn event_in(&self) {
        self.events_in.increment(1);
    }

    /// An event was sent to one socket.
    pub fn event_out(&self) {
        self.events_out.increment(1);
    }

    /// An acknowledgement was sent.
    pub fn ack(&self) {
        self.acks.increment(1);
    }

    /// A broadcast reached `recipients` sockets of this node.
    pub fn broadcast(&self, recipients: usize) {
        self.broadcasts.increment(1);
        self.deliveries.increment(recipients as u64);
    }

    /// A broadcast already counted reached `recipients` sockets of this node later
    /// (read back from the stream).
    pub fn delivered(&self, recipients: usize) {
        self.deliveries.increment(recipients as u64);
    }
}
