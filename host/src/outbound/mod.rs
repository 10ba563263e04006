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
    /// A broadcast's one frame, shared by every recipient with its compressed form,
    /// made once by the first WebSocket writer that needs it.
    Shared(Arc<SharedFrame>),
    /// A pre-encoded WebSocket control frame (pong, close echo); only WebSocket writers
    /// send it.
    WsControl(Bytes),
    /// Flush what is queued before, then close the connection for this reason.
    Close(DisconnectReason),
}

impl Outbound {
    /// Whether it is a message (frames), as opposed to control.
    pub fn is_message(&self) -> bool {
        matches!(
            self,
            Outbound::Frame(_) | Outbound::Frames(_) | Outbound::Shared(_)
        )
    }

    /// Its frames, in order (none for control items): reference-count bumps.
    pub fn frames(&self) -> Vec<Frame> {
        match self {
            Outbound::Frame(frame) => vec![frame.clone()],
            Outbound::Frames(frames) => frames.to_vec(),
            Outbound::Shared(shared) => vec![shared.frame().clone()],
            Outbound::WsControl(_) | Outbound::Close(_) => Vec::new(),
        }
    }
}

/// One frame many connections send, and its permessage-deflate form once a writer
/// has made it (at one compression level: a writer at another makes its own).
#[derive(Debug)]
pub struct SharedFrame {
    frame: Frame,
    /// The level, and the compressed payload (`None`: not worth compressing).
    deflated: OnceLock<(u32, Option<Bytes>)>,
}

impl SharedFrame {
    /// A frame not compressed yet.
    pub fn new(frame: Frame) -> SharedFrame {
        SharedFrame {
            frame,
            deflated: OnceLock::new(),
        }
    }

    /// The frame.
    pub fn frame(&self) -> &Frame {
        &self.frame
    }

    /// Its payload compressed at `level`: made by `deflate` the first time, the same
    /// bytes after; a writer at another level than the first runs `deflate` itself.
    /// (Two writers racing may both compress; one result is kept.)
    pub fn deflated(&self, level: u32, deflate: impl FnOnce() -> Option<Bytes>) -> Option<Bytes> {
        match self.deflated.get() {
            Some((at, bytes)) if *at == level => bytes.clone(),
            Some(_) => deflate(),
            None => {
                let bytes = deflate();
                let _ = self.deflated.set((level, bytes.clone()));
                bytes
            }
        }
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
