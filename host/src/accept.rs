//! The accept loop: HTTP/1.1 with upgrades on every accepted TCP connection.
//!
//! Serving hyper connections ourselves (rather than through `axum::serve`) keeps the
//! `TcpStream` type visible inside an upgraded connection, so the WebSocket layer can
//! take the socket back and read it without a buffer while it is idle (see `wsio`).
//! It also bounds how long a client may take to send its request headers, and lets a
//! config reload replace the routes: each request is served by the [`Frontend`]
//! installed when it arrives, so a keep-alive connection sees new CORS rules too.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use axum::Router;
use axum::extract::ConnectInfo;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt as _;

/// Pause after an accept error such as running out of file descriptors, so the loop
/// does not spin while the condition lasts.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(50);

/// What connections are served with; a config reload installs a new one.
#[derive(Clone)]
pub struct Frontend {
    /// The routes, CORS included.
    pub app: Router,
    /// How long a client may take to send a request's headers before it is
    /// disconnected (read when its connection is accepted).
    pub header_timeout: Duration,
}

impl Frontend {
    /// This frontend, in the cell [`serve`] reads and a reload replaces.
    pub fn shared(self) -> Arc<ArcSwap<Frontend>> {
        Arc::new(ArcSwap::from_pointee(self))
    }
}

/// Accepts connections on `listener` and serves each request with the current
/// `frontend`, until `shutdown` is cancelled; then lets in-flight requests finish and
/// returns once every connection has closed or been upgraded away.
pub async fn serve(listener: TcpListener, frontend: Arc<ArcSwap<Frontend>>, shutdown: CancellationToken) {
    let connections = TaskTracker::new();
    loop {
        let (tcp, peer) = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    tracing::warn!(%err, "accept failed");
                    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                    continue;
                }
            },
        };
        let _ = tcp.set_nodelay(true);
        let header_timeout = frontend.load().header_timeout;
        let routes = frontend.clone();
        let service = hyper::service::service_fn(move |mut req: http::Request<hyper::body::Incoming>| {
            // Every request carries its peer's address, for the per-address limits.
            req.extensions_mut().insert(ConnectInfo(peer));
            routes.load().app.clone().oneshot(req)
        });
        let shutdown = shutdown.clone();
        connections.spawn(async move {
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .serve_connection(TokioIo::new(tcp), service)
                .with_upgrades();
            tokio::pin!(conn);
            let result = tokio::select! {
                result = conn.as_mut() => result,
                () = shutdown.cancelled() => {
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(err) = result {
                tracing::debug!(%err, "http connection ended");
            }
        });
    }
    connections.close();
    connections.wait().await;
}
