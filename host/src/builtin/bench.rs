//! The events every server in `cargo xtask bench` offers, built in, so that the
//! benchmark can tell the gateway's cost from a plugin's (`plugins/bench` is the same
//! behaviour as a wasm component):
//!
//! - `echo`: acks its arguments unchanged;
//! - `join {room}`: joins the sender to `room` and acks `{"joined": room}`;
//! - `bcast {room, payload}`: emits `msg` with `payload` to the whole room, sender
//!   included.
//!
//! A malformed command is acked with `{"error": ...}` when an ack was asked for, and
//! ignored otherwise.

use std::sync::Arc;

use serde_json::{Value, json};

use super::{BoxFuture, EventHandler, IncomingEvent, Payload, Socket};
use crate::router::Namespace;
use crate::router::Targets;

/// The benchmark behaviour.
#[derive(Debug, Default)]
pub struct Bench;

impl EventHandler for Bench {
    fn on_event<'a>(
        &'a self,
        ns: &'a Arc<Namespace>,
        socket: &'a Socket,
        event: IncomingEvent,
    ) -> BoxFuture<'a, Option<Payload>> {
        Box::pin(async move {
            let reply = handle(ns, socket, event.name.as_str(), event.payload);
            if event.wants_ack { reply } else { None }
        })
    }
}

fn handle(ns: &Namespace, socket: &Socket, name: &str, mut payload: Payload) -> Option<Payload> {
    match name {
        "echo" => Some(payload),
        "join" => {
            let Some(room) = payload
                .args
                .first()
                .and_then(|c| c.get("room"))
                .and_then(Value::as_str)
            else {
                return Some(error("join needs {\"room\": \"name\"}"));
            };
            ns.join(socket, &[room.into()]);
            Some(Payload::json(vec![json!({ "joined": room })]))
        }
        "bcast" => {
            let Some(Value::Object(mut command)) = payload.args.pop() else {
                return Some(error("bcast needs {\"room\": \"name\", \"payload\": ...}"));
            };
            let (Some(Value::String(room)), Some(data)) = (command.remove("room"), command.remove("payload"))
            else {
                return Some(error("bcast needs {\"room\": \"name\", \"payload\": ...}"));
            };
            let targets = Targets::default().to(room);
            ns.emit(
                &targets,
                "msg",
                Payload {
                    args: vec![data],
                    attachments: payload.attachments,
                },
            );
            None
        }
        other => Some(error(&format!("no such event: {other}"))),
    }
}

fn error(message: &str) -> Payload {
    Payload::json(vec![json!({ "error": message })])
}
