//! A namespace: its sockets, its rooms adapter and its handler.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};

use rustc_hash::FxHashMap;

use super::adapter::{Adapter, LocalAdapter};
use super::broadcast::{OutgoingEvent, Targets};
use super::handler::EventHandler;
use super::presence::{Presence, Transition};
use super::socket::Socket;
use super::{Room, SocketId};
use crate::auth::{AuthFailure, Verifier};
use crate::config::AuthMode;
use crate::engineio::RequestInfo;
use crate::metrics::METRICS;
use crate::protocol::socketio::Payload;
use crate::reason::DisconnectReason;

/// How a namespace authenticates and reports presence.
#[derive(Debug, Clone, Default)]
pub struct NamespaceOptions {
    /// Whether connecting needs a verified token.
    pub auth: AuthMode,
    /// The verifier, required unless `auth` is `none`.
    pub verifier: Option<Arc<Verifier>>,
    /// Whether `user_online` / `user_offline` are emitted.
    pub presence_events: bool,
}

/// One namespace.
pub struct Namespace {
    name: String,
    /// Who is online, and whether `user_online`/`user_offline` are emitted.
    presence: Presence,
    presence_events: bool,
    /// Whether connecting needs a verified token, and the verifier.
    auth: AuthMode,
    verifier: Option<Arc<Verifier>>,
    handler: Arc<dyn EventHandler>,
    adapter: Box<dyn Adapter>,
    /// A std lock: inserts, removals and lookups only, never across an await.
    sockets: RwLock<FxHashMap<SocketId, Socket>>,
}

impl std::fmt::Debug for Namespace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Namespace")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Namespace {
    /// A namespace served by `handler` on this node only, with no authentication.
    pub fn new(name: &str, handler: Arc<dyn EventHandler>) -> Arc<Namespace> {
        Namespace::with_options(name, handler, NamespaceOptions::default())
    }

    /// A namespace with authentication and presence as `options` say.
    pub fn with_options(
        name: &str,
        handler: Arc<dyn EventHandler>,
        options: NamespaceOptions,
    ) -> Arc<Namespace> {
        let NamespaceOptions {
            auth,
            verifier,
            presence_events,
        } = options;
        Arc::new(Namespace {
            name: name.to_owned(),
            presence: Presence::default(),
            presence_events,
            auth,
            verifier,
            handler,
            adapter: Box::new(LocalAdapter::default()),
            sockets: RwLock::new(FxHashMap::default()),
        })
    }

    /// Its name, like `/chat`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Who is online.
    pub fn presence(&self) -> &Presence {
        &self.presence
    }

    /// Marks an admitted socket's user online, before its CONNECT reply is queued, so
    /// anyone who saw the socket connect finds it in presence. Returns whether
    /// `user_online` is due ([`Namespace::announce_online`], once the reply is queued):
    /// with presence events on, for every connection of a verified user, as the seed's
    /// `handleConnection` emits it.
    pub fn mark_online(&self, socket: &Socket) -> bool {
        let Some((user_id, username)) = identity(socket) else {
            return false;
        };
        self.presence.arrive(&user_id, &username, socket.id());
        self.presence_events
    }

    /// Emits the seed's `user_online {userId, username}` to every socket of the
    /// namespace, the new one included (`this.server.emit`), with the token's `sub` and
    /// `username` claims as the token has them (see [`Namespace::mark_online`]).
    pub fn announce_online(&self, socket: &Socket) {
        if let Some(body) = presence_event(socket) {
            self.emit(&Targets::default(), "user_online", Payload::json(vec![body]));
        }
    }

    /// Authenticates a connection: its claims (`None` when anonymous is allowed), or
    /// why it is refused.
    pub fn authenticate(
        &self,
        auth: &serde_json::Value,
        request: &RequestInfo,
    ) -> Result<Option<serde_json::Value>, AuthFailure> {
        match (&self.verifier, self.auth) {
            (_, AuthMode::None) => Ok(None),
            (Some(verifier), mode) => verifier.authenticate(mode, auth, &request.query, &request.headers),
            // Validated at start-up: a namespace with auth always has a verifier.
            (None, _) => Err(AuthFailure::Invalid),
        }
    }

    /// Registers a socket, puts it in its own room and, when authenticated, in
    /// `user:<sub>`. Called once its handler has accepted it: before that, nothing
    /// sent to the namespace, a room or the user may reach it.
    pub fn admit(&self, socket: &Socket) {
        self.add(socket);
        let Some(claims) = socket.handshake().user.as_ref() else {
            return;
        };
        if let Some(sub) = crate::auth::subject(claims) {
            self.adapter.join(socket.id(), &[format!("user:{sub}").into()]);
        }
        if let Some(expiry) = self.verifier.as_ref().and_then(|v| v.expiry(claims)) {
            let socket = socket.clone();
            tokio::spawn(async move {
                let wait = expiry
                    .duration_since(std::time::SystemTime::now())
                    .unwrap_or_default();
                tokio::time::sleep(wait).await;
                if socket.connected() {
                    let body = serde_json::json!({ "message": AuthFailure::Expired.to_string(), "code": "TOKEN_EXPIRED" });
                    let _ = socket.emit("error", crate::protocol::socketio::Payload::json(vec![body]));
                    socket.disconnect();
                }
            });
        }
    }

    /// Its event handler.
    pub fn handler(&self) -> &Arc<dyn EventHandler> {
        &self.handler
    }

    /// Its rooms index.
    pub fn adapter(&self) -> &dyn Adapter {
        &*self.adapter
    }

    /// Number of sockets in it.
    pub fn len(&self) -> usize {
        self.read().len()
    }

    /// Whether no socket is in it.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A socket by id.
    pub fn socket(&self, sid: &str) -> Option<Socket> {
        self.read().get(sid).cloned()
    }

    /// Registers a socket and puts it in its own room.
    pub fn add(&self, socket: &Socket) {
        self.write().insert(socket.id().clone(), socket.clone());
        let own: Room = socket.id().clone();
        self.adapter.join(socket.id(), &[own]);
        METRICS.sockets_open.fetch_add(1, Ordering::Relaxed);
    }

    /// Removes a socket and tells the handler, once; later calls do nothing.
    pub fn remove(&self, socket: &Socket, reason: DisconnectReason) {
        if !socket.mark_disconnected() {
            return;
        }
        self.adapter.leave_all(socket.id());
        self.write().remove(socket.id());
        METRICS.sockets_open.fetch_sub(1, Ordering::Relaxed);
        if let Some((user_id, _)) = identity(socket)
            && self.presence.leave(&user_id, socket.id()) == Transition::Offline
            && self.presence_events
            && let Some(body) = presence_event(socket)
        {
            self.emit(&Targets::default(), "user_offline", Payload::json(vec![body]));
        }
        let handler = self.handler.clone();
        let socket = socket.clone();
        tokio::spawn(async move { handler.on_disconnect(&socket, reason).await });
    }

    /// Marks a socket whose connection was refused (it was never admitted) as gone, so
    /// nothing its handler deferred reaches it; the handler is not told.
    pub fn refuse(&self, socket: &Socket) {
        socket.mark_disconnected();
    }

    /// Emits `name` to the sockets matching `targets`, encoding it once.
    pub fn emit(&self, targets: &Targets, name: &str, payload: Payload) {
        let event = OutgoingEvent::new(&self.name, name, payload);
        for socket in &self.matching(targets) {
            socket.deliver(&event);
        }
    }

    /// The sockets matching `targets`. Collected under the locks and used after them:
    /// no lock is held while queueing to (or disconnecting) them.
    pub fn matching(&self, targets: &Targets) -> Vec<Socket> {
        let mut matching: Vec<Socket> = Vec::new();
        let sockets = self.read();
        self.adapter
            .for_each_target(targets, &mut sockets.keys(), &mut |sid| {
                if let Some(socket) = sockets.get(sid) {
                    matching.push(socket.clone());
                }
            });
        matching
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, FxHashMap<SocketId, Socket>> {
        self.sockets
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, FxHashMap<SocketId, Socket>> {
        self.sockets
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A socket's user id and name, from its verified claims.
fn identity(socket: &Socket) -> Option<(String, String)> {
    let claims = socket.handshake().user.as_ref()?;
    let user_id = crate::auth::subject(claims)?;
    let username = ["username", "name"]
        .iter()
        .find_map(|k| claims.get(*k).and_then(serde_json::Value::as_str))
        .map_or_else(|| user_id.clone(), str::to_owned);
    Some((user_id, username))
}

/// `{userId, username}` of `user_online` / `user_offline`: the claims `sub` and
/// `username` as the token has them (a numeric `sub` stays a number; no `username`
/// claim, no `username` key), as the seed's `{userId: payload.sub, username:
/// payload.username}` serialises.
fn presence_event(socket: &Socket) -> Option<serde_json::Value> {
    let claims = socket.handshake().user.as_ref()?;
    let mut body = serde_json::Map::new();
    body.insert("userId".to_owned(), claims.get("sub")?.clone());
    if let Some(username) = claims.get("username") {
        body.insert("username".to_owned(), username.clone());
    }
    Some(serde_json::Value::Object(body))
}

/// All configured namespaces, by name. Fixed at start-up.
#[derive(Debug, Clone, Default)]
pub struct Namespaces(Arc<HashMap<String, Arc<Namespace>>>);

impl Namespaces {
    /// The registry of `namespaces`.
    pub fn new(namespaces: impl IntoIterator<Item = Arc<Namespace>>) -> Namespaces {
        Namespaces(Arc::new(
            namespaces
                .into_iter()
                .map(|ns| (ns.name().to_owned(), ns))
                .collect(),
        ))
    }

    /// A namespace by name.
    pub fn get(&self, name: &str) -> Option<&Arc<Namespace>> {
        self.0.get(name)
    }

    /// Every namespace.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<Namespace>> {
        self.0.values()
    }

    /// A handle that does not keep the namespaces alive, for what the namespaces
    /// themselves own (their handlers' plugin registry): no reference cycle.
    pub fn downgrade(&self) -> WeakNamespaces {
        WeakNamespaces(Arc::downgrade(&self.0))
    }
}

/// [`Namespaces`] without ownership: see [`Namespaces::downgrade`].
#[derive(Debug, Clone, Default)]
pub struct WeakNamespaces(std::sync::Weak<HashMap<String, Arc<Namespace>>>);

impl WeakNamespaces {
    /// The namespaces, while the gateway serving them exists.
    pub fn upgrade(&self) -> Option<Namespaces> {
        self.0.upgrade().map(Namespaces)
    }
}
