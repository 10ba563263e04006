//! The server side of the Socket.IO Admin UI (`@socket.io/admin-ui` 0.5), unchanged
//! on the wire: the UI connects to its namespace (`/admin`) with basic auth, gets
//! `session` and `config`, every node's `server_stats` every 2 s, and in development
//! mode every socket (`all_sockets`) and each change as it happens; its commands
//! (`emit`, `join`, `leave`, `_disconnect`) act on the sockets they name.
//!
//! - [`sessions`]: the login and the session ids it hands out.
//! - [`wire`]: the payloads, as the Node server shapes them.
//!
//! Each node sends its own events as broadcasts to the admin namespace, so with the
//! Redis adapter a UI connected to any node hears every node, as with Node's.

pub mod sessions;
pub mod wire;

use std::sync::{Arc, OnceLock, Weak};
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::config::{AdminMode, AdminUiConfig};
use crate::protocol::socketio::Payload;
use crate::reason::DisconnectReason;
use crate::router::handler::{BoxFuture, ConnectRefusal, ConnectResult, IncomingEvent};
use crate::router::{
    EventHandler, Namespace, Namespaces, Observer, Room, Socket, SocketId, Targets, WeakNamespaces,
};
use sessions::{Login, Logins};

/// How often each node sends its statistics, as the Node server does.
const STATS_EVERY: Duration = Duration::from_secs(2);

/// The Admin UI's server side: its handler (for the admin namespace) and its
/// observer (of every namespace, in development mode).
pub struct AdminUi {
    logins: Logins,
    readonly: bool,
    mode: AdminMode,
    server_id: String,
    hostname: String,
    started: Instant,
    /// The admin namespace, set by [`AdminUi::attach`].
    admin: OnceLock<Weak<Namespace>>,
    /// Its name: its own events are not reported (Node's neither), which would loop.
    admin_name: OnceLock<String>,
    /// Every namespace served, the admin one included.
    namespaces: OnceLock<WeakNamespaces>,
}

impl AdminUi {
    /// The Admin UI `config` describes.
    pub fn new(config: &AdminUiConfig) -> Arc<AdminUi> {
        let hostname = gethostname::gethostname().to_string_lossy().into_owned();
        let server_id = config
            .server_id
            .clone()
            .unwrap_or_else(|| format!("{hostname}#{}", std::process::id()));
        Arc::new(AdminUi {
            logins: Logins::new(
                &config.username,
                &config.password_hash,
                Duration::from_secs(config.session_ttl_s),
            ),
            readonly: config.readonly,
            mode: config.mode,
            server_id,
            hostname,
            started: Instant::now(),
            admin: OnceLock::new(),
            admin_name: OnceLock::new(),
            namespaces: OnceLock::new(),
        })
    }

    /// Whether an HTTP request's `Authorization` header carries the admin login
    /// (Basic), for Portico's own admin pages.
    pub async fn authorized(&self, header: Option<&str>) -> bool {
        self.logins.check_basic(header).await
    }

    /// The handler of the admin namespace.
    pub fn handler(self: &Arc<Self>) -> Arc<dyn EventHandler> {
        Arc::new(Handler(self.clone()))
    }

    /// Starts serving: `namespaces` must hold the admin namespace. In development mode
    /// every namespace (the admin one too, as Node's) reports its sockets and rooms.
    pub fn attach(self: &Arc<Self>, admin_namespace: &str, namespaces: &Namespaces) {
        if let Some(admin) = namespaces.get(admin_namespace) {
            let _ = self.admin.set(Arc::downgrade(admin));
        }
        let _ = self.admin_name.set(admin_namespace.to_owned());
        let _ = self.namespaces.set(namespaces.downgrade());
        if self.mode == AdminMode::Development {
            let observer: Arc<dyn Observer> = Arc::new(Live(self.clone()));
            for ns in namespaces.iter() {
                ns.observe(observer.clone());
            }
        }
    }

    /// Sends this node's statistics to the UI now and every 2 s until `stop`;
    /// `connections` counts the node's connections: all, and those on long-polling.
    pub async fn send_stats(
        self: Arc<Self>,
        connections: impl Fn() -> (usize, usize) + Send,
        stop: CancellationToken,
    ) {
        let mut every = tokio::time::interval(STATS_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                _ = every.tick() => {}
            }
            let (Some(admin), Some(namespaces)) = (self.admin(), self.namespaces()) else {
                return;
            };
            let (clients, polling) = connections();
            // In one order every time: the UI merges the list into its own by index.
            let mut sockets: Vec<(String, usize)> = namespaces
                .iter()
                .map(|ns| (ns.name().to_owned(), ns.len()))
                .collect();
            sockets.sort();
            let stats = wire::Stats {
                server_id: &self.server_id,
                hostname: &self.hostname,
                uptime: self.started.elapsed().as_secs_f64(),
                clients,
                polling,
                namespaces: sockets,
                traffic: crate::metrics::traffic::take(),
                at: SystemTime::now(),
            };
            admin.emit(
                &Targets::default(),
                "server_stats",
                Payload::json(vec![stats.to_json()]),
            );
        }
    }

    fn admin(&self) -> Option<Arc<Namespace>> {
        self.admin.get().and_then(Weak::upgrade)
    }

    fn namespaces(&self) -> Option<Namespaces> {
        self.namespaces.get().and_then(WeakNamespaces::upgrade)
    }

    /// Broadcasts `name` with `args` to every UI.
    fn tell(&self, name: &str, args: Vec<Value>) {
        if let Some(admin) = self.admin() {
            admin.emit(&Targets::default(), name, Payload::json(args));
        }
    }

    /// `all_sockets`: every socket of every namespace, on every node, to one UI.
    async fn all_sockets(&self, to: &Socket) {
        let Some(namespaces) = self.namespaces() else {
            return;
        };
        let mut listed = Vec::new();
        for ns in namespaces.iter() {
            let local: std::collections::HashMap<String, Socket> = ns
                .matching(&Targets::default())
                .into_iter()
                .map(|s| (s.id().to_string(), s))
                .collect();
            let everywhere = ns
                .adapter()
                .fetch_sockets(&Targets::default())
                .await
                .unwrap_or_default();
            for remote in everywhere {
                listed.push(match local.get(&remote.id) {
                    Some(socket) => wire::local_socket(socket, ns.rooms_of(socket)),
                    None => wire::remote_socket(ns.name(), remote),
                });
            }
        }
        let _ = to.emit("all_sockets", Payload::json(vec![Value::Array(listed)]));
    }

    /// Runs one of the UI's commands; unknown ones, and all in read-only mode, are
    /// ignored, as the Node server does (it registers no handler for them).
    fn command(&self, name: &str, args: &[Value]) {
        if self.readonly {
            return;
        }
        let Some(namespaces) = self.namespaces() else {
            return;
        };
        let arg = |i: usize| args.get(i).unwrap_or(&Value::Null);
        let Some(ns) = arg(0).as_str().and_then(|nsp| namespaces.get(nsp)) else {
            return;
        };
        // The filter is a room; the UI names one socket by its own room.
        let targets = |filter: &Value| match filter.as_str() {
            Some(room) => Targets::default().to(room),
            None => Targets::default(),
        };
        match name {
            "join" | "leave" => {
                let Some(room) = arg(1).as_str() else { return };
                let (targets, rooms): (Targets, [Room; 1]) = (targets(arg(2)), [room.into()]);
                // This node's sockets through the namespace, so the UI hears of them;
                // then every node's.
                for socket in ns.matching(&targets) {
                    if name == "join" {
                        ns.join(&socket, &rooms);
                    } else {
                        ns.leave(&socket, room);
                    }
                }
                if name == "join" {
                    ns.adapter().add_sockets(&targets, &rooms);
                } else {
                    ns.adapter().del_sockets(&targets, &rooms);
                }
            }
            "_disconnect" => {
                let close = arg(1).as_bool().unwrap_or(false);
                ns.adapter().disconnect_sockets(&targets(arg(2)), close);
            }
            "emit" => {
                let Some(event) = arg(2).as_str() else { return };
                let rest = args.get(3..).unwrap_or_default().to_vec();
                ns.emit(&targets(arg(1)), event, Payload::json(rest));
            }
            _ => {}
        }
    }
}

/// The admin namespace's handler.
struct Handler(Arc<AdminUi>);

impl EventHandler for Handler {
    fn on_connect<'a>(&'a self, _ns: &'a Arc<Namespace>, socket: &'a Socket) -> BoxFuture<'a, ConnectResult> {
        Box::pin(async move {
            let login = self.0.logins.check(&socket.handshake().auth).await;
            if login == Login::Refused {
                // Byte for byte the Node server's: the UI shows it as "Invalid credentials".
                return Err(ConnectRefusal {
                    message: "invalid credentials".to_owned(),
                    code: None,
                    data: None,
                });
            }
            let ui = self.0.clone();
            let socket = socket.clone();
            Ok(Some(Box::new(move || {
                // After the CONNECT reply (the Node server sends it before, and the UI
                // misses it): the UI keeps it to log in again without the password.
                if let Login::Opened(session) = login {
                    let _ = socket.emit("session", Payload::json(vec![session.into()]));
                }
                let features = wire::features(ui.readonly, ui.mode);
                let _ = socket.emit(
                    "config",
                    Payload::json(vec![json!({ "supportedFeatures": features })]),
                );
                if ui.mode == AdminMode::Development
                    && let Some(admin) = ui.admin()
                {
                    admin.spawn(async move {
                        tokio::select! {
                            () = socket.left() => {}
                            () = ui.all_sockets(&socket) => {}
                        }
                    });
                }
            }) as crate::router::handler::AfterConnect))
        })
    }

    fn on_event<'a>(
        &'a self,
        _ns: &'a Arc<Namespace>,
        _socket: &'a Socket,
        event: IncomingEvent,
    ) -> BoxFuture<'a, Option<Payload>> {
        self.0.command(&event.name, &event.payload.values());
        Box::pin(std::future::ready(None))
    }
}

/// `[name, ...args]`, as the UI lists an event.
fn event_args(name: &str, payload: &Payload) -> Value {
    let mut args = vec![Value::from(name)];
    args.extend(payload.values());
    Value::Array(args)
}

/// Development mode's live view: each change, as the UI's events.
struct Live(Arc<AdminUi>);

impl Observer for Live {
    fn socket_connected(&self, ns: &Namespace, socket: &Socket) {
        let listed = wire::local_socket(socket, ns.rooms_of(socket));
        self.0.tell("socket_connected", vec![listed, wire::now().into()]);
    }

    fn socket_updated(&self, ns: &Namespace, socket: &Socket) {
        let update = json!({ "id": &**socket.id(), "nsp": ns.name(), "transport": socket.transport() });
        self.0.tell("socket_updated", vec![update]);
    }

    fn socket_disconnected(&self, ns: &Namespace, socket: &Socket, reason: DisconnectReason, rooms: &[Room]) {
        let (nsp, id, now) = (ns.name(), &**socket.id(), wire::now());
        self.0.tell(
            "socket_disconnected",
            vec![nsp.into(), id.into(), reason.as_str().into(), now.clone().into()],
        );
        for room in rooms {
            self.0.tell(
                "room_left",
                vec![nsp.into(), (&**room).into(), id.into(), now.clone().into()],
            );
        }
    }

    fn rooms_joined(&self, ns: &Namespace, socket: &Socket, rooms: &[Room]) {
        let (nsp, id, now) = (ns.name(), &**socket.id(), wire::now());
        for room in rooms {
            self.0.tell(
                "room_joined",
                vec![nsp.into(), (&**room).into(), id.into(), now.clone().into()],
            );
        }
    }

    fn event_received(&self, nsp: &str, id: &SocketId, name: &str, payload: &Payload) {
        if self.0.admin_name.get().is_some_and(|admin| admin == nsp) {
            return;
        }
        self.0.tell(
            "event_received",
            vec![
                nsp.into(),
                (&**id).into(),
                event_args(name, payload),
                wire::now().into(),
            ],
        );
    }

    fn event_sent(&self, nsp: &str, ids: &[&SocketId], name: &str, payload: &Payload) {
        if ids.is_empty() || self.0.admin_name.get().is_some_and(|admin| admin == nsp) {
            return;
        }
        let (args, now) = (event_args(name, payload), wire::now());
        // One per recipient, as the Node server reports a broadcast.
        for id in ids {
            self.0.tell(
                "event_sent",
                vec![nsp.into(), (&***id).into(), args.clone(), now.clone().into()],
            );
        }
    }

    fn room_left(&self, ns: &Namespace, socket: &Socket, room: &str) {
        self.0.tell(
            "room_left",
            vec![
                ns.name().into(),
                room.into(),
                (&**socket.id()).into(),
                wire::now().into(),
            ],
        );
    }
}
