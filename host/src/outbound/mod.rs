//! A connection's bounded outbound queue: many producers, one writer.
//!
//! Producers never wait: a full queue means the client cannot keep up, and the
//! connection is closed with [`DisconnectReason::SlowConsumer`] instead of slowing
//! the broadcaster or dropping messages silently.
//!
//! # Layout
//! - [`queue`]: the queue itself, a push a short lock and a wake-up per batch.
//! - This module: what is queued ([`Outbound`]), the [`Connection`] trait, and
//!   [`Outbox`], the queue's sending end with the connection's close state.

pub mod queue;

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use tokio_util::sync::CancellationToken;

use crate::protocol::engineio::Frame;
use crate::reason::DisconnectReason;

/// One item in an outbound queue.
#[derive(Debug, Clone)]
pub enum Outbound {
    /// One frame.
    Frame(Frame),
    /// Frames that must stay together (a packet and its binary attachments), shared
    /// by every recipient of a broadcast.
    Frames(Arc<[Frame]>),
    /// A pre-encoded WebSocket control frame (pong, close echo); only WebSocket writers
    /// send it.
    WsControl(Bytes),
    /// Flush what is queued before, then close the connection for this reason.
    Close(DisconnectReason),
}

impl Outbound {
    /// Whether it is a message (frames), as opposed to control.
    pub fn is_message(&self) -> bool {
        matches!(self, Outbound::Frame(_) | Outbound::Frames(_))
    }
}

pub use queue::{Receiver, Sender, channel};

/// Why an item was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The queue is full: the client is too slow and is being disconnected.
    #[error("outbound queue full")]
    Full,
    /// The connection is already closed.
    #[error("connection closed")]
    Closed,
}

/// Queues `item` without waiting.
pub fn try_send(tx: &Sender, item: Outbound) -> Result<(), SendError> {
    match tx.try_send(item) {
        Ok(()) => Ok(()),
        Err(queue::TrySendError::Full(_)) => Err(SendError::Full),
        Err(queue::TrySendError::Closed(_)) => Err(SendError::Closed),
    }
}

/// Anything sockets can send to: an Engine.IO session or a native WebSocket.
pub trait Connection: Send + Sync + 'static {
    /// Queues `item`; a full queue closes the connection as a slow consumer.
    fn send(&self, item: Outbound) -> Result<(), SendError>;
    /// Closes the connection now, discarding what is queued.
    fn close(&self, reason: DisconnectReason);
    /// The connection's own id (an Engine.IO session id), when it has one.
    fn id(&self) -> Option<&str> {
        None
    }
    /// Its transport as Socket.IO names it: `polling` or `websocket`.
    fn transport(&self) -> &'static str {
        "websocket"
    }
    /// Flushes what is queued, then closes the connection.
    fn close_after_flush(&self, reason: DisconnectReason) {
        if self.send(Outbound::Close(reason)).is_err() {
            self.close(reason);
        }
    }
}

/// The sending half of a connection's queue and its close state: the body of every
/// [`Connection`].
#[derive(Debug)]
pub struct Outbox {
    tx: Sender,
    /// Cancelled once, when the connection closes.
    closed: CancellationToken,
    /// Why it closed; set exactly once, before `closed` is cancelled.
    reason: OnceLock<DisconnectReason>,
}

impl Outbox {
    /// An open outbox with a queue of `capacity` items, and the queue's receiver.
    pub fn new(capacity: usize) -> (Outbox, Receiver) {
        let (tx, rx) = channel(capacity);
        (
            Outbox {
                tx,
                closed: CancellationToken::new(),
                reason: OnceLock::new(),
            },
            rx,
        )
    }

    /// Cancelled when the connection closes.
    pub fn closed(&self) -> &CancellationToken {
        &self.closed
    }

    /// Why the connection closed, once it has.
    pub fn reason(&self) -> Option<DisconnectReason> {
        self.reason.get().copied()
    }
}

impl Connection for Outbox {
    fn send(&self, item: Outbound) -> Result<(), SendError> {
        let result = try_send(&self.tx, item);
        if result == Err(SendError::Full) {
            self.close(DisconnectReason::SlowConsumer);
        }
        result
    }

    fn close(&self, reason: DisconnectReason) {
        if self.reason.set(reason).is_ok() {
            self.closed.cancel();
        }
    }
}
