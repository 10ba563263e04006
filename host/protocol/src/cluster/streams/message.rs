//! What nodes tell each other: `socket.io-adapter`'s `ClusterMessage` types, and how each
//! is written as `data`.

use std::sync::Arc;

use bytes::Bytes;
use serde_json::{Value, json};

use super::super::broadcast::decode_packet;
use super::super::response::RemoteSocket;
use super::super::{Targets, WireError, rooms_field, string_field, targets_field};
use crate::socketio::Payload;

/// The `socket.io-adapter` message types.
pub(super) mod kind {
    pub const BROADCAST: u64 = 3;
    pub const SOCKETS_JOIN: u64 = 4;
    pub const SOCKETS_LEAVE: u64 = 5;
    pub const DISCONNECT_SOCKETS: u64 = 6;
    pub const FETCH_SOCKETS: u64 = 7;
    pub const FETCH_SOCKETS_RESPONSE: u64 = 8;
    pub const SERVER_SIDE_EMIT: u64 = 9;
    pub const SERVER_SIDE_EMIT_RESPONSE: u64 = 10;
    pub const BROADCAST_CLIENT_COUNT: u64 = 11;
    pub const BROADCAST_ACK: u64 = 12;
}

/// `flags` of a broadcast, as far as they matter to a receiver.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Flags {
    /// Sent `volatile`: dropped by a client that is not ready, never given an offset.
    pub volatile: bool,
    /// How long the sender waits for acknowledgements, in ms.
    pub timeout_ms: Option<u64>,
}

/// What one node tells the others.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// `3`: an event for every socket `targets` addresses; with a request id the
    /// sender waits for each client's acknowledgement (answered with
    /// [`Message::BroadcastClientCount`], then a [`Message::BroadcastAck`] per client).
    Broadcast {
        /// Set when acknowledgements are awaited.
        request_id: Option<String>,
        /// The event name.
        event: String,
        /// Its arguments.
        payload: Payload,
        /// Who receives it.
        targets: Targets,
        /// Its flags.
        flags: Flags,
    },
    /// `4` (`socketsJoin`).
    SocketsJoin {
        /// Who joins.
        targets: Targets,
        /// What they join.
        rooms: Vec<Arc<str>>,
    },
    /// `5` (`socketsLeave`).
    SocketsLeave {
        /// Who leaves.
        targets: Targets,
        /// What they leave.
        rooms: Vec<Arc<str>>,
    },
    /// `6` (`disconnectSockets`).
    DisconnectSockets {
        /// Who is disconnected.
        targets: Targets,
        /// Whether their whole connection closes, not just the namespace.
        close: bool,
    },
    /// `7` (`fetchSockets`).
    FetchSockets {
        /// Correlates the answers.
        request_id: String,
        /// Who is listed.
        targets: Targets,
    },
    /// `8`: one node's answer to [`Message::FetchSockets`].
    FetchSocketsResponse {
        /// The request answered.
        request_id: String,
        /// The answering node's sockets.
        sockets: Vec<RemoteSocket>,
    },
    /// `9` (`serverSideEmit`): `[event, ...args]` for the servers themselves; with a
    /// request id when the sender waits for an answer.
    ServerSideEmit {
        /// Set when an answer is awaited.
        request_id: Option<String>,
        /// `[event, ...args]` (binary arguments as placeholders).
        data: Vec<Value>,
    },
    /// `10`: one node's answer to a [`Message::ServerSideEmit`].
    ServerSideEmitResponse {
        /// The request answered.
        request_id: String,
        /// The first argument its handler answered with.
        packet: Value,
    },
    /// `11`: how many clients a node sent a broadcast with acks to.
    BroadcastClientCount {
        /// The request answered.
        request_id: String,
        /// Clients reached on that node.
        client_count: u64,
    },
    /// `12`: one client's acknowledgement of a broadcast.
    BroadcastAck {
        /// The request answered.
        request_id: String,
        /// The first argument of the client's ack.
        packet: Value,
    },
    /// A type this node does not act on (heartbeats of other adapters, say).
    Other(u64),
}

/// Where a message travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// An entry of the stream: every node sees it, in order, and may replay it.
    Stream,
    /// The public channel: a request.
    Public,
    /// The asker's private channel: an answer.
    Private,
}

/// A message and who sent it, for which namespace.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    /// The sending node.
    pub uid: String,
    /// The namespace.
    pub nsp: String,
    /// What it says.
    pub message: Message,
}

impl Message {
    /// Its type number.
    pub fn kind(&self) -> u64 {
        match self {
            Message::Broadcast { .. } => kind::BROADCAST,
            Message::SocketsJoin { .. } => kind::SOCKETS_JOIN,
            Message::SocketsLeave { .. } => kind::SOCKETS_LEAVE,
            Message::DisconnectSockets { .. } => kind::DISCONNECT_SOCKETS,
            Message::FetchSockets { .. } => kind::FETCH_SOCKETS,
            Message::FetchSocketsResponse { .. } => kind::FETCH_SOCKETS_RESPONSE,
            Message::ServerSideEmit { .. } => kind::SERVER_SIDE_EMIT,
            Message::ServerSideEmitResponse { .. } => kind::SERVER_SIDE_EMIT_RESPONSE,
            Message::BroadcastClientCount { .. } => kind::BROADCAST_CLIENT_COUNT,
            Message::BroadcastAck { .. } => kind::BROADCAST_ACK,
            Message::Other(kind) => *kind,
        }
    }

    /// Where it travels, as the Node adapter sends it.
    pub fn route(&self) -> Route {
        match self {
            Message::Broadcast { request_id: None, .. }
            | Message::SocketsJoin { .. }
            | Message::SocketsLeave { .. }
            | Message::DisconnectSockets { .. }
            | Message::Other(_) => Route::Stream,
            Message::Broadcast { .. } | Message::FetchSockets { .. } | Message::ServerSideEmit { .. } => {
                Route::Public
            }
            Message::FetchSocketsResponse { .. }
            | Message::ServerSideEmitResponse { .. }
            | Message::BroadcastClientCount { .. }
            | Message::BroadcastAck { .. } => Route::Private,
        }
    }

    /// Its `data`, binary as placeholders, and the binary: `None` for a type with none.
    pub(super) fn data(&self) -> Option<(Value, &[Bytes])> {
        let opts = |targets: &Targets, flags: Value| json!({ "rooms": targets.rooms, "except": targets.except, "flags": flags });
        let data = match self {
            Message::Broadcast {
                request_id,
                event,
                payload,
                targets,
                flags,
            } => {
                let mut args = vec![Value::from(event.as_str())];
                args.extend(payload.args.iter().map(crate::socketio::Arg::value));
                let mut flag_values = serde_json::Map::new();
                if flags.volatile {
                    flag_values.insert("volatile".to_owned(), Value::Bool(true));
                }
                if let Some(ms) = flags.timeout_ms {
                    flag_values.insert("timeout".to_owned(), Value::from(ms));
                }
                let mut data = json!({
                    "packet": { "type": 2, "data": args },
                    "opts": opts(targets, Value::Object(flag_values)),
                });
                if let Some(id) = request_id {
                    data["requestId"] = Value::from(id.as_str());
                }
                return Some((data, &payload.attachments));
            }
            Message::SocketsJoin { targets, rooms } | Message::SocketsLeave { targets, rooms } => {
                json!({ "opts": opts(targets, json!({})), "rooms": rooms })
            }
            Message::DisconnectSockets { targets, close } => {
                json!({ "opts": opts(targets, json!({})), "close": close })
            }
            Message::FetchSockets { request_id, targets } => {
                json!({ "opts": opts(targets, json!({})), "requestId": request_id })
            }
            Message::FetchSocketsResponse { request_id, sockets } => {
                json!({ "requestId": request_id, "sockets": sockets })
            }
            Message::ServerSideEmit { request_id, data } => match request_id {
                Some(id) => json!({ "requestId": id, "packet": data }),
                None => json!({ "packet": data }),
            },
            Message::ServerSideEmitResponse { request_id, packet }
            | Message::BroadcastAck { request_id, packet } => {
                json!({ "requestId": request_id, "packet": packet })
            }
            Message::BroadcastClientCount {
                request_id,
                client_count,
            } => json!({ "requestId": request_id, "clientCount": client_count }),
            Message::Other(_) => return None,
        };
        Some((data, &[]))
    }

    /// The message of type `kind` with `data` (binary as placeholders into
    /// `attachments`).
    pub(super) fn from_data(
        kind: u64,
        data: Option<Value>,
        attachments: Vec<Bytes>,
    ) -> Result<Message, WireError> {
        let known = (kind::BROADCAST..=kind::BROADCAST_ACK).contains(&kind);
        let data = match data {
            _ if !known => return Ok(Message::Other(kind)),
            Some(data @ Value::Object(_)) => data,
            _ => return Err(WireError::Shape("a message's data is an object")),
        };
        let request_id = || string_field(&data, "requestId");
        let needs_id = || request_id().ok_or(WireError::Shape("an answer has a requestId"));
        Ok(match kind {
            kind::BROADCAST => {
                let packet = data
                    .get("packet")
                    .cloned()
                    .ok_or(WireError::Shape("a broadcast has a packet"))?;
                let (_, event, payload) = decode_packet(packet, attachments)?;
                let flags = data.pointer("/opts/flags");
                Message::Broadcast {
                    request_id: request_id(),
                    event,
                    payload,
                    targets: targets_field(&data)?,
                    flags: Flags {
                        volatile: flags
                            .and_then(|f| f.get("volatile"))
                            .and_then(Value::as_bool)
                            .unwrap_or(false),
                        timeout_ms: flags.and_then(|f| f.get("timeout")).and_then(Value::as_u64),
                    },
                }
            }
            kind::SOCKETS_JOIN => Message::SocketsJoin {
                targets: targets_field(&data)?,
                rooms: rooms_field(&data, "rooms")?,
            },
            kind::SOCKETS_LEAVE => Message::SocketsLeave {
                targets: targets_field(&data)?,
                rooms: rooms_field(&data, "rooms")?,
            },
            kind::DISCONNECT_SOCKETS => Message::DisconnectSockets {
                targets: targets_field(&data)?,
                close: data.get("close").and_then(Value::as_bool).unwrap_or(false),
            },
            kind::FETCH_SOCKETS => Message::FetchSockets {
                request_id: needs_id()?,
                targets: targets_field(&data)?,
            },
            kind::FETCH_SOCKETS_RESPONSE => Message::FetchSocketsResponse {
                request_id: needs_id()?,
                sockets: serde_json::from_value(data.get("sockets").cloned().unwrap_or(Value::Null))
                    .map_err(|_| WireError::Shape("sockets are [{id, handshake, rooms, data}]"))?,
            },
            kind::SERVER_SIDE_EMIT => match data.get("packet") {
                Some(Value::Array(packet)) if packet.first().is_some_and(Value::is_string) => {
                    Message::ServerSideEmit {
                        request_id: request_id(),
                        data: packet.clone(),
                    }
                }
                _ => return Err(WireError::Shape("a server event is [event, ...args]")),
            },
            kind::SERVER_SIDE_EMIT_RESPONSE => Message::ServerSideEmitResponse {
                request_id: needs_id()?,
                packet: data.get("packet").cloned().unwrap_or(Value::Null),
            },
            kind::BROADCAST_CLIENT_COUNT => Message::BroadcastClientCount {
                request_id: needs_id()?,
                client_count: data
                    .get("clientCount")
                    .and_then(Value::as_u64)
                    .ok_or(WireError::Shape("a client count is a number"))?,
            },
            _ => Message::BroadcastAck {
                request_id: needs_id()?,
                packet: data.get("packet").cloned().unwrap_or(Value::Null),
            },
        })
    }
}
