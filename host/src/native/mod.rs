//! The plain WebSocket endpoint with NestJS `WsAdapter` framing.
//!
//! `PATH` joins namespace `/` and `PATH/NAME` joins `/NAME`. Each text frame
//! `{"event": "…", "data": …}` is dispatched like a Socket.IO event that asked for an
//! ack; a handler's answer comes back as `{"event": "<same>", "data": answer}`. Server
//! emits use the same shape. A malformed frame is answered with an `error` event and
//! the connection stays open. WebSocket pings detect dead peers.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{Request, StatusCode};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::engineio::RequestInfo;
use crate::limits::{ConnectionLimits, peer_ip};
use crate::metrics;
use crate::outbound::{Connection, Outbound, Outbox};
use crate::protocol::native;
use crate::protocol::socketio::Payload;
use crate::protocol::wsframe::{self, OpCode};
use crate::reason::DisconnectReason;
use crate::router::handler::IncomingEvent;
use crate::router::{Connected, Framing, Handshake, Namespace, Namespaces, Socket};
use crate::wsio::{self, Incoming};

/// Settings of the native endpoint.
#[derive(Debug, Clone)]
pub struct NativeConfig {
    /// Time between WebSocket pings.
    pub ping_interval: Duration,
    /// Time allowed for the pong.
    pub ping_timeout: Duration,
    /// Largest message accepted, in bytes.
    pub max_payload: usize,
    /// Outbound queue capacity, in messages.
    pub queue_capacity: usize,
    /// Connections open at once, shared with the other transports.
    pub connections: Arc<ConnectionLimits>,
    /// permessage-deflate.
    pub compression: crate::config::CompressionConfig,
}

impl NativeConfig {
    /// The native endpoint's part of the gateway configuration: Engine.IO's heartbeat
    /// and size limit, the outbound queue of `[limits]`; its connections are counted
    /// in `connections` (shared with Engine.IO).
    pub fn from_config(config: &crate::config::Config, connections: Arc<ConnectionLimits>) -> NativeConfig {
        NativeConfig {
            ping_interval: config.engineio.ping_interval(),
            ping_timeout: config.engineio.ping_timeout(),
            max_payload: config.engineio.max_payload,
            queue_capacity: config.limits.outbound_queue,
            connections,
            compression: config.websocket.compression.clone(),
        }
    }
}

/// The endpoint: configuration and the namespaces it serves.
#[derive(Debug, Clone)]
pub struct NativeEndpoint {
    /// Read when a connection opens; replaced by a config reload.
    config: Arc<ArcSwap<NativeConfig>>,
    namespaces: Namespaces,
    /// Cancelled at server shutdown; every connection closes.
    shutdown: CancellationToken,
    /// Every connection task, so shutdown can wait for them.
    tasks: TaskTracker,
}

impl NativeEndpoint {
    /// The endpoint serving `namespaces`.
    pub fn new(config: NativeConfig, namespaces: Namespaces) -> NativeEndpoint {
        NativeEndpoint {
            config: Arc::new(ArcSwap::from_pointee(config)),
            namespaces,
            shutdown: CancellationToken::new(),
            tasks: TaskTracker::new(),
        }
    }

    /// Replaces its settings: connections opened from now on use them.
    pub fn reconfigure(&self, config: NativeConfig) {
        self.config.store(Arc::new(config));
    }

    /// Closes every connection and waits up to `grace` for their tasks to finish.
    pub async fn shutdown(&self, grace: Duration) {
        self.shutdown.cancel();
        self.tasks.close();
        let _ = tokio::time::timeout(grace, self.tasks.wait()).await;
    }

    /// Upgrades a request for namespace `nsp` and runs the connection in a task.
    pub fn handle(&self, nsp: &str, mut req: Request<Body>) -> Response {
        let Some(ns) = self.namespaces.get(nsp).cloned() else {
            return (
                StatusCode::NOT_FOUND,
                axum::Json(json!({ "message": "Invalid namespace" })),
            )
                .into_response();
        };
        if self.shutdown.is_cancelled() {
            return crate::http::shutting_down();
        }
        if !fastwebsockets::upgrade::is_upgrade_request(&req) {
            return (
                StatusCode::BAD_REQUEST,
                axum::Json(json!({ "message": "Expected a WebSocket upgrade" })),
            )
                .into_response();
        }
        let config = self.config.load_full();
        let agreed = crate::compression::negotiate(req.headers(), &config.compression);
        let (mut response, upgrade) = match fastwebsockets::upgrade::upgrade(&mut req) {
            Ok(parts) => parts,
            Err(err) => {
                return (
                    StatusCode::BAD_REQUEST,
                    axum::Json(json!({ "message": err.to_string() })),
                )
                    .into_response();
            }
        };
        crate::compression::answer(&mut response, agreed.as_ref());
        let deflate = agreed.map(|(deflate, _)| deflate);
        let permit = match config.connections.acquire(peer_ip(&req)) {
            Ok(permit) => permit,
            Err(refusal) => return refusal.response(),
        };
        let request = RequestInfo::of(&req);
        let user = match ns.authenticate(&json!({}), &request) {
            Ok(user) => user,
            Err(failure) => {
                return (
                    StatusCode::UNAUTHORIZED,
                    axum::Json(json!({ "message": failure.to_string() })),
                )
                    .into_response();
            }
        };
        let shutdown = self.shutdown.clone();
        let tasks = self.tasks.clone();
        self.tasks.spawn(async move {
            match upgrade.await {
                Ok(ws) => {
                    run(
                        NativeConfig::clone(&config),
                        ns,
                        Handshake {
                            auth: json!({}),
                            request,
                            user,
                        },
                        ws.into_inner(),
                        deflate,
                        shutdown,
                        &tasks,
                    )
                    .await;
                    drop(permit);
                }
                Err(err) => tracing::debug!(%err, "native websocket upgrade failed"),
            }
        });
        response.map(Body::new)
    }
}

async fn run(
    config: NativeConfig,
    ns: Arc<Namespace>,
    handshake: Handshake,
    stream: TokioIo<Upgraded>,
    deflate: Option<crate::compression::Deflate>,
    shutdown: CancellationToken,
    tasks: &TaskTracker,
) {
    let (mut reader, write) = match wsio::split(stream, config.max_payload, deflate) {
        Ok(split) => split,
        Err(err) => {
            tracing::warn!(%err, "native websocket dropped");
            return;
        }
    };
    let (outbox, mut rx) = Outbox::new(config.queue_capacity);
    let conn = Arc::new(outbox);
    metrics::connection_opened(metrics::Transport::Native);
    tracing::debug!(nsp = ns.name(), "native connection opened");

    let socket = Socket::new(ns.name(), conn.clone(), Framing::Native, handshake);

    let writer_conn = conn.clone();
    let writer = tasks.spawn(async move {
        let closed = writer_conn.closed().clone();
        let reason = wsio::write_loop(write, &mut rx, &closed, deflate, || closed_reason(&writer_conn)).await;
        writer_conn.close(reason);
    });
    let pong = Arc::new(Notify::new());
    tasks.spawn(heartbeat(
        conn.clone(),
        pong.clone(),
        config.ping_interval,
        config.ping_timeout,
    ));

    // A refused socket never reads: nothing the client sent meanwhile is handled.
    if ns.connect(&socket).await == Connected::Accepted {
        read_loop(&conn, &ns, &socket, &mut reader, &pong, &shutdown).await;
    }
    let _ = writer.await;
    let reason = closed_reason(&conn);
    ns.remove(&socket, reason);
    metrics::connection_closed(metrics::Transport::Native, reason);
    tracing::debug!(nsp = ns.name(), %reason, "native connection closed");
}

/// Reads the client's frames until the connection closes.
async fn read_loop(
    conn: &Outbox,
    ns: &Arc<Namespace>,
    socket: &Socket,
    reader: &mut wsio::WsReader,
    pong: &Notify,
    shutdown: &CancellationToken,
) {
    // Registered once, not per frame: this loop is every message's path.
    let (closed, stop) = (conn.closed().cancelled(), shutdown.cancelled());
    tokio::pin!(closed, stop);
    loop {
        let incoming = tokio::select! {
            () = &mut closed => break,
            // The event handled last has queued its replies; they go out first.
            () = &mut stop => {
                conn.close_after_flush(DisconnectReason::ServerShutdown);
                break;
            }
            incoming = reader.next() => incoming,
        };
        match incoming {
            Ok(Incoming::Text(text)) => {
                metrics::MESSAGES_IN.increment(1);
                metrics::traffic::TRAFFIC.received(text.len());
                on_text(ns, socket, &text).await;
                // Let writers drain between buffered messages (see `Engine::dispatch`).
                tokio::task::consume_budget().await;
            }
            Ok(Incoming::Binary(_)) => reply_error(socket, &native::DecodeError::Binary),
            Ok(Incoming::Pong) => pong.notify_one(),
            Ok(Incoming::Ping(payload)) => {
                let _ = conn.send(Outbound::WsControl(wsio::pong(&payload)));
            }
            Ok(Incoming::Close) => conn.close(DisconnectReason::TransportClose),
            Err(err) => {
                tracing::debug!(%err, "native websocket read ended");
                conn.close(err.reason());
            }
        }
    }
}

/// Why the connection closed; a writer that stopped on its own reports a forced close.
fn closed_reason(conn: &Outbox) -> DisconnectReason {
    conn.reason().unwrap_or(DisconnectReason::ForcedClose)
}

async fn on_text(ns: &Arc<Namespace>, socket: &Socket, text: &str) {
    let message = match native::decode(text) {
        Ok(message) => message,
        Err(err) => return reply_error(socket, &err),
    };
    let event = IncomingEvent {
        name: message.event.clone(),
        payload: Payload::args(vec![message.data]),
        wants_ack: true,
    };
    if let Some(reply) = ns.dispatch(socket, event).await {
        ns.metrics().ack();
        let _ = socket.emit(&message.event, reply);
    }
}

/// Tells the client its frame was refused; the connection stays open.
fn reply_error(socket: &Socket, err: &native::DecodeError) {
    let _ = socket.emit(
        "error",
        Payload::json(vec![json!({ "message": err.to_string(), "code": "BAD_REQUEST" })]),
    );
}

/// Pings every interval; closes the connection when a pong is late.
async fn heartbeat(conn: Arc<Outbox>, pong: Arc<Notify>, interval: Duration, timeout: Duration) {
    let mut ping = Vec::with_capacity(2);
    wsframe::encode(OpCode::Ping, &[], &mut ping);
    let ping = Bytes::from(ping);
    loop {
        tokio::select! {
            () = conn.closed().cancelled() => return,
            () = tokio::time::sleep(interval) => {}
        }
        if conn.send(Outbound::WsControl(ping.clone())).is_err() {
            return;
        }
        tokio::select! {
            () = conn.closed().cancelled() => return,
            () = pong.notified() => {}
            () = tokio::time::sleep(timeout) => return conn.close(DisconnectReason::PingTimeout),
        }
    }
}
