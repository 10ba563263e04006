//! The default handler: useful for trying Portico and for end-to-end tests.
//!
//! - An event sent with an ack is acked with its own arguments; one sent without is
//!   emitted back to its sender unchanged (attachments included).
//! - `join` (`room` or `[rooms]`) and `leave` (`room`) change the sender's rooms and
//!   ack `{"rooms": [...]}`; `rooms` acks the same without changing anything.
//! - `relay` (`{event, args?, data?, to?, except?, exceptSender?}`) emits `event` to
//!   the namespace, to the `to` rooms (a socket id is a room), minus the `except`
//!   rooms and, with `exceptSender: true`, minus the sender; acks `{"ok": true}`.
//! - `sockets-join` / `sockets-leave` (`{rooms, to?, except?}`) make every socket the
//!   targets address, on every node, join or leave `rooms` (`socketsJoin`); ack
//!   `{"ok": true}`.
//! - `request-ack` (`{event, args?, timeoutMs?}`) emits `event` to the sender with an
//!   ack request and reports the answer as an `ack-result` event: `{"ok": [args]}`
//!   or `{"error": "..."}`.
//! - `disconnect-me` disconnects the socket from the namespace; `drop-transport`
//!   closes the whole connection, as a crashed proxy would (clients reconnect).
//! - A server event from another node (`serverSideEmit`) is emitted, with its
//!   arguments, to this node's sockets of the namespace, and answered with its
//!   arguments (an array).

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use super::{BoxFuture, EventHandler, IncomingEvent, Payload, Socket};
use crate::protocol::socketio::Arg;
use crate::reason::DisconnectReason;
use crate::router::handler::ServerEvent;
use crate::router::{Namespace, Room, Targets};

/// Longest `request-ack` wait a client may ask for.
const MAX_ACK_WAIT: Duration = Duration::from_secs(60);

/// The echo behaviour.
#[derive(Debug, Default)]
pub struct Echo;

impl EventHandler for Echo {
    fn on_event<'a>(
        &'a self,
        ns: &'a Arc<Namespace>,
        socket: &'a Socket,
        event: IncomingEvent,
    ) -> BoxFuture<'a, Option<Payload>> {
        Box::pin(async move { handle(ns, socket, event) })
    }

    fn on_server_event<'a>(
        &'a self,
        ns: &'a Arc<Namespace>,
        event: ServerEvent,
    ) -> BoxFuture<'a, Option<Value>> {
        Box::pin(async move {
            ns.emit_here(
                &Targets::default(),
                &event.name,
                Payload::json(event.args.clone()),
            );
            Some(Value::Array(event.args))
        })
    }
}

fn handle(ns: &Arc<Namespace>, socket: &Socket, event: IncomingEvent) -> Option<Payload> {
    // The first argument, parsed: only the commands read it.
    let first = || event.payload.args.first().map_or(Value::Null, Arg::value);
    match event.name.as_str() {
        "join" => match ns.client_join(socket, &rooms(&first())) {
            Ok(()) => Some(rooms_reply(ns, socket)),
            Err(refusal) => Some(Payload::json(vec![json!({ "error": refusal.body() })])),
        },
        "leave" => {
            if let Some(room) = first().as_str() {
                ns.leave(socket, room);
            }
            Some(rooms_reply(ns, socket))
        }
        "rooms" => Some(rooms_reply(ns, socket)),
        "relay" => Some(Payload::json(vec![relay(
            ns,
            socket,
            &first(),
            event.payload.attachments,
        )])),
        "sockets-join" | "sockets-leave" => Some(Payload::json(vec![sockets_join(
            ns,
            &first(),
            event.name == "sockets-join",
        )])),
        "request-ack" => {
            request_ack(ns, socket, &first(), event.payload.attachments);
            None
        }
        "disconnect-me" => {
            ns.disconnect(socket);
            None
        }
        "drop-transport" => {
            socket.close_connection(DisconnectReason::ForcedClose);
            None
        }
        _ if event.wants_ack => Some(event.payload),
        name => {
            let _ = socket.emit(name, event.payload);
            None
        }
    }
}

/// Room names from a string or an array of strings.
fn rooms(value: &Value) -> Vec<Room> {
    match value {
        Value::String(room) => vec![room.as_str().into()],
        Value::Array(items) => items.iter().filter_map(Value::as_str).map(Room::from).collect(),
        _ => Vec::new(),
    }
}

fn rooms_reply(ns: &Namespace, socket: &Socket) -> Payload {
    let mut rooms: Vec<String> = ns.rooms_of(socket).iter().map(|r| r.to_string()).collect();
    rooms.sort();
    Payload::json(vec![json!({ "rooms": rooms })])
}

/// The arguments of a command: `args` (an array) or `data` (one value).
fn command_args(command: &Value, attachments: Vec<bytes::Bytes>) -> Payload {
    let args = match (command.get("args"), command.get("data")) {
        (Some(Value::Array(args)), _) => args.iter().map(Arg::from_value).collect(),
        (_, Some(data)) => vec![Arg::from_value(data)],
        _ => Vec::new(),
    };
    Payload { args, attachments }
}

fn relay(ns: &Namespace, socket: &Socket, command: &Value, attachments: Vec<bytes::Bytes>) -> Value {
    let Some(name) = command.get("event").and_then(Value::as_str) else {
        return json!({ "error": "relay needs {\"event\": \"name\"}" });
    };
    let mut targets = Targets {
        rooms: command.get("to").map(rooms).unwrap_or_default(),
        except: command.get("except").map(rooms).unwrap_or_default(),
    };
    if command.get("exceptSender") == Some(&Value::Bool(true)) {
        targets.except.push(socket.id().clone());
    }
    ns.emit(&targets, name, command_args(command, attachments));
    json!({ "ok": true })
}

fn sockets_join(ns: &Namespace, command: &Value, join: bool) -> Value {
    let rooms = command.get("rooms").map(rooms).unwrap_or_default();
    let targets = Targets {
        rooms: command.get("to").map(self::rooms).unwrap_or_default(),
        except: command.get("except").map(self::rooms).unwrap_or_default(),
    };
    let adapter = ns.adapter();
    if join {
        adapter.add_sockets(&targets, &rooms);
    } else {
        adapter.del_sockets(&targets, &rooms);
    }
    json!({ "ok": true })
}

fn request_ack(ns: &Namespace, socket: &Socket, command: &Value, attachments: Vec<bytes::Bytes>) {
    let name = command
        .get("event")
        .and_then(Value::as_str)
        .unwrap_or("ack-request")
        .to_owned();
    let wait = command
        .get("timeoutMs")
        .and_then(Value::as_u64)
        .map_or(Duration::from_secs(5), Duration::from_millis)
        .min(MAX_ACK_WAIT);
    let payload = command_args(command, attachments);
    let socket = socket.clone();
    // Awaiting the client here would block this socket's reads, and with them the ack.
    // Tracked by the namespace; ends with the ack, its timeout, or the socket leaving.
    ns.spawn(async move {
        let result = match socket.emit_with_ack(&name, payload, wait).await {
            Ok(answer) => json!({ "ok": answer.values() }),
            Err(err) => json!({ "error": err.to_string() }),
        };
        let _ = socket.emit("ack-result", Payload::json(vec![result]));
    });
}
