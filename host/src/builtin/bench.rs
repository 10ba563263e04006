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

use serde::Deserialize;
use serde_json::json;
use serde_json::value::RawValue;

use super::{BoxFuture, EventHandler, IncomingEvent, Payload, Socket};
use crate::protocol::socketio::Arg;
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

/// `join`'s argument.
#[derive(Deserialize)]
struct Join {
    room: String,
}

/// `bcast`'s argument; `payload` is passed on as its text.
#[derive(Deserialize)]
struct Bcast<'a> {
    room: String,
    #[serde(borrow)]
    payload: &'a RawValue,
}

/// The first argument read as `T`, if it is one.
fn first<'a, T: Deserialize<'a>>(payload: &'a Payload) -> Option<T> {
    serde_json::from_str(payload.args.first()?.json()).ok()
}

fn handle(ns: &Namespace, socket: &Socket, name: &str, payload: Payload) -> Option<Payload> {
    match name {
        "echo" => Some(payload),
        "join" => {
            let Some(Join { room }) = first(&payload) else {
                return Some(error("join needs {\"room\": \"name\"}"));
            };
            match ns.client_join(socket, &[room.as_str().into()]) {
                Ok(()) => Some(Payload::json(vec![json!({ "joined": room })])),
                Err(refusal) => Some(Payload::json(vec![json!({ "error": refusal.body() })])),
            }
        }
        "bcast" => {
            let Some(Bcast { room, payload: data }) = first(&payload) else {
                return Some(error("bcast needs {\"room\": \"name\", \"payload\": ...}"));
            };
            let targets = Targets::default().to(room);
            let args = vec![Arg::from_raw(data)];
            ns.emit(
                &targets,
                "msg",
                Payload {
                    args,
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
