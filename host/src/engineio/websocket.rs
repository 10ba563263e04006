//! The WebSocket transport: a session opened on it directly, or upgraded to it from
//! polling (`2probe` → `3probe`, noop to the pending poll, then `5`).

use fastwebsockets::upgrade::UpgradeFut;
use tokio::io::AsyncWriteExt;

use super::{Engine, EngineHandler, Entry};
use crate::outbound::{Connection, Outbound};
use crate::protocol::engineio::{self as proto, Frame, Message};
use crate::protocol::wsframe::{self, OpCode};
use crate::reason::DisconnectReason;
use crate::wsio::{self, CLOSE_GRACE, Incoming, WsReader, WsWrite};

/// Runs a session's WebSocket until it closes. With `upgrade`, the session is on
/// polling and this socket must first complete the probe.
pub(super) async fn run<H: EngineHandler>(
    engine: Engine<H>,
    entry: Entry<H::Conn>,
    upgrade: UpgradeFut,
    probe: bool,
    deflate: Option<crate::compression::Deflate>,
) {
    let session = entry.session.clone();
    let stream = match upgrade.await {
        Ok(ws) => ws.into_inner(),
        Err(err) => {
            tracing::debug!(sid = session.id(), %err, "websocket upgrade failed");
            if probe {
                session.abort_upgrade();
            } else {
                session.close(DisconnectReason::TransportError);
            }
            return;
        }
    };
    let (mut reader, mut write) = match wsio::split(stream, engine.0.config.load().max_payload, deflate) {
        Ok(split) => split,
        Err(err) => {
            tracing::warn!(sid = session.id(), %err, "websocket dropped");
            session.close(DisconnectReason::TransportError);
            return;
        }
    };
    if probe {
        match tokio::time::timeout(
            engine.0.config.load().upgrade_timeout,
            probe_upgrade(&entry, &mut reader, &mut write),
        )
        .await
        {
            Ok(true) => {}
            _ => {
                // The session goes on over polling; only this socket closes.
                session.abort_upgrade();
                let mut buf = Vec::new();
                wsframe::encode_close(1000, "upgrade not completed", &mut buf);
                let _ = write.write_all(&buf).await;
                return;
            }
        }
        // Ends a poll that is still pending, so its lock on the queue is released.
        session.upgraded();
        engine.0.handler.on_upgrade(&entry.conn);
    }

    // After an upgrade a pending poll may still hold the queue for a moment.
    let mut rx = tokio::select! {
        rx = session.receiver().lock_owned() => rx,
        () = session.closed().cancelled() => return,
    };
    let writer_session = session.clone();
    let writer = engine.spawn(async move {
        let closed = writer_session.closed().clone();
        let reason = wsio::write_loop(write, &mut rx, &closed, deflate, || {
            writer_session
                .close_reason()
                .unwrap_or(DisconnectReason::ForcedClose)
        })
        .await;
        writer_session.close(reason);
    });

    // Whether the client's side ended (a close frame, EOF, an error) rather than ours.
    let mut read_ended = false;
    // Registered once, not per packet: this loop is every message's path.
    let stop = session.reading().cancelled();
    tokio::pin!(stop);
    loop {
        let incoming = tokio::select! {
            () = &mut stop => {
                if !session.closed().is_cancelled() {
                    // Shutdown: the packet handled last has queued its replies; they
                    // go out first.
                    session.close_after_flush(DisconnectReason::ServerShutdown);
                }
                break;
            }
            incoming = reader.next() => incoming,
        };
        let packet = match incoming {
            Ok(Incoming::Text(text)) => match proto::decode_text(&text) {
                Ok(packet) => packet,
                Err(err) => {
                    tracing::debug!(sid = session.id(), %err, "undecodable websocket packet");
                    session.close(DisconnectReason::ParseError);
                    break;
                }
            },
            Ok(Incoming::Binary(bytes)) => proto::Packet::Message(Message::Binary(bytes)),
            Ok(Incoming::Pong) => continue,
            Ok(Incoming::Ping(payload)) => {
                let _ = session.send(Outbound::WsControl(wsio::pong(&payload)));
                continue;
            }
            Ok(Incoming::Close) => {
                read_ended = true;
                session.close(DisconnectReason::TransportClose);
                break;
            }
            Err(err) => {
                read_ended = true;
                tracing::debug!(sid = session.id(), %err, "websocket read ended");
                session.close(err.reason());
                break;
            }
        };
        engine.dispatch(&entry, packet).await;
    }
    let _ = writer.await;
    if !read_ended {
        wsio::drain(&mut reader, CLOSE_GRACE).await;
    }
}

/// Closes a WebSocket that may not join its session (a second upgrade), sending only
/// a close frame without a status, as Node's `ws` does for `close()`.
pub(super) async fn close_at_once(upgrade: UpgradeFut) {
    let Ok(ws) = upgrade.await else { return };
    let mut io = ws.into_inner();
    let mut buf = Vec::with_capacity(2);
    wsframe::encode(OpCode::Close, &[], &mut buf);
    let _ = tokio::time::timeout(CLOSE_GRACE, async {
        io.write_all(&buf).await?;
        io.shutdown().await
    })
    .await;
}

/// Answers probes until the client sends `5`; false if the socket closes first.
async fn probe_upgrade<C>(entry: &Entry<C>, reader: &mut WsReader, write: &mut WsWrite) -> bool {
    loop {
        let text = match reader.next().await {
            Ok(Incoming::Text(text)) => text,
            Ok(Incoming::Binary(_) | Incoming::Pong | Incoming::Ping(_)) => continue,
            Ok(Incoming::Close) | Err(_) => return false,
        };
        match proto::decode_text(&text) {
            Ok(proto::Packet::Ping(data)) if data == "probe" => {
                let Frame::Text(pong) = Frame::pong_probe() else {
                    return false;
                };
                let mut buf = Vec::with_capacity(8);
                wsframe::encode(OpCode::Text, &pong, &mut buf);
                if write.write_all(&buf).await.is_err() {
                    return false;
                }
                // The pending poll answers noop so the client can pause polling.
                entry.session.probe_answered();
            }
            Ok(proto::Packet::Upgrade) => return true,
            _ => {}
        }
    }
}
