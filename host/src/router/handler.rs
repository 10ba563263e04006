//! The trait every namespace's event handler implements.
//!
//! Built-in behaviours implement it today; the plugin pipeline (guards, validators,
//! handlers and filters in WebAssembly) will implement it next, without the
//! transports noticing.

use std::future::Future;
use std::pin::Pin;

use super::socket::Socket;
use crate::protocol::socketio::Payload;
use crate::reason::DisconnectReason;

/// A boxed future, so handlers can be chosen per namespace at run time.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// An event a client sent.
#[derive(Debug, Clone)]
pub struct IncomingEvent {
    /// The event name.
    pub name: String,
    /// Its arguments and attachments.
    pub payload: Payload,
    /// Whether the client asked for an acknowledgement.
    pub wants_ack: bool,
}

/// Handles a namespace's connections and events.
///
/// Calls for one socket are made in order, one at a time: a handler that awaits
/// something slow (a client's ack) should spawn a task instead of holding the socket.
pub trait EventHandler: Send + Sync + 'static {
    /// A socket joined the namespace; its CONNECT reply is already sent.
    fn on_connect<'a>(&'a self, socket: &'a Socket) -> BoxFuture<'a, ()>;

    /// An event arrived; `Some` is sent back as the ack when the client asked for one.
    fn on_event<'a>(&'a self, socket: &'a Socket, event: IncomingEvent) -> BoxFuture<'a, Option<Payload>>;

    /// The socket left the namespace.
    fn on_disconnect<'a>(&'a self, socket: &'a Socket, reason: DisconnectReason) -> BoxFuture<'a, ()>;
}
