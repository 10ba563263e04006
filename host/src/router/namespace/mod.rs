//! A namespace: its sockets, its rooms adapter and its handler.
//!
//! What its limits refuse is in `limits.rs`; how a socket's session outlives its
//! connection, in `recovery.rs`.

mod limits;
mod recovery;

use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::adapter::{Adapter, AdapterError, LocalAdapter};
use super::broadcast::{OutgoingEvent, Targets};
use super::handler::{BoxFuture, ConnectRefusal, EventHandler, IncomingEvent, ServerEvent};
use super::observer::Observer;
use super::presence::{LocalPresence, Presence, PresenceUser, Transition};
use super::socket::{Framing, Socket, Stage};
use super::{Room, SocketId};
use crate::auth::{AuthFailure, Verifier};
use crate::config::AuthMode;
use crate::engineio::RequestInfo;
use crate::limits::{SocketLimits, UserSockets, Verdict};
use crate::metrics::NamespaceMetrics;
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
    /// What each of its sockets may use.
    pub limits: SocketLimits,
    /// Whether a refused event's ack gets `{error: {message, code}}` too.
    pub ack_errors: bool,
}

/// What [`Namespace::connect`] did with a socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connected {
    /// Its handler accepted it: it is admitted and the client was told.
    Accepted,
    /// Its handler refused it; the client was told why.
    Refused,
    /// It left (its connection closed) while its handler was deciding; the handler,
    /// having accepted it, was told it left.
    Lost,
}

/// One namespace.
pub struct Namespace {
    name: String,
    /// Who is online.
    presence: Box<dyn Presence>,
    /// Auth, presence events and limits: read as sockets connect, join and are
    /// refused (never per event), replaced by a config reload.
    settings: ArcSwap<NamespaceOptions>,
    handler: Arc<dyn EventHandler>,
    /// Its sockets and rooms, and delivery to them.
    adapter: Box<dyn Adapter>,
    /// Held while a socket is admitted or removed: its stage, its registration and its
    /// presence change together. A std lock, never held across an await.
    admission: Mutex<()>,
    /// Every task working for its sockets (token expiry, `on_disconnect`, handlers'
    /// own), so shutdown can wait for them ([`Namespace::wait_tasks`]).
    tasks: TaskTracker,
    /// Cancelled as shutdown waits for its tasks: what waits for a client to come
    /// back stops waiting.
    closing: CancellationToken,
    /// Its series in `/metrics`, shared with its admitted sockets.
    metrics: Arc<NamespaceMetrics>,
    /// Sockets per verified user, connecting or admitted (`limits.per_user`).
    users: UserSockets,
    /// Told of sockets and rooms changing, once set ([`Namespace::observe`]).
    observer: std::sync::OnceLock<Arc<dyn Observer>>,
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

    /// A namespace with authentication and presence as `options` say, on this node only.
    pub fn with_options(
        name: &str,
        handler: Arc<dyn EventHandler>,
        options: NamespaceOptions,
    ) -> Arc<Namespace> {
        Namespace::with_adapter(
            name,
            handler,
            options,
            Box::new(LocalAdapter::default()),
            Box::new(LocalPresence::default()),
        )
    }

    /// A namespace whose sockets, rooms and delivery `adapter` owns, and whose users
    /// `presence` tracks (a cluster's, say).
    pub fn with_adapter(
        name: &str,
        handler: Arc<dyn EventHandler>,
        options: NamespaceOptions,
        adapter: Box<dyn Adapter>,
        presence: Box<dyn Presence>,
    ) -> Arc<Namespace> {
        Arc::new_cyclic(|weak| {
            adapter.attach(weak.clone());
            Namespace {
                name: name.to_owned(),
                presence,
                users: UserSockets::new(options.limits.per_user),
                settings: ArcSwap::from_pointee(options),
                handler,
                adapter,
                admission: Mutex::new(()),
                tasks: TaskTracker::new(),
                closing: CancellationToken::new(),
                metrics: Arc::new(NamespaceMetrics::new(name)),
                observer: std::sync::OnceLock::new(),
            }
        })
    }

    /// Its name, like `/chat`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Takes the settings of a reloaded config. Sockets connecting from now on are
    /// authenticated and given event budgets by them; joins and refusals follow them
    /// at once; sockets already in keep their event budgets and token-expiry timers.
    pub fn reconfigure(&self, options: NamespaceOptions) {
        self.users.set_max(options.limits.per_user);
        self.settings.store(Arc::new(options));
    }

    /// Tells `observer` of its sockets and rooms from now on (once: later calls are
    /// ignored).
    pub fn observe(&self, observer: Arc<dyn Observer>) {
        let _ = self.observer.set(observer);
    }

    pub(super) fn observer(&self) -> Option<&Arc<dyn Observer>> {
        self.observer.get()
    }

    /// Its current settings.
    pub(crate) fn settings(&self) -> arc_swap::Guard<Arc<NamespaceOptions>> {
        self.settings.load()
    }

    /// Its series in `/metrics`.
    pub fn metrics(&self) -> &NamespaceMetrics {
        &self.metrics
    }

    /// Who is online.
    pub fn presence(&self) -> &dyn Presence {
        &*self.presence
    }

    /// Runs a new socket through its handler's `on_connect`; when accepted, admits it
    /// (only from then on does anything sent to the namespace, a room or its user
    /// reach it), sends the connect reply, emits `user_online` and runs the handler's
    /// after-connect work, in that order. Every transport joins a namespace through here.
    pub async fn connect(self: &Arc<Self>, socket: &Socket) -> Connected {
        if let Err(refusal) = self.take_user_slot(socket) {
            return self.refuse(socket, refusal.into());
        }
        match self.handler.on_connect(self, socket).await {
            Err(refusal) => {
                self.give_user_slot(socket);
                self.refuse(socket, refusal)
            }
            Ok(after) => {
                if !self.admit(socket) {
                    self.give_user_slot(socket);
                    // Its handler accepted it, so it hears that it left: every accepted
                    // socket gets its one `on_disconnect`.
                    let reason = socket.left_reason().unwrap_or(DisconnectReason::TransportClose);
                    self.handler.on_disconnect(self, socket, reason).await;
                    return Connected::Lost;
                }
                socket.send_connected();
                if self.settings().presence_events {
                    self.announce_online(socket);
                }
                if let Some(after) = after {
                    after();
                }
                Connected::Accepted
            }
        }
    }

    fn refuse(&self, socket: &Socket, refusal: ConnectRefusal) -> Connected {
        tracing::debug!(sid = &**socket.id(), nsp = self.name, ?refusal, "socket refused");
        socket.mark_gone(DisconnectReason::ServerNamespaceDisconnect);
        socket.send_refusal(&refusal);
        Connected::Refused
    }

    /// Hands an admitted socket's event to the handler; resolves to the ack, if any.
    /// Every transport dispatches events through here. It returns the handler's own
    /// future, not one wrapped around it: this is every event's path. An event over
    /// the socket's budget is not handled: its sender gets `error {code:
    /// "RATE_LIMITED"}` (and the ack too with `ack_errors`), and a socket refused too
    /// often is disconnected.
    pub fn dispatch<'a>(
        self: &'a Arc<Self>,
        socket: &'a Socket,
        event: IncomingEvent,
    ) -> BoxFuture<'a, Option<Payload>> {
        self.metrics.event_in();
        if let Some(observer) = self.observer() {
            observer.event_received(&self.name, socket.id(), &event.name, &event.payload);
        }
        match socket.budget().map_or(Verdict::Allowed, |budget| budget.check()) {
            Verdict::Allowed => self.handler.on_event(self, socket, event),
            verdict => Box::pin(std::future::ready(self.refuse_event(socket, &event, verdict))),
        }
    }

    /// Hands the handler an event another node sent to the servers; resolves to this
    /// node's answer, if any.
    pub fn server_event(self: &Arc<Self>, event: ServerEvent) -> BoxFuture<'_, Option<serde_json::Value>> {
        self.handler.on_server_event(self, event)
    }

    /// Emits the seed's `user_online {userId, username}` to every socket of the
    /// namespace, the new one included (`this.server.emit`), for every connection of a
    /// verified user, as the seed's `handleConnection` does.
    fn announce_online(&self, socket: &Socket) {
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
        let settings = self.settings();
        let verdict = match (&settings.verifier, settings.auth) {
            (_, AuthMode::None) => Ok(None),
            (Some(verifier), mode) => verifier.authenticate(mode, auth, &request.query, &request.headers),
            // Validated at start-up: a namespace with auth always has a verifier.
            (None, _) => Err(AuthFailure::Invalid),
        };
        if let Err(failure) = &verdict {
            crate::metrics::auth_failed(&self.name, failure.name());
        }
        verdict
    }

    /// Registers a connecting socket (unless it has left meanwhile: then false), puts
    /// its user online, and puts it in its own room and, when authenticated, in
    /// `user:<sub>`. [`Namespace::connect`] calls it once the handler has accepted the
    /// socket: before that, nothing sent to the namespace, a room or the user reaches it.
    pub fn admit(self: &Arc<Self>, socket: &Socket) -> bool {
        let settings = self.settings();
        {
            // Under the lock `remove` takes after marking a socket gone: either this
            // sees it gone, or `remove` finds it registered and undoes all of it.
            let _admission = self.admission();
            socket.set_budget(settings.limits.events.budget());
            if let Some(observer) = self.observer() {
                socket.observe(observer.clone());
            }
            // A resuming socket has its session's pid already (and is admitted under
            // the journal's lock: asking it for anything now would deadlock).
            if socket.framing() == Framing::SocketIo
                && socket.pid().is_none()
                && let Some(journal) = self.adapter.journal()
            {
                // Read before it is registered: a packet sent in between is replayed
                // if it drops before it receives one, never lost.
                let since = journal.next_seq();
                socket.recover_with(crate::id::random_id().into(), journal.clone(), false, since);
            }
            if !socket.mark_admitted() {
                return false;
            }
            self.adapter.add(socket);
            // A resuming socket is admitted under the journal's lock, which notes it.
            if let (Some(journal), Some(pid), false) =
                (self.adapter.journal(), socket.pid(), socket.recovered())
            {
                journal.admitted(pid, socket.id());
            }
            // Online before the connect reply is queued, so anyone who saw the socket
            // connect finds it in presence.
            if let Some((user_id, username)) = identity(socket) {
                let announcement = if settings.presence_events {
                    presence_event(socket)
                } else {
                    None
                };
                let user = PresenceUser {
                    user_id,
                    username,
                    announcement,
                };
                self.presence.arrive(&user, socket.id());
            }
        }
        socket.count_in(&self.metrics);
        self.metrics.socket_joined();
        if let Some(observer) = self.observer() {
            observer.rooms_joined(self, socket, std::slice::from_ref(socket.id()));
            observer.socket_connected(self, socket);
        }
        tracing::debug!(sid = &**socket.id(), nsp = self.name, "socket joined");
        let claims = socket.handshake().user.as_ref();
        if let Some(sub) = claims.and_then(crate::auth::subject) {
            self.join(socket, &[format!("user:{sub}").into()]);
        }
        if let Some(expiry) = claims.and_then(|c| settings.verifier.as_ref()?.expiry(c)) {
            let socket = socket.clone();
            let ns = Arc::downgrade(self);
            // Ends with the socket: it keeps nothing alive until `exp`.
            self.spawn(async move {
                let wait = expiry
                    .duration_since(std::time::SystemTime::now())
                    .unwrap_or_default();
                tokio::select! {
                    () = socket.left() => {}
                    () = tokio::time::sleep(wait) => {
                        let body = serde_json::json!({ "message": AuthFailure::Expired.to_string(), "code": "TOKEN_EXPIRED" });
                        let _ = socket.emit("error", Payload::json(vec![body]));
                        if let Some(ns) = ns.upgrade() {
                            ns.disconnect(&socket);
                        }
                    }
                }
            });
        }
        true
    }

    /// Its event handler.
    pub fn handler(&self) -> &Arc<dyn EventHandler> {
        &self.handler
    }

    /// Its sockets, rooms and delivery.
    pub fn adapter(&self) -> &dyn Adapter {
        &*self.adapter
    }

    /// Number of sockets in it.
    pub fn len(&self) -> usize {
        self.adapter.len()
    }

    /// Whether no socket is in it.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A socket by id.
    pub fn socket(&self, sid: &str) -> Option<Socket> {
        self.adapter.socket(sid)
    }

    /// Removes an admitted socket and tells the handler, once; later calls do nothing.
    /// A socket still connecting is only marked gone: [`Namespace::connect`] sees it
    /// and tells the handler, if it accepted the socket. A recoverable socket that
    /// left for a reason a reconnect can mend leaves its session instead, and its
    /// handler hears of it only if it is not resumed in time.
    pub fn remove(self: &Arc<Self>, socket: &Socket, reason: DisconnectReason) {
        if socket.mark_gone(reason) != Stage::Admitted {
            return;
        }
        let rooms = match (self.observer(), socket.pid()) {
            (None, None) => Vec::new(),
            _ => self.adapter.rooms_of(socket.id()),
        };
        let offline = {
            let _admission = self.admission();
            self.adapter.remove(socket.id());
            identity(socket)
                .is_some_and(|(user_id, _)| self.presence.leave(&user_id, socket.id()) == Transition::Offline)
        };
        self.give_user_slot(socket);
        self.metrics.socket_left(reason);
        if let Some(observer) = self.observer() {
            observer.socket_disconnected(self, socket, reason, &rooms);
        }
        tracing::debug!(sid = &**socket.id(), nsp = self.name, %reason, "socket left");
        if offline
            && self.settings().presence_events
            && let Some(body) = presence_event(socket)
        {
            self.emit(&Targets::default(), "user_offline", Payload::json(vec![body]));
        }
        if !self.keep_if_recoverable(socket, reason, rooms) {
            let ns = self.clone();
            let socket = socket.clone();
            self.spawn(async move { ns.handler.on_disconnect(&ns, &socket, reason).await });
        }
    }

    /// Disconnects a socket from the namespace: tells its client, then removes it.
    pub fn disconnect(self: &Arc<Self>, socket: &Socket) {
        socket.send_disconnect();
        self.remove(socket, DisconnectReason::ServerNamespaceDisconnect);
    }

    /// Puts a socket in rooms, as the server (another node, `socketsJoin`, its user
    /// room): no limit. A socket that has left joins nothing, even when it leaves
    /// while joining: a slow handler cannot put a disconnected socket back in a room.
    pub fn join(&self, socket: &Socket, rooms: &[Room]) {
        self.join_within(socket, rooms, usize::MAX);
    }

    /// Tells its observer that a socket's connection changed transport (an upgrade).
    pub fn transport_changed(&self, socket: &Socket) {
        if let Some(observer) = self.observer() {
            observer.socket_updated(self, socket);
        }
    }

    /// Takes a socket out of a room.
    pub fn leave(&self, socket: &Socket, room: &str) {
        let Some(observer) = self.observer() else {
            return self.adapter.leave(socket.id(), room);
        };
        let was_in = self.adapter.rooms_of(socket.id()).iter().any(|r| &**r == room);
        self.adapter.leave(socket.id(), room);
        if was_in {
            observer.room_left(self, socket, room);
        }
    }

    /// The rooms a socket of this node is in, its own id room included.
    pub fn rooms_of(&self, socket: &Socket) -> Vec<Room> {
        self.adapter.rooms_of(socket.id())
    }

    /// Runs `task` for one of its sockets, tracked: shutdown waits for it. A task that
    /// waits for something of the socket's should end when it leaves ([`Socket::left`]).
    pub fn spawn(&self, task: impl std::future::Future<Output = ()> + Send + 'static) {
        self.tasks.spawn(task);
    }

    /// Waits for its tasks to finish: at shutdown, once every connection is closed,
    /// so that each `on_disconnect` has run.
    pub async fn wait_tasks(&self) {
        self.closing.cancel();
        self.tasks.close();
        self.tasks.wait().await;
    }

    /// Emits `name` to the sockets `targets` addresses, encoding it once.
    pub fn emit(&self, targets: &Targets, name: &str, payload: Payload) {
        let event = OutgoingEvent::new(&self.name, name, payload);
        if let Some(observer) = self.observer() {
            let sockets = self.adapter.local_sockets(targets);
            let ids: Vec<&SocketId> = sockets.iter().map(Socket::id).collect();
            observer.event_sent(&self.name, &ids, name, event.payload());
        }
        let recipients = self.adapter.broadcast(targets, &event);
        self.metrics.broadcast(recipients);
    }

    /// Emits `name` to this node's sockets that `targets` addresses, and to no other
    /// node's (what a handler does for a server event, which every node receives).
    pub fn emit_here(&self, targets: &Targets, name: &str, payload: Payload) {
        let event = OutgoingEvent::new(&self.name, name, payload);
        let deliver = || {
            let sockets = self.adapter.local_sockets(targets);
            for socket in &sockets {
                socket.deliver(&event);
            }
            sockets
        };
        let sockets = match self.adapter.journal() {
            Some(journal) => journal.record(targets, &event, deliver),
            None => deliver(),
        };
        if let Some(observer) = self.observer() {
            let ids: Vec<&SocketId> = sockets.iter().map(Socket::id).collect();
            observer.event_sent(&self.name, &ids, name, event.payload());
        }
        self.metrics.broadcast(sockets.len());
    }

    /// Disconnects every socket `targets` addresses from the namespace, on every node
    /// (each is told, and its handler hears it left); returns how many were on this one.
    pub fn disconnect_sockets(&self, targets: &Targets) -> usize {
        self.adapter.disconnect_sockets(targets, false)
    }

    /// Who is online on every node, first hand: each node lists its sockets now
    /// (`fetchSockets`), so what a client has seen happen is already there.
    pub async fn online_everywhere(&self) -> Result<Vec<super::presence::OnlineUser>, AdapterError> {
        let sockets = self.adapter.fetch_sockets(&Targets::default()).await?;
        Ok(super::presence::online_among(&sockets))
    }

    /// Disconnects every socket `targets` addresses on every node; returns how many,
    /// counted across the cluster just before (this node's alone when the others
    /// cannot be asked).
    pub async fn disconnect_everywhere(&self, targets: &Targets) -> usize {
        let counted = self.adapter.fetch_sockets(targets).await.map(|s| s.len());
        let here = self.adapter.disconnect_sockets(targets, false);
        counted.unwrap_or(here)
    }

    /// The sockets `targets` addresses.
    pub fn matching(&self, targets: &Targets) -> Vec<Socket> {
        self.adapter.local_sockets(targets)
    }

    fn admission(&self) -> std::sync::MutexGuard<'_, ()> {
        self.admission
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A socket's user id and name, from its verified claims.
fn identity(socket: &Socket) -> Option<(String, String)> {
    super::presence::identity(socket.handshake().user.as_ref()?)
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
