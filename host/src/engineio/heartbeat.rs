//! The per-session supervisor: pings on an interval, closes on a missed pong, and
//! cleans up exactly once when the session ends for any reason.

use tokio::time::sleep;

use super::{Engine, EngineHandler, Entry};
use crate::outbound::{Connection, Outbound};
use crate::protocol::engineio::Frame;
use crate::reason::DisconnectReason;

/// Runs until the session closes, then removes it and tells the handler.
pub(super) async fn run<H: EngineHandler>(engine: Engine<H>, entry: Entry<H::Conn>) {
    let session = &entry.session;
    let closed = session.closed().clone();
    // The settings its handshake announced, for the session's life.
    let config = engine.0.config.load_full();
    loop {
        tokio::select! {
            () = closed.cancelled() => break,
            () = sleep(config.ping_interval) => {}
        }
        if session.send(Outbound::Frame(Frame::ping())).is_err() {
            break;
        }
        tokio::select! {
            () = closed.cancelled() => break,
            () = session.pong().notified() => {}
            () = sleep(config.ping_timeout) => session.close(DisconnectReason::PingTimeout),
        }
    }
    let reason = session.close_reason().unwrap_or(DisconnectReason::ForcedClose);
    engine.sessions().remove(session.id());
    crate::metrics::connection_closed(super::metric_transport(session.transport()), reason);
    tracing::debug!(sid = session.id(), %reason, "session closed");
    engine.0.handler.on_close(&entry.conn, reason);
}
