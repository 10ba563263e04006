//! One client connected to one namespace, over Socket.IO or the native framing.
//!
//! A [`Socket`] is a leaf: it knows its id, its namespace's name, its connection and
//! its pending acks, and nothing above it. What changes its rooms or its membership
//! (join, leave, disconnect) is the [`Namespace`](super::Namespace)'s to do, since
//! the namespace owns the adapter, the presence and the handler that must hear of it.

use std::any::Any;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use super::broadcast::{OutgoingEvent, Targets, frames_item};
use super::handler::ConnectRefusal;
use super::recovery::Journal;
use super::{Room, SocketId};
use crate::engineio::RequestInfo;
use crate::limits::EventBudget;
use crate::metrics::NamespaceMetrics;
use crate::outbound::{Connection, Outbound, SendError};
use crate::protocol::cluster::RemoteSocket;
use crate::protocol::engineio::Frame;
use crate::protocol::socketio::{Event, Packet, PacketKind, Payload};
use crate::reason::DisconnectReason;

/// How a socket's client frames messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// Socket.IO packets over Engine.IO.
    SocketIo,
    /// `{event, data}` JSON over a plain WebSocket.
    Native,
}

/// What the client presented when it joined the namespace.
#[derive(Debug, Clone, Default)]
pub struct Handshake {
    /// The CONNECT packet's `auth` object (`{}` when absent).
    pub auth: Value,
    /// The HTTP request that opened the connection.
    pub request: RequestInfo,
    /// The verified token's claims, when the namespace authenticates.
    pub user: Option<Value>,
}

/// Why an emit with an acknowledgement produced no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AckError {
    /// The client did not answer in time.
    #[error("no acknowledgement within the timeout")]
    Timeout,
    /// The socket disconnected before answering.
    #[error("socket disconnected before acknowledging")]
    Disconnected,
    /// The event could not be queued.
    #[error("could not send: {0}")]
    Send(#[from] SendError),
    /// The client's framing has no acknowledgements (native WebSocket).
    #[error("this client's framing has no acknowledgements")]
    Unsupported,
}

/// Where a socket is in its life; it only ever moves forward.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(super) enum Stage {
    /// Its handler is deciding whether to accept it; nothing sent to the namespace
    /// reaches it yet.
    Connecting = 0,
    /// Accepted and registered in its namespace.
    Admitted = 1,
    /// Left, refused, or lost while connecting.
    Gone = 2,
}

impl Stage {
    fn from_u8(stage: u8) -> Stage {
        match stage {
            0 => Stage::Connecting,
            1 => Stage::Admitted,
            _ => Stage::Gone,
        }
    }
}

/// A cheap handle to a socket.
#[derive(Clone)]
pub struct Socket(Arc<Inner>);

struct Inner {
    id: SocketId,
    /// Its namespace's name, as every packet to it names it.
    nsp: Arc<str>,
    conn: Arc<dyn Connection>,
    framing: Framing,
    handshake: Handshake,
    /// Acks the server awaits from the client, by id. A std mutex: insert/remove only.
    acks: Mutex<HashMap<u64, oneshot::Sender<Payload>>>,
    next_ack: AtomicU64,
    /// Where it is in its life ([`Stage`]).
    stage: AtomicU8,
    /// Why it left, once it has.
    left: OnceLock<DisconnectReason>,
    /// Cancelled when it leaves: what runs for this socket alone ends with it.
    gone: CancellationToken,
    /// What the namespace's handler keeps about this socket ([`Socket::handler_state`]).
    handler_state: OnceLock<Arc<dyn Any + Send + Sync>>,
    /// Its namespace's series, from its admission on.
    metrics: OnceLock<Arc<NamespaceMetrics>>,
    /// Its event budget, set at admission when its namespace limits events.
    budget: OnceLock<EventBudget>,
    /// Told of what is emitted to it alone, set at admission when its namespace is
    /// observed.
    observer: OnceLock<Arc<dyn super::Observer>>,
    /// Its private session id and its namespace's journal, set at admission when the
    /// namespace recovers connection state (Socket.IO framing only).
    recovery: OnceLock<Recovery>,
}

/// A recoverable socket's side of connection state recovery.
struct Recovery {
    pid: Arc<str>,
    journal: Arc<Journal>,
    /// Whether it resumed an earlier socket's session.
    recovered: bool,
    /// The first packet it may have missed had it dropped at once (the journal's next
    /// sequence number when its session began).
    since: u64,
}

impl std::fmt::Debug for Socket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Socket")
            .field("id", &self.0.id)
            .field("nsp", &self.0.nsp)
            .finish()
    }
}

impl Socket {
    /// A socket of the namespace `nsp` sending through `conn`; not yet registered in it.
    pub fn new(nsp: &str, conn: Arc<dyn Connection>, framing: Framing, handshake: Handshake) -> Socket {
        Socket::with_id(crate::id::random_id().into(), nsp, conn, framing, handshake)
    }

    /// A socket with the id `id`: one that resumes a session an earlier one left.
    pub fn with_id(
        id: SocketId,
        nsp: &str,
        conn: Arc<dyn Connection>,
        framing: Framing,
        handshake: Handshake,
    ) -> Socket {
        Socket(Arc::new(Inner {
            id,
            nsp: nsp.into(),
            conn,
            framing,
            handshake,
            acks: Mutex::new(HashMap::new()),
            next_ack: AtomicU64::new(1),
            stage: AtomicU8::new(Stage::Connecting as u8),
            left: OnceLock::new(),
            gone: CancellationToken::new(),
            handler_state: OnceLock::new(),
            metrics: OnceLock::new(),
            budget: OnceLock::new(),
            observer: OnceLock::new(),
            recovery: OnceLock::new(),
        }))
    }

    /// The id of the connection it runs on (its Engine.IO session), when it has one.
    pub fn client_id(&self) -> Option<&str> {
        self.0.conn.id()
    }

    /// Its connection's transport now: `polling` or `websocket`.
    pub fn transport(&self) -> &'static str {
        self.0.conn.transport()
    }

    /// The socket id (also the name of its own room).
    pub fn id(&self) -> &SocketId {
        &self.0.id
    }

    /// The name of the namespace it belongs to.
    pub fn nsp(&self) -> &str {
        &self.0.nsp
    }

    /// Its client's framing.
    pub fn framing(&self) -> Framing {
        self.0.framing
    }

    /// What the client presented on connect.
    pub fn handshake(&self) -> &Handshake {
        &self.0.handshake
    }

    /// State the namespace's handler derives from this socket once and reuses on every
    /// event (what plugins are told about the socket, say): made by `init` on first
    /// use. A handler asking for a different type than the first gets a fresh value.
    pub fn handler_state<T: Send + Sync + 'static>(&self, init: impl FnOnce(&Socket) -> T) -> Arc<T> {
        if let Some(state) = self.0.handler_state.get() {
            return match state.clone().downcast::<T>() {
                Ok(state) => state,
                Err(_) => Arc::new(init(self)),
            };
        }
        let state = Arc::new(init(self));
        let _ = self.0.handler_state.set(state.clone());
        state
    }

    /// Whether it has not left (it may still be connecting).
    pub fn connected(&self) -> bool {
        self.stage() != Stage::Gone
    }

    /// Whether its handler accepted it and it is in its namespace.
    pub fn admitted(&self) -> bool {
        self.stage() == Stage::Admitted
    }

    /// Why it left, once it has.
    pub fn left_reason(&self) -> Option<DisconnectReason> {
        self.0.left.get().copied()
    }

    /// Completes once it has left (at once if it has): a task working for this socket
    /// alone selects on it, so it ends with the socket.
    pub async fn left(&self) {
        self.0.gone.cancelled().await;
    }

    fn stage(&self) -> Stage {
        Stage::from_u8(self.0.stage.load(Ordering::Acquire))
    }

    /// Sends an event to this socket only (kept for replay, as sent to its own room,
    /// when its namespace recovers connection state; on a shared stream, appended to
    /// it and delivered when read back).
    pub fn emit(&self, name: &str, payload: Payload) -> Result<(), SendError> {
        let event = OutgoingEvent::new(&self.0.nsp, name, payload);
        if let Some(metrics) = self.0.metrics.get() {
            metrics.event_out();
        }
        if let Some(observer) = self.0.observer.get() {
            observer.event_sent(&self.0.nsp, &[&self.0.id], name, event.payload());
        }
        let send = || self.0.conn.send(event.item(self.0.framing));
        match self.0.recovery.get() {
            Some(recovery) => {
                let own = Targets::default().to(self.0.id.clone());
                // On a shared stream it goes through the stream, as Node sends it, so
                // any node can replay it; it is delivered when read back.
                if let Some(shared) = recovery.journal.shared() {
                    shared.append(&own, &event);
                    return Ok(());
                }
                recovery.journal.record(&own, &event, send)
            }
            None => send(),
        }
    }

    /// Its private session id, when its namespace recovers connection state: what its
    /// client presents to resume it (never shown to anyone else).
    pub fn pid(&self) -> Option<&Arc<str>> {
        self.0.recovery.get().map(|r| &r.pid)
    }

    /// Whether it resumed the session of an earlier socket with its id (Socket.IO's
    /// `socket.recovered`).
    pub fn recovered(&self) -> bool {
        self.0.recovery.get().is_some_and(|r| r.recovered)
    }

    /// Makes it recoverable under `pid`, its events kept in `journal`, its session
    /// begun at packet `since` (once; before admission).
    pub(super) fn recover_with(&self, pid: Arc<str>, journal: Arc<Journal>, recovered: bool, since: u64) {
        let _ = self.0.recovery.set(Recovery {
            pid,
            journal,
            recovered,
            since,
        });
    }

    /// Where its session began in its journal (0 when it is not recoverable).
    pub(super) fn recovery_since(&self) -> u64 {
        self.0.recovery.get().map_or(0, |r| r.since)
    }

    /// Queues the packets it missed, in order, a batch per queue item so a long
    /// replay takes few places in its queue.
    pub(super) fn send_missed(&self, missed: Vec<Outbound>) {
        const BATCH: usize = 256;
        let mut batch: Vec<Frame> = Vec::new();
        for item in missed {
            batch.extend(item.frames());
            if batch.len() >= BATCH {
                let _ = self.0.conn.send(frames_item(std::mem::take(&mut batch)));
            }
        }
        if !batch.is_empty() {
            let _ = self.0.conn.send(frames_item(batch));
        }
    }

    /// Tells `observer` of what is emitted to it alone (once; at admission).
    pub(super) fn observe(&self, observer: Arc<dyn super::Observer>) {
        let _ = self.0.observer.set(observer);
    }

    /// Sends an event and waits up to `timeout` for the client's acknowledgement.
    pub async fn emit_with_ack(
        &self,
        name: &str,
        payload: Payload,
        timeout: Duration,
    ) -> Result<Payload, AckError> {
        if self.0.framing == Framing::Native {
            return Err(AckError::Unsupported);
        }
        let id = self.0.next_ack.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.acks().insert(id, tx);
        // `mark_gone` sets the stage, then clears the acks: seen here after the insert,
        // a socket that left (now or before) never answers, so waiting would be in vain.
        if !self.connected() {
            self.acks().remove(&id);
            return Err(AckError::Disconnected);
        }
        let event = Event {
            name: name.to_owned(),
            payload,
            id: Some(id),
        };
        if let Err(err) = self.send_packet(PacketKind::Event(event)) {
            self.acks().remove(&id);
            return Err(err.into());
        }
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(payload)) => Ok(payload),
            Ok(Err(_)) => Err(AckError::Disconnected),
            Err(_) => {
                self.acks().remove(&id);
                Err(AckError::Timeout)
            }
        }
    }

    /// Delivers a client's acknowledgement; unknown or late ids are ignored.
    pub fn resolve_ack(&self, id: u64, payload: Payload) {
        if let Some(tx) = self.acks().remove(&id) {
            let _ = tx.send(payload);
        }
    }

    /// Sends a Socket.IO packet of this namespace to the client.
    pub fn send_packet(&self, kind: PacketKind) -> Result<(), SendError> {
        self.0
            .conn
            .send(frames_item(Packet::new(&*self.0.nsp, kind).encode()))
    }

    /// What `fetchSockets` tells of it, given its `rooms`: Socket.IO's handshake
    /// object (headers, time, address, xdomain, secure, issued, url, query, auth) and
    /// `data` `{user}`, the verified claims, as the seeds set `client.data.user`.
    pub fn describe(&self, rooms: Vec<Room>) -> RemoteSocket {
        let request = &self.0.handshake.request;
        let headers: serde_json::Map<String, Value> = request
            .headers
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_owned(),
                    Value::from(String::from_utf8_lossy(value.as_bytes())),
                )
            })
            .collect();
        let query: serde_json::Map<String, Value> = crate::auth::query_pairs(&request.query)
            .map(|(k, v)| (k, Value::from(v)))
            .collect();
        let issued = request
            .issued
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let handshake = serde_json::json!({
            "headers": headers,
            "time": httpdate::fmt_http_date(request.issued),
            "address": request.peer.map(|ip| ip.to_string()).unwrap_or_default(),
            "xdomain": request.headers.contains_key(http::header::ORIGIN),
            "secure": false,
            "issued": issued.as_millis() as u64,
            "url": format!("{}?{}", request.path, request.query),
            "query": query,
            "auth": self.0.handshake.auth,
        });
        let mut data = serde_json::Map::new();
        if let Some(user) = &self.0.handshake.user {
            data.insert("user".to_owned(), user.clone());
        }
        RemoteSocket {
            id: self.0.id.to_string(),
            handshake,
            rooms,
            data: Value::Object(data),
        }
    }

    /// Targets every other socket of the namespace ("broadcast except sender").
    pub fn broadcast(&self) -> Targets {
        Targets::default().except_socket(self.0.id.clone())
    }

    /// Gives it its event budget (before it is admitted: every event it sends is checked).
    pub(super) fn set_budget(&self, budget: Option<EventBudget>) {
        if let Some(budget) = budget {
            let _ = self.0.budget.set(budget);
        }
    }

    /// Its event budget, when its events are limited.
    pub(super) fn budget(&self) -> Option<&EventBudget> {
        self.0.budget.get()
    }

    /// Counts what is sent to it from now on in its namespace's series.
    pub(super) fn count_in(&self, metrics: &Arc<NamespaceMetrics>) {
        let _ = self.0.metrics.set(metrics.clone());
    }

    /// Queues an already-encoded event.
    pub(super) fn deliver(&self, event: &OutgoingEvent) {
        // A full queue closes the connection as a slow consumer; nothing else to do here.
        let _ = self.0.conn.send(event.item(self.0.framing));
    }

    /// Tells the client it joined the namespace: Socket.IO's CONNECT `{sid}`, and
    /// `pid` when it is recoverable (the native framing has no such reply).
    pub(super) fn send_connected(&self) {
        if self.0.framing == Framing::SocketIo {
            let reply = match self.pid() {
                Some(pid) => serde_json::json!({ "sid": &*self.0.id, "pid": &**pid }),
                None => serde_json::json!({ "sid": &*self.0.id }),
            };
            let _ = self.send_packet(PacketKind::Connect(Some(reply)));
        }
    }

    /// Tells the client its handler refused it: Socket.IO's CONNECT_ERROR; on the
    /// native framing, which serves one namespace per connection, an `error` event,
    /// then the connection closes.
    pub(super) fn send_refusal(&self, refusal: &ConnectRefusal) {
        match self.0.framing {
            Framing::SocketIo => {
                let _ = self.send_packet(PacketKind::ConnectError(refusal.to_json()));
            }
            Framing::Native => {
                let _ = self.emit("error", Payload::json(vec![refusal.to_json()]));
                self.0
                    .conn
                    .close_after_flush(DisconnectReason::ServerNamespaceDisconnect);
            }
        }
    }

    /// Tells the client the server disconnected it from the namespace: Socket.IO's
    /// DISCONNECT; the native framing, one namespace per connection, closes.
    pub(super) fn send_disconnect(&self) {
        if self.0.framing == Framing::SocketIo {
            let _ = self.send_packet(PacketKind::Disconnect);
        } else {
            self.0
                .conn
                .close_after_flush(DisconnectReason::ServerNamespaceDisconnect);
        }
    }

    /// Closes the whole underlying connection (every namespace on it).
    pub fn close_connection(&self, reason: DisconnectReason) {
        self.0.conn.close(reason);
    }

    /// Moves a connecting socket to [`Stage::Admitted`]; false if it has left.
    pub(super) fn mark_admitted(&self) -> bool {
        self.0
            .stage
            .compare_exchange(
                Stage::Connecting as u8,
                Stage::Admitted as u8,
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_ok()
    }

    /// Marks the socket gone for `reason` and fails its pending acks; returns the stage
    /// it was in (already [`Stage::Gone`]: nothing changed).
    pub(super) fn mark_gone(&self, reason: DisconnectReason) -> Stage {
        let was = Stage::from_u8(self.0.stage.swap(Stage::Gone as u8, Ordering::AcqRel));
        if was != Stage::Gone {
            let _ = self.0.left.set(reason);
            self.acks().clear();
            self.0.gone.cancel();
        }
        was
    }

    fn acks(&self) -> std::sync::MutexGuard<'_, HashMap<u64, oneshot::Sender<Payload>>> {
        self.0
            .acks
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
impl Socket {
    /// A Socket.IO socket admitted to `ns`, and the receiving end of its queue.
    pub(crate) fn admitted_to(ns: &Arc<super::Namespace>) -> (Socket, crate::outbound::Receiver) {
        let (outbox, rx) = crate::outbound::Outbox::new(16);
        let socket = Socket::new(
            ns.name(),
            Arc::new(outbox),
            Framing::SocketIo,
            Handshake::default(),
        );
        ns.admit(&socket);
        (socket, rx)
    }
}

#[cfg(test)]
mod tests;
