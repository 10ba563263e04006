//! The server the official Socket.IO protocol test suite talks to: on connect it
//! emits `auth` with the handshake's auth payload; `message` is answered with
//! `message-back` and the same arguments; `message-with-ack` is acked with its
//! arguments; `emit-with-ack` is emitted back with an ack request, and the client's
//! answer is emitted again as `emit-with-ack`.

use std::sync::Arc;
use std::time::Duration;

use super::{BoxFuture, EventHandler, IncomingEvent, Payload, Socket};
use crate::router::Namespace;
use crate::router::handler::{AfterConnect, ConnectResult};

/// How long `emit-with-ack` waits for the client's answer.
const ACK_TIMEOUT: Duration = Duration::from_secs(10);

/// The conformance behaviour.
#[derive(Debug, Default)]
pub struct Conformance;

impl EventHandler for Conformance {
    fn on_connect<'a>(&'a self, _: &'a Arc<Namespace>, socket: &'a Socket) -> BoxFuture<'a, ConnectResult> {
        let socket = socket.clone();
        Box::pin(async move {
            let after: AfterConnect = Box::new(move || {
                let _ = socket.emit("auth", Payload::json(vec![socket.handshake().auth.clone()]));
            });
            Ok(Some(after))
        })
    }

    fn on_event<'a>(
        &'a self,
        ns: &'a Arc<Namespace>,
        socket: &'a Socket,
        event: IncomingEvent,
    ) -> BoxFuture<'a, Option<Payload>> {
        Box::pin(async move {
            match event.name.as_str() {
                "message" => {
                    let _ = socket.emit("message-back", event.payload);
                    None
                }
                "message-with-ack" => Some(event.payload),
                "emit-with-ack" => {
                    let socket = socket.clone();
                    ns.spawn(async move {
                        if let Ok(answer) = socket
                            .emit_with_ack("emit-with-ack", event.payload, ACK_TIMEOUT)
                            .await
                        {
                            let _ = socket.emit("emit-with-ack", answer);
                        }
                    });
                    None
                }
                _ => None,
            }
        })
    }
}
