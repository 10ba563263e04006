//! Socket.IO v5 over Engine.IO: decodes packets, connects sockets to namespaces,
//! dispatches events and acknowledgements in both directions.
//!
//! One [`Client`] per Engine.IO session holds its sockets (one per namespace) and the
//! binary-attachment decoder. A connection that joins no namespace within the connect
//! timeout is closed; a packet that breaks the protocol closes the connection, as the
//! reference server does.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::engineio::{EngineHandler, RequestInfo, Session};
use crate::limits::Refusal;
use crate::outbound::Connection;
use crate::protocol::engineio::Message;
use crate::protocol::socketio::{Decoder, Packet, PacketKind};
use crate::reason::DisconnectReason;
use crate::router::handler::{ConnectRefusal, IncomingEvent};
use crate::router::recovery::Claim;
use crate::router::{Connected, Framing, Handshake, Namespace, Namespaces, Socket};

/// Socket.IO settings.
#[derive(Debug, Clone)]
pub struct SocketIoConfig {
    /// Time a connection has to join its first namespace.
    pub connect_timeout: Duration,
    /// Most attachments one binary packet may announce.
    pub max_attachments: usize,
    /// Most namespaces one connection may ask for (held, plus refused requests).
    pub max_namespaces: usize,
}

impl SocketIoConfig {
    /// The `[socketio]` part of the gateway configuration.
    pub fn from_config(config: &crate::config::Config) -> SocketIoConfig {
        SocketIoConfig {
            connect_timeout: config.socketio.connect_timeout(),
            max_attachments: config.socketio.max_attachments,
            max_namespaces: config.limits.namespaces_per_client,
        }
    }
}

/// The Socket.IO layer: an [`EngineHandler`] over the namespaces.
pub struct SocketIo {
    /// Read when a session opens or asks for a namespace; replaced by a config reload.
    config: ArcSwap<SocketIoConfig>,
    namespaces: Namespaces,
    /// Connect timers, each ending with its session.
    tasks: TaskTracker,
}

/// A namespace a session joined, and its socket there.
#[derive(Clone)]
struct Joined {
    ns: Arc<Namespace>,
    socket: Socket,
}

/// One Engine.IO session's Socket.IO state.
pub struct Client {
    session: Session,
    request: RequestInfo,
    /// A std mutex: decoding is synchronous and never spans an await.
    decoder: Mutex<Decoder>,
    /// Sockets by namespace name, each with its namespace. A std mutex, for the same
    /// reason.
    sockets: Mutex<HashMap<String, Joined>>,
    /// Cancelled when the first namespace is joined, which stops the connect timer.
    joined: CancellationToken,
    /// Namespace requests refused so far (unknown, or refused at connect): with the
    /// sockets held, what `namespaces_per_client` bounds.
    refused: AtomicUsize,
}

impl SocketIo {
    /// The layer serving `namespaces`.
    pub fn new(config: SocketIoConfig, namespaces: Namespaces) -> SocketIo {
        SocketIo {
            config: ArcSwap::from_pointee(config),
            namespaces,
            tasks: TaskTracker::new(),
        }
    }

    async fn on_packet(&self, client: &Client, packet: Packet) {
        // A socket the server disconnected is gone even if the client has not noticed yet.
        let entry = client.sockets().get(&packet.nsp).cloned();
        let left = entry.as_ref().is_some_and(|j| !j.socket.connected());
        let joined = entry.filter(|j| j.socket.connected());
        match (packet.kind, joined) {
            (PacketKind::Connect(auth), None) => self.connect(client, packet.nsp, auth).await,
            (PacketKind::Disconnect, Some(Joined { ns, socket })) => {
                client.sockets().remove(&packet.nsp);
                ns.remove(&socket, DisconnectReason::ClientNamespaceDisconnect);
            }
            (PacketKind::Event(event), Some(Joined { ns, socket })) if socket.admitted() => {
                let ack_id = event.id;
                let incoming = IncomingEvent {
                    name: event.name,
                    payload: event.payload,
                    wants_ack: ack_id.is_some(),
                };
                let reply = ns.dispatch(&socket, incoming).await;
                if let (Some(id), Some(payload)) = (ack_id, reply) {
                    ns.metrics().ack();
                    let _ = socket.send_packet(PacketKind::Ack { id, payload });
                }
            }
            (PacketKind::Ack { id, payload }, Some(Joined { socket, .. })) if socket.admitted() => {
                socket.resolve_ack(id, payload);
            }
            (kind, None) if left => {
                // Sent before the client heard that the server disconnected it (a
                // flood cut off by its rate limit, say): not the client's fault.
                tracing::debug!(
                    sid = client.session.id(),
                    nsp = packet.nsp,
                    packet = ?std::mem::discriminant(&kind),
                    "packet for a namespace the server left; dropped"
                );
            }
            (kind, joined) => {
                // CONNECT twice (or while connecting), CONNECT_ERROR from a client, or
                // a namespace not joined (yet).
                tracing::debug!(
                    sid = client.session.id(),
                    nsp = packet.nsp,
                    joined = joined.is_some(),
                    packet = ?std::mem::discriminant(&kind),
                    "packet out of order; closing"
                );
                client.session.close(DisconnectReason::ParseError);
            }
        }
    }

    /// Replaces its settings: sessions opened and namespaces asked for from now on
    /// use them.
    pub fn reconfigure(&self, config: SocketIoConfig) {
        self.config.store(Arc::new(config));
    }

    /// Waits for its tasks (connect timers, each ending with its session) to end:
    /// at shutdown, once every session is closed.
    pub async fn wait_tasks(&self) {
        self.tasks.close();
        self.tasks.wait().await;
    }

    async fn connect(&self, client: &Client, nsp: String, auth: Option<Value>) {
        let asked = client.sockets().len() + client.refused.load(Ordering::Relaxed);
        let max = self.config.load().max_namespaces;
        if asked > max {
            // Told already, and closing: what it still sends is not answered.
            return;
        }
        if asked == max {
            // No real client asks for this many: it is probing, so it goes.
            client.refused.fetch_add(1, Ordering::Relaxed);
            let refusal = Refusal::NamespaceLimit;
            refusal.count();
            tracing::info!(
                sid = client.session.id(),
                nsp,
                "connection closed: too many namespaces asked for"
            );
            client.refuse(nsp, ConnectRefusal::from(refusal).to_json());
            client.session.close_after_flush(DisconnectReason::ForcedClose);
            return;
        }
        let Some(ns) = self.namespaces.get(&nsp) else {
            client.refused.fetch_add(1, Ordering::Relaxed);
            client.refuse(nsp, json!({ "message": "Invalid namespace" }));
            return;
        };
        let auth = auth.unwrap_or_else(|| json!({}));
        // Unless a resuming socket skips middlewares, the client proves who it is
        // before it may claim a session: a pid alone never takes one over.
        let verified = if ns.resume_skips_middlewares() {
            None
        } else {
            match ns.authenticate(&auth, &client.request) {
                Ok(user) => Some(user),
                Err(failure) => return client.refuse_auth(nsp, &failure),
            }
        };
        // A session resumes only as the user who left it.
        let claim = claim(ns, &auth, |owner| {
            verified
                .as_ref()
                .is_none_or(|user| subject(&owner.cloned()) == subject(user))
        })
        .await;
        let user = match (verified, &claim) {
            (Some(user), _) => user,
            // Its session's user, not asked for again (`skipMiddlewares`).
            (None, Some(claim)) => claim.user().cloned(),
            (None, None) => match ns.authenticate(&auth, &client.request) {
                Ok(user) => user,
                Err(failure) => return client.refuse_auth(nsp, &failure),
            },
        };
        let handshake = Handshake {
            auth,
            request: client.request.clone(),
            user,
        };
        let conn: Arc<dyn Connection> = Arc::new(client.session.clone());
        let socket = match &claim {
            Some(claim) => {
                Socket::with_id(claim.sid().clone(), ns.name(), conn, Framing::SocketIo, handshake)
            }
            None => Socket::new(ns.name(), conn, Framing::SocketIo, handshake),
        };
        {
            // Under the lock `on_close` drains: either it finds this socket (and marks
            // it gone, which `connect` sees), or the session closed and it never starts.
            let mut sockets = client.sockets();
            if client.session.closed().is_cancelled() {
                drop(sockets);
                if let Some(claim) = claim {
                    ns.release(claim);
                }
                return;
            }
            let joined = Joined {
                ns: ns.clone(),
                socket: socket.clone(),
            };
            sockets.insert(nsp.clone(), joined);
        }
        let connected = match claim {
            Some(claim) => ns.resume(&socket, claim).await,
            None => ns.connect(&socket).await,
        };
        match connected {
            Connected::Accepted => client.joined.cancel(),
            Connected::Refused => {
                client.refused.fetch_add(1, Ordering::Relaxed);
                let mut sockets = client.sockets();
                if sockets.get(&nsp).is_some_and(|j| j.socket.id() == socket.id()) {
                    sockets.remove(&nsp);
                }
            }
            // `on_close` drained it, or the client left the namespace meanwhile.
            Connected::Lost => {}
        }
    }
}

/// The session a reconnecting client asks to resume: its CONNECT `auth` carries the
/// `pid` it was given and the `offset` of the last packet it saw, both strings (as
/// socket.io-client sends them; no `offset` when it received nothing), and the
/// namespace still has it.
async fn claim(ns: &Arc<Namespace>, auth: &Value, owns: impl Fn(Option<&Value>) -> bool) -> Option<Claim> {
    let pid = auth.get("pid")?.as_str()?;
    let offset = match auth.get("offset") {
        None | Some(Value::Null) => None,
        Some(offset) => Some(offset.as_str()?),
    };
    ns.claim(pid, offset, owns).await
}

/// A verified user's `sub`.
fn subject(user: &Option<Value>) -> Option<String> {
    user.as_ref().and_then(crate::auth::subject)
}

impl Client {
    /// Refuses a CONNECT to `nsp` whose credentials failed: no socket is created and
    /// nothing reaches the handler.
    fn refuse_auth(&self, nsp: String, failure: &impl std::fmt::Display) {
        self.refused.fetch_add(1, Ordering::Relaxed);
        self.refuse(nsp, json!({ "message": failure.to_string() }));
    }

    /// Answers a CONNECT to `nsp` with CONNECT_ERROR `error`.
    fn refuse(&self, nsp: String, error: Value) {
        let error = PacketKind::ConnectError(error);
        let _ = self.session.send(crate::router::broadcast::frames_item(
            Packet::new(nsp, error).encode(),
        ));
    }

    fn sockets(&self) -> std::sync::MutexGuard<'_, HashMap<String, Joined>> {
        self.sockets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl EngineHandler for SocketIo {
    type Conn = Client;

    fn on_open(&self, session: &Session, request: &RequestInfo) -> Client {
        let joined = CancellationToken::new();
        let config = self.config.load();
        let timer = (session.clone(), joined.clone(), config.connect_timeout);
        self.tasks.spawn(async move {
            let (session, joined, timeout) = timer;
            tokio::select! {
                () = joined.cancelled() => {}
                () = session.closed().cancelled() => {}
                () = tokio::time::sleep(timeout) => session.close(DisconnectReason::ConnectTimeout),
            }
        });
        Client {
            session: session.clone(),
            request: request.clone(),
            decoder: Mutex::new(Decoder::new(config.max_attachments)),
            sockets: Mutex::new(HashMap::new()),
            joined,
            refused: AtomicUsize::new(0),
        }
    }

    async fn on_message(&self, client: &Client, message: Message) {
        let decoded = {
            let mut decoder = client
                .decoder
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            match message {
                Message::Text(text) => decoder.decode_text(&text),
                Message::Binary(bytes) => decoder.decode_binary(bytes),
            }
        };
        match decoded {
            Ok(Some(packet)) => self.on_packet(client, packet).await,
            Ok(None) => {}
            Err(err) => {
                tracing::debug!(sid = client.session.id(), %err, "undecodable Socket.IO packet; closing");
                client.session.close(DisconnectReason::ParseError);
            }
        }
    }

    fn on_close(&self, client: &Client, reason: DisconnectReason) {
        let joined: Vec<Joined> = client.sockets().drain().map(|(_, j)| j).collect();
        for Joined { ns, socket } in joined {
            ns.remove(&socket, reason);
        }
    }

    fn on_upgrade(&self, client: &Client) {
        let joined: Vec<Joined> = client.sockets().values().cloned().collect();
        for Joined { ns, socket } in joined {
            ns.transport_changed(&socket);
        }
    }
}
