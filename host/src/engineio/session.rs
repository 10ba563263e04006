//! One Engine.IO session: its outbound queue, current transport and close state.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

use tokio::sync::{Mutex, Notify};
use tokio_util::sync::CancellationToken;

use crate::outbound::{Connection, Outbound, Outbox, Receiver, SendError};
use crate::protocol::engineio::Transport;
use crate::reason::DisconnectReason;

/// A cheap handle to a session shared by its transports, its heartbeat and the
/// Socket.IO sockets that send through it.
#[derive(Clone)]
pub struct Session(Arc<Inner>);

struct Inner {
    /// The session id the client sends back as `sid`.
    id: Arc<str>,
    /// Producers queue here; it also holds the close state.
    outbox: Outbox,
    /// The queue's receiving end, held by whichever transport is writing: a pending
    /// poll, or the WebSocket writer after an upgrade.
    rx: Arc<Mutex<Receiver>>,
    /// The current transport (`0` polling, `1` websocket).
    transport: AtomicU8,
    /// Set while a WebSocket probe is in progress, so a second probe is refused.
    upgrading: AtomicBool,
    /// Set once the probe is answered (`3probe`) and until the upgrade ends either way:
    /// polls answer `6` (noop) at once, so the client can pause polling and send `5`.
    probed: AtomicBool,
    /// Set while a POST is being handled, so an overlapping one is refused.
    posting: AtomicBool,
    /// Wakes pending polls to look at `probed` and the transport again. Only
    /// `notify_waiters`: a stored permit would outlive an aborted probe.
    interrupt_poll: Notify,
    /// Signalled when the client answers a ping.
    pong: Notify,
    /// Cancelled when the session closes, or earlier when shutdown asks its readers
    /// to stop taking packets (a child of the close token).
    reading: CancellationToken,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("id", &self.0.id)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// A new open session on `transport` with a queue of `capacity` items.
    pub(super) fn new(id: String, transport: Transport, capacity: usize) -> Session {
        let (outbox, rx) = Outbox::new(capacity);
        let reading = outbox.closed().child_token();
        Session(Arc::new(Inner {
            id: id.into(),
            outbox,
            rx: Arc::new(Mutex::new(rx)),
            transport: AtomicU8::new(transport_code(transport)),
            upgrading: AtomicBool::new(false),
            probed: AtomicBool::new(false),
            posting: AtomicBool::new(false),
            interrupt_poll: Notify::new(),
            pong: Notify::new(),
            reading,
        }))
    }

    /// The session id.
    pub fn id(&self) -> &str {
        &self.0.id
    }

    /// The transport currently carrying the session.
    pub fn transport(&self) -> Transport {
        if self.0.transport.load(Ordering::Acquire) == 0 {
            Transport::Polling
        } else {
            Transport::Websocket
        }
    }

    pub(super) fn set_transport(&self, transport: Transport) {
        self.0
            .transport
            .store(transport_code(transport), Ordering::Release);
    }

    /// Claims the single upgrade slot; false if a probe is already running.
    pub(super) fn begin_upgrade(&self) -> bool {
        !self.0.upgrading.swap(true, Ordering::AcqRel)
    }

    /// Ends a probe that did not complete: the session goes on over polling.
    pub(super) fn abort_upgrade(&self) {
        self.0.probed.store(false, Ordering::Release);
        self.0.upgrading.store(false, Ordering::Release);
    }

    /// The client has its `3probe`: polls answer noop from now on.
    pub(super) fn probe_answered(&self) {
        self.0.probed.store(true, Ordering::Release);
        self.0.interrupt_poll.notify_waiters();
    }

    /// The upgrade completed: the session is on WebSocket, and a poll still pending
    /// lets go of the queue.
    pub(super) fn upgraded(&self) {
        self.set_transport(Transport::Websocket);
        crate::metrics::connection_upgraded();
        tracing::debug!(sid = self.id(), "session upgraded to websocket");
        self.0.interrupt_poll.notify_waiters();
    }

    /// Whether a poll must answer noop now instead of waiting for messages.
    pub(super) fn poll_must_yield(&self) -> bool {
        self.0.probed.load(Ordering::Acquire) || self.transport() != Transport::Polling
    }

    /// Claims the single POST slot; false if a POST is already being handled.
    pub(super) fn begin_post(&self) -> bool {
        !self.0.posting.swap(true, Ordering::AcqRel)
    }

    pub(super) fn end_post(&self) {
        self.0.posting.store(false, Ordering::Release);
    }

    pub(super) fn receiver(&self) -> Arc<Mutex<Receiver>> {
        self.0.rx.clone()
    }

    /// Notified when [`Session::poll_must_yield`] may have changed.
    pub(super) fn interrupt_poll(&self) -> &Notify {
        &self.0.interrupt_poll
    }

    pub(super) fn pong(&self) -> &Notify {
        &self.0.pong
    }

    /// Cancelled when the session closes.
    pub fn closed(&self) -> &CancellationToken {
        self.0.outbox.closed()
    }

    /// Cancelled when its readers must take no more packets: it closed, or shutdown
    /// began ([`Session::stop_reading`]).
    pub(super) fn reading(&self) -> &CancellationToken {
        &self.0.reading
    }

    /// Its readers finish the packet in hand and take no more; the session stays open
    /// for their replies.
    pub(super) fn stop_reading(&self) {
        self.0.reading.cancel();
    }

    /// Why the session closed, once it has.
    pub fn close_reason(&self) -> Option<DisconnectReason> {
        self.0.outbox.reason()
    }
}

impl Connection for Session {
    fn id(&self) -> Option<&str> {
        Some(&self.0.id)
    }

    fn transport(&self) -> &'static str {
        match self.transport() {
            Transport::Polling => "polling",
            Transport::Websocket => "websocket",
        }
    }

    fn send(&self, item: Outbound) -> Result<(), SendError> {
        self.0.outbox.send(item)
    }

    fn close(&self, reason: DisconnectReason) {
        self.0.outbox.close(reason);
    }
}

fn transport_code(transport: Transport) -> u8 {
    match transport {
        Transport::Polling => 0,
        Transport::Websocket => 1,
    }
}
