//! Engine.IO v4 server: sessions over HTTP long-polling and WebSocket, the upgrade
//! between them, and the heartbeat.
//!
//! # Layout
//! - [`session`]: a session's queue, transport and close state.
//! - `polling`: GET (drain the queue into one payload) and POST (decode, dispatch).
//! - `websocket`: a session opened on WebSocket, or upgraded to it from polling.
//! - `heartbeat`: pings, pong timeout, and the cleanup when a session ends.
//!
//! The layer above implements [`EngineHandler`]: it is told when a session opens,
//! receives each message in order, and is told once when the session closes.

mod heartbeat;
mod polling;
pub mod session;
mod websocket;

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;
use axum::body::Body;
use axum::response::Response;
use http::{HeaderMap, HeaderValue, Method, Request, StatusCode, header};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Config;
use crate::limits::{ConnectionLimits, ConnectionPermit, Refusal, peer_ip};
use crate::protocol::engineio::{self as proto, Message, RequestError, Transport};
use crate::reason::DisconnectReason;
pub use session::Session;

/// Engine.IO settings, taken from [`Config`].
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Time between server pings.
    pub ping_interval: Duration,
    /// Time allowed for the pong.
    pub ping_timeout: Duration,
    /// Largest message or polling body accepted, in bytes.
    pub max_payload: usize,
    /// Time allowed to finish an upgrade after the WebSocket opened.
    pub upgrade_timeout: Duration,
    /// Outbound queue capacity, in messages.
    pub queue_capacity: usize,
    /// Connections open at once, shared with the other transports.
    pub connections: Arc<ConnectionLimits>,
    /// permessage-deflate on the WebSocket transport.
    pub compression: crate::config::CompressionConfig,
}

impl EngineConfig {
    /// The Engine.IO part of the gateway configuration, counting its connections in
    /// `connections` (shared with the native endpoint).
    pub fn from_config(config: &Config, connections: Arc<ConnectionLimits>) -> EngineConfig {
        EngineConfig {
            ping_interval: config.engineio.ping_interval(),
            ping_timeout: config.engineio.ping_timeout(),
            max_payload: config.engineio.max_payload,
            upgrade_timeout: config.engineio.upgrade_timeout(),
            queue_capacity: config.limits.outbound_queue,
            connections,
            compression: config.websocket.compression.clone(),
        }
    }
}

/// What the handshake request told us about the client.
#[derive(Debug, Clone)]
pub struct RequestInfo {
    /// The request headers.
    pub headers: Arc<HeaderMap>,
    /// The raw query string.
    pub query: Arc<str>,
    /// The request's path.
    pub path: Arc<str>,
    /// The TCP peer's address, when the request came through the listener.
    pub peer: Option<std::net::IpAddr>,
    /// When the request arrived.
    pub issued: std::time::SystemTime,
}

impl Default for RequestInfo {
    fn default() -> RequestInfo {
        RequestInfo {
            headers: Arc::default(),
            query: "".into(),
            path: "/".into(),
            peer: None,
            issued: std::time::SystemTime::now(),
        }
    }
}

impl RequestInfo {
    /// What a session keeps of `req`, shared by every clone. Header values are copied:
    /// hyper's point into the buffer the whole request was read into, and keeping one
    /// for the session's life would keep that buffer (8 KiB or more) too.
    pub fn of<B>(req: &Request<B>) -> RequestInfo {
        let mut headers = HeaderMap::with_capacity(req.headers().len());
        for (name, value) in req.headers() {
            if let Ok(owned) = HeaderValue::from_bytes(value.as_bytes()) {
                headers.append(name.clone(), owned);
            }
        }
        RequestInfo {
            headers: Arc::new(headers),
            query: req.uri().query().unwrap_or("").into(),
            path: req.uri().path().into(),
            peer: peer_ip(req),
            issued: std::time::SystemTime::now(),
        }
    }
}

/// The layer above Engine.IO (Socket.IO, or a plain echo).
pub trait EngineHandler: Send + Sync + 'static {
    /// Per-session state the handler keeps.
    type Conn: Send + Sync + 'static;

    /// A session opened; its open packet is already queued.
    fn on_open(&self, session: &Session, request: &RequestInfo) -> Self::Conn;

    /// A message arrived; the next one is read only after this returns.
    fn on_message(&self, conn: &Self::Conn, message: Message) -> impl Future<Output = ()> + Send;

    /// The session closed; called exactly once.
    fn on_close(&self, conn: &Self::Conn, reason: DisconnectReason);

    /// The session moved from long-polling to WebSocket.
    fn on_upgrade(&self, conn: &Self::Conn) {
        let _ = conn;
    }
}

/// The Engine.IO server: a cheap handle to the session table and the handler.
pub struct Engine<H: EngineHandler>(Arc<Shared<H>>);

impl<H: EngineHandler> Clone for Engine<H> {
    fn clone(&self) -> Self {
        Engine(self.0.clone())
    }
}

struct Shared<H: EngineHandler> {
    /// Read when a session opens or a request arrives; replaced by a config reload.
    config: ArcSwap<EngineConfig>,
    handler: H,
    /// Every session task, so shutdown can wait for them.
    tasks: TaskTracker,
    /// Polling POSTs being handled, so shutdown can let them finish.
    posts: TaskTracker,
    /// Cancelled when shutdown begins: no new session is opened.
    draining: CancellationToken,
    /// Open sessions by id. A std mutex: lookups and inserts only, never across an await.
    sessions: Mutex<HashMap<Arc<str>, Entry<H::Conn>>>,
}

/// A session and the handler's state for it.
struct Entry<C> {
    session: Session,
    conn: Arc<C>,
}

impl<C> Clone for Entry<C> {
    fn clone(&self) -> Self {
        Entry {
            session: self.session.clone(),
            conn: self.conn.clone(),
        }
    }
}

impl<H: EngineHandler> Engine<H> {
    /// A server with no sessions yet.
    pub fn new(config: EngineConfig, handler: H) -> Engine<H> {
        Engine(Arc::new(Shared {
            config: ArcSwap::from_pointee(config),
            handler,
            tasks: TaskTracker::new(),
            posts: TaskTracker::new(),
            draining: CancellationToken::new(),
            sessions: Mutex::new(HashMap::new()),
        }))
    }

    /// Replaces its settings: sessions opened from now on use them, open ones keep
    /// those their handshake announced.
    pub fn reconfigure(&self, config: EngineConfig) {
        self.0.config.store(Arc::new(config));
    }

    /// The handler above this engine.
    pub fn handler(&self) -> &H {
        &self.0.handler
    }

    /// Number of open sessions.
    pub fn session_count(&self) -> usize {
        self.sessions().len()
    }

    /// Runs a task of one of its sessions, tracked with the sessions' own.
    fn spawn<F>(&self, task: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: std::future::Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.0.tasks.spawn(task)
    }

    /// Closes every session and waits up to `grace` for their tasks to finish.
    pub async fn shutdown(&self, grace: Duration) {
        let deadline = tokio::time::Instant::now() + grace;
        // No new session; readers take no more packets, the ones being handled finish
        // and queue their replies (a WebSocket reader then closes its session after a
        // flush).
        self.0.draining.cancel();
        for entry in self.sessions().values() {
            entry.session.stop_reading();
        }
        self.0.posts.close();
        let _ = tokio::time::timeout_at(deadline, self.0.posts.wait()).await;
        let polling: Vec<Session> = self
            .sessions()
            .values()
            .map(|e| e.session.clone())
            .filter(|s| s.transport() == Transport::Polling)
            .collect();
        for session in polling {
            // The next GET takes what is queued, then the close.
            crate::outbound::Connection::close_after_flush(&session, DisconnectReason::ServerShutdown);
        }
        self.0.tasks.close();
        let _ = tokio::time::timeout_at(deadline, self.0.tasks.wait()).await;
        // Whatever did not finish within the grace.
        self.close_all(DisconnectReason::ServerShutdown);
    }

    /// How many sessions are still on long-polling.
    pub fn polling_sessions(&self) -> usize {
        self.sessions()
            .values()
            .filter(|e| e.session.transport() == Transport::Polling)
            .count()
    }

    /// Closes every session.
    pub fn close_all(&self, reason: DisconnectReason) {
        let sessions: Vec<Session> = self.sessions().values().map(|e| e.session.clone()).collect();
        for session in sessions {
            crate::outbound::Connection::close(&session, reason);
        }
    }

    /// Serves one HTTP request on the Engine.IO path.
    pub async fn handle(&self, mut req: Request<Body>) -> Response {
        match self.route(&mut req).await {
            Ok(response) => response,
            Err(err) => error_response(err),
        }
    }

    async fn route(&self, req: &mut Request<Body>) -> Result<Response, RequestError> {
        let query = proto::parse_query(req.uri().query().unwrap_or(""))?;
        let Some(sid) = query.sid else {
            if self.0.draining.is_cancelled() {
                return Ok(crate::http::shutting_down());
            }
            return match query.transport {
                Transport::Polling if req.method() == Method::GET => Ok(self.open_polling(req)),
                Transport::Polling => Err(RequestError::BadHandshakeMethod),
                Transport::Websocket => self.open_websocket(req),
            };
        };
        let entry = self.lookup(&sid).ok_or(RequestError::UnknownSid)?;
        match query.transport {
            Transport::Polling if entry.session.transport() != Transport::Polling => {
                Err(RequestError::BadRequest)
            }
            Transport::Polling if req.method() == Method::GET => Ok(polling::poll(&entry.session).await),
            Transport::Polling if req.method() == Method::POST => {
                let body = std::mem::take(req.body_mut());
                Ok(polling::post(self, &entry, body).await)
            }
            Transport::Polling => Err(RequestError::BadRequest),
            Transport::Websocket => self.upgrade(req, entry),
        }
    }

    fn sessions(&self) -> std::sync::MutexGuard<'_, HashMap<Arc<str>, Entry<H::Conn>>> {
        // A panic while holding this lock cannot leave the map half-updated.
        self.0
            .sessions
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Takes a session the request in hand has just closed out of the table at once,
    /// as Node's engine.io does: the client's next request gets `Session ID unknown`
    /// instead of racing the heartbeat task, which still does the cleanup.
    fn forget(&self, session: &Session) {
        self.sessions().remove(session.id());
    }

    fn lookup(&self, sid: &str) -> Option<Entry<H::Conn>> {
        self.sessions().get(sid).cloned()
    }

    /// Creates a session, tells the handler and starts its heartbeat, which holds the
    /// session's place among the node's connections until it ends.
    fn open(&self, transport: Transport, req: &Request<Body>, permit: ConnectionPermit) -> Entry<H::Conn> {
        let session = Session::new(
            crate::id::random_id(),
            transport,
            self.0.config.load().queue_capacity,
        );
        let info = RequestInfo::of(req);
        if transport == Transport::Websocket {
            // The open packet must be the first frame; nothing else is queued yet.
            let _ = crate::outbound::Connection::send(
                &session,
                crate::outbound::Outbound::Frame(self.handshake(&session, &[])),
            );
        }
        let conn = Arc::new(self.0.handler.on_open(&session, &info));
        let entry = Entry {
            session: session.clone(),
            conn,
        };
        self.sessions().insert(session.id().into(), entry.clone());
        crate::metrics::connection_opened(metric_transport(transport));
        tracing::debug!(sid = session.id(), ?transport, "session opened");
        let heartbeat = heartbeat::run(self.clone(), entry.clone());
        self.0.tasks.spawn(async move {
            heartbeat.await;
            drop(permit);
        });
        entry
    }

    /// A place for a new session, or the response refusing it.
    fn admit(&self, req: &Request<Body>) -> Result<ConnectionPermit, Refusal> {
        self.0.config.load().connections.acquire(peer_ip(req))
    }

    fn handshake(&self, session: &Session, upgrades: &[&str]) -> proto::Frame {
        let config = self.0.config.load();
        proto::Handshake {
            sid: session.id(),
            upgrades,
            ping_interval: config.ping_interval.as_millis() as u64,
            ping_timeout: config.ping_timeout.as_millis() as u64,
            max_payload: config.max_payload,
        }
        .to_frame()
    }

    fn open_polling(&self, req: &Request<Body>) -> Response {
        let permit = match self.admit(req) {
            Ok(permit) => permit,
            Err(refusal) => return refusal.response(),
        };
        let entry = self.open(Transport::Polling, req, permit);
        let proto::Frame::Text(open) = self.handshake(&entry.session, &["websocket"]) else {
            unreachable!("the handshake is a text frame")
        };
        polling::payload_response(open.to_vec())
    }

    fn open_websocket(&self, req: &mut Request<Body>) -> Result<Response, RequestError> {
        let (response, upgrade, deflate) = websocket_upgrade(req, &self.0.config.load().compression)?;
        let permit = match self.admit(req) {
            Ok(permit) => permit,
            Err(refusal) => return Ok(refusal.response()),
        };
        let entry = self.open(Transport::Websocket, req, permit);
        self.0
            .tasks
            .spawn(websocket::run(self.clone(), entry, upgrade, false, deflate));
        Ok(response)
    }

    fn upgrade(&self, req: &mut Request<Body>, entry: Entry<H::Conn>) -> Result<Response, RequestError> {
        let (response, upgrade, deflate) = websocket_upgrade(req, &self.0.config.load().compression)?;
        if entry.session.transport() != Transport::Polling || !entry.session.begin_upgrade() {
            // Already upgraded, or a probe is running: as Node's engine.io does, the
            // WebSocket is accepted and closed at once, and the session is untouched.
            self.0.tasks.spawn(websocket::close_at_once(upgrade));
            return Ok(response);
        }
        self.0
            .tasks
            .spawn(websocket::run(self.clone(), entry, upgrade, true, deflate));
        Ok(response)
    }

    /// Handles one decoded packet from either transport.
    async fn dispatch(&self, entry: &Entry<H::Conn>, packet: proto::Packet) {
        match packet {
            proto::Packet::Message(message) => {
                crate::metrics::MESSAGES_IN.increment(1);
                let bytes = match &message {
                    Message::Text(text) => text.len(),
                    Message::Binary(bytes) => bytes.len(),
                };
                crate::metrics::traffic::TRAFFIC.received(bytes);
                self.0.handler.on_message(&entry.conn, message).await;
                // A burst of buffered messages (each maybe a broadcast) is parsed without
                // touching the socket, so without this the reader never yields and the
                // recipients' writers on this worker cannot drain their queues.
                tokio::task::consume_budget().await;
            }
            proto::Packet::Pong(_) => entry.session.pong().notify_one(),
            proto::Packet::Close => {
                crate::outbound::Connection::close(&entry.session, DisconnectReason::TransportClose);
            }
            // v4 clients do not ping; upgrade and noop only matter during an upgrade.
            proto::Packet::Ping(_)
            | proto::Packet::Upgrade
            | proto::Packet::Noop
            | proto::Packet::Open(_) => {}
        }
    }
}

/// A session's transport as the metrics label it.
pub(crate) fn metric_transport(transport: Transport) -> crate::metrics::Transport {
    match transport {
        Transport::Polling => crate::metrics::Transport::Polling,
        Transport::Websocket => crate::metrics::Transport::Websocket,
    }
}

/// What a WebSocket handshake gives: the 101 response, the upgrade to await, and
/// the compression agreed.
type Upgrade = (
    Response,
    fastwebsockets::upgrade::UpgradeFut,
    Option<crate::compression::Deflate>,
);

/// Validates a WebSocket handshake and prepares the 101 response, with
/// permessage-deflate when `compression` is on and the client offers it.
fn websocket_upgrade(
    req: &mut Request<Body>,
    compression: &crate::config::CompressionConfig,
) -> Result<Upgrade, RequestError> {
    if !fastwebsockets::upgrade::is_upgrade_request(req) {
        return Err(RequestError::BadRequest);
    }
    let agreed = crate::compression::negotiate(req.headers(), compression);
    let (mut response, fut) = fastwebsockets::upgrade::upgrade(req).map_err(|_| RequestError::BadRequest)?;
    crate::compression::answer(&mut response, agreed.as_ref());
    Ok((response.map(Body::new), fut, agreed.map(|(deflate, _)| deflate)))
}

/// The spec's JSON error response.
fn error_response(err: RequestError) -> Response {
    crate::metrics::request_refused(err.name());
    let status = StatusCode::from_u16(err.status()).unwrap_or(StatusCode::BAD_REQUEST);
    let mut response = Response::new(Body::from(err.body()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_info_copies_headers_and_query() {
        let req = Request::builder()
            .uri("/socket.io/?EIO=4&transport=websocket")
            .header("x-token", "abc")
            .header("x-multi", "1")
            .header("x-multi", "2")
            .body(())
            .expect("a valid request");
        let info = RequestInfo::of(&req);
        assert_eq!(&*info.query, "EIO=4&transport=websocket");
        assert_eq!(
            info.headers.get("x-token").map(|v| v.as_bytes()),
            Some(&b"abc"[..])
        );
        let multi: Vec<_> = info.headers.get_all("x-multi").iter().collect();
        assert_eq!(multi, ["1", "2"]);
        // A copy, not a view of the request's buffer.
        let original = req.headers()["x-token"].as_bytes().as_ptr();
        assert_ne!(info.headers["x-token"].as_bytes().as_ptr(), original);
    }
}
