//! The trait every namespace's event handler implements.
//!
//! Built-in behaviours implement it today; the plugin pipeline (guards, validators,
//! handlers and filters in WebAssembly) will implement it next, without the
//! transports noticing.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use super::namespace::Namespace;
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

/// An event another node of the cluster sent to the servers themselves (Socket.IO's
/// `io.serverSideEmit(name, ...args)`, or `@socket.io/redis-emitter`'s).
#[derive(Debug, Clone, PartialEq)]
pub struct ServerEvent {
    /// The event name.
    pub name: String,
    /// Its arguments.
    pub args: Vec<serde_json::Value>,
}

/// Work to do once the client has its CONNECT reply (emits made while connecting).
pub type AfterConnect = Box<dyn FnOnce() + Send>;

/// A refused connection: the client receives CONNECT_ERROR `{message, code?, data?}`.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectRefusal {
    /// The message shown to the client.
    pub message: String,
    /// A stable code, when there is one.
    pub code: Option<String>,
    /// Extra data for the client.
    pub data: Option<serde_json::Value>,
}

impl ConnectRefusal {
    /// The CONNECT_ERROR payload.
    pub fn to_json(&self) -> serde_json::Value {
        let mut body = serde_json::json!({ "message": self.message });
        if let Some(code) = &self.code {
            body["code"] = serde_json::Value::String(code.clone());
        }
        if let Some(data) = &self.data {
            body["data"] = data.clone();
        }
        body
    }
}

impl From<crate::limits::Refusal> for ConnectRefusal {
    /// `{message, code, data: {code}}`: socket.io-client shows `data` as `err.data`.
    fn from(refusal: crate::limits::Refusal) -> ConnectRefusal {
        ConnectRefusal {
            message: refusal.to_string(),
            code: Some(refusal.code().to_owned()),
            data: Some(serde_json::json!({ "code": refusal.code() })),
        }
    }
}

/// The result of [`EventHandler::on_connect`].
pub type ConnectResult = Result<Option<AfterConnect>, ConnectRefusal>;

/// Handles a namespace's connections and events.
///
/// Calls for one socket are made in order, one at a time: a handler that awaits
/// something slow (a client's ack) should spawn a task instead of holding the socket.
/// Each call names the socket's namespace, through which the handler acts on it
/// (joins, leaves, emits, disconnects) and on the others.
pub trait EventHandler: Send + Sync + 'static {
    /// A socket asks to join (accepted unless a handler says otherwise). `Err` refuses it with CONNECT_ERROR; `Ok` sends the
    /// CONNECT reply, then runs the returned work (so emits reach the client after it).
    fn on_connect<'a>(
        &'a self,
        _ns: &'a Arc<Namespace>,
        _socket: &'a Socket,
    ) -> BoxFuture<'a, ConnectResult> {
        Box::pin(async { Ok(None) })
    }

    /// An event arrived; `Some` is sent back as the ack when the client asked for one.
    fn on_event<'a>(
        &'a self,
        ns: &'a Arc<Namespace>,
        socket: &'a Socket,
        event: IncomingEvent,
    ) -> BoxFuture<'a, Option<Payload>>;

    /// The socket left the namespace (nothing to do unless a handler says otherwise).
    fn on_disconnect<'a>(
        &'a self,
        _ns: &'a Arc<Namespace>,
        _socket: &'a Socket,
        _reason: DisconnectReason,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async {})
    }

    /// An event another node sent to the servers: `Some` is this node's answer, when
    /// the sender asked for acknowledgements. Ignored unless a handler overrides it.
    fn on_server_event<'a>(
        &'a self,
        _ns: &'a Arc<Namespace>,
        _event: ServerEvent,
    ) -> BoxFuture<'a, Option<serde_json::Value>> {
        Box::pin(async { None })
    }
}
