//! The accept loop: HTTP/1.1 with upgrades on every accepted TCP connection.
//!
//! Serving hyper connections ourselves (rather than through `axum::serve`) keeps the
//! `TcpStream` type visible inside an upgraded connection, so the WebSocket layer can
//! take the socket back and read it without a buffer while it is idle (see `wsio`).
//! It also bounds how long a client may take to send its request headers.

use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::{Extension, Router};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower_layer::Layer;

/// Pause after an accept error such as running out of file descriptors, so the loop
/// does not spin while the condition lasts.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(50);

/// Accepts connections on `listener` and serves `app` on each, until `shutdown` is
/// cancelled; then lets in-flight requests finish and returns once every connection
/// has closed or been upgraded away.
/// A client that takes longer than `header_timeout` to send a request's headers is
/// disconnected.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    header_timeout: Duration,
    shutdown: CancellationToken,
) {
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
        // Every request carries its peer's address, for the per-address limits.
        let service = TowerToHyperService::new(Extension(ConnectInfo(peer)).layer(app.clone()));
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
