//! The wire format of Node's `@socket.io/redis-streams-adapter` 0.3 (socket.io-adapter's
//! `ClusterAdapter` messages), so Portico and Node nodes share one Redis stream, and a
//! session one of them kept can be resumed on the other.
//!
//! - What every node must see, in order (broadcasts without acks, `socketsJoin`,
//!   `socketsLeave`, `disconnectSockets`) is an entry of the stream `socket.io`:
//!   `XADD socket.io MAXLEN ~ 10000 * uid <uid> nsp <nsp> type <n> data <data>`, with
//!   `type` in decimal and `data` JSON, or standard base64 of its MessagePack when it
//!   holds binary. The entry's id is the packet's recovery offset.
//! - Requests (a broadcast with acks, `fetchSockets`, `serverSideEmit`) are published
//!   on `socket.io#<nsp>#` as MessagePack `{type, data, uid, nsp}` (`type` an integer
//!   there); answers go to the asker's own `socket.io#<nsp>#<uid>#`. The server count
//!   is `PUBSUB NUMSUB socket.io#<nsp>#`: every node subscribed answers requests.
//! - A disconnected socket's session is `SET sio:session:<pid> <base64 MessagePack
//!   {sid, pid, rooms, data}> PX <maxDisconnectionDuration>`.
//!
//! `../shared/notes/socketio-redis-streams-wire.md` has the samples these tests use.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use serde_json::{Value, json};

use super::broadcast::decode_packet;
use super::response::RemoteSocket;
use super::{Targets, WireError, msgpack, rooms_field, string_field, targets_field};
use crate::socketio::Payload;

/// The stream's name, Node's default (`streamName`).
pub const STREAM: &str = "socket.io";
/// How many entries the stream keeps, roughly (`maxLen`).
pub const MAX_LEN: usize = 10_000;
/// What a session's key starts with (`sessionKeyPrefix`).
pub const SESSION_PREFIX: &str = "sio:session:";

/// The `socket.io-adapter` message types.
mod kind {
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

/// The pub/sub channels of one namespace, for a node with uid `uid`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamChannels {
    /// `socket.io#<nsp>#`: requests to every node; its subscribers are the servers.
    pub public: String,
    /// `socket.io#<nsp>#<uid>#`: answers to this node's requests.
    pub private: String,
}

impl StreamChannels {
    /// The channels of namespace `nsp` under `prefix` (`socket.io`).
    pub fn new(prefix: &str, nsp: &str, uid: &str) -> StreamChannels {
        StreamChannels {
            public: format!("{prefix}#{nsp}#"),
            private: format!("{prefix}#{nsp}#{uid}#"),
        }
    }

    /// Where a node with uid `uid` is answered.
    pub fn private_of(&self, uid: &str) -> String {
        format!("{}{uid}#", self.public)
    }
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
    fn data(&self) -> Option<(Value, &[Bytes])> {
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
    fn from_data(kind: u64, data: Option<Value>, attachments: Vec<Bytes>) -> Result<Message, WireError> {
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

/// The fields of a stream entry for `message` from node `uid`: `uid`, `nsp`, `type`,
/// and `data` when it has any (JSON, or base64 MessagePack when it holds binary).
pub fn encode_entry(uid: &str, nsp: &str, message: &Message) -> Vec<(&'static str, String)> {
    let mut fields = vec![
        ("uid", uid.to_owned()),
        ("nsp", nsp.to_owned()),
        ("type", message.kind().to_string()),
    ];
    if let Some((data, attachments)) = message.data() {
        let data = if attachments.is_empty() {
            data.to_string()
        } else {
            let mut out = Vec::new();
            msgpack::encode(&mut out, &data, attachments);
            STANDARD.encode(out)
        };
        fields.push(("data", data));
    }
    fields
}

/// Decodes a stream entry from its field-value pairs (in any order; unknown fields
/// are ignored).
pub fn decode_entry<K: AsRef<[u8]>, V: AsRef<[u8]>>(fields: &[(K, V)]) -> Result<Envelope, WireError> {
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k.as_ref() == name.as_bytes())
            .map(|(_, v)| v.as_ref())
    };
    let text = |name: &'static str| -> Result<String, WireError> {
        let bytes = field(name).ok_or(WireError::Shape("an entry has uid, nsp and type"))?;
        String::from_utf8(bytes.to_vec()).map_err(|_| WireError::Shape("an entry's fields are text"))
    };
    let uid = text("uid")?;
    let nsp = text("nsp")?;
    let kind: u64 = text("type")?
        .parse()
        .map_err(|_| WireError::Shape("an entry's type is a number"))?;
    let mut attachments = Vec::new();
    let data = match field("data") {
        None => None,
        Some(json) if json.first() == Some(&b'{') => {
            Some(serde_json::from_slice(json).map_err(|e| WireError::Json(e.to_string()))?)
        }
        Some(base64) => {
            let bytes = STANDARD
                .decode(base64)
                .map_err(|_| WireError::Shape("an entry's data is JSON or base64"))?;
            Some(msgpack::decode(&bytes, &mut attachments)?)
        }
    };
    Ok(Envelope {
        uid,
        nsp,
        message: Message::from_data(kind, data, attachments)?,
    })
}

/// A request or an answer as published: MessagePack `{type, data, uid, nsp}`.
pub fn encode_published(uid: &str, nsp: &str, message: &Message) -> Vec<u8> {
    let mut out = Vec::with_capacity(96);
    let data = message.data();
    msgpack::encode_map_len(&mut out, if data.is_some() { 4 } else { 3 });
    msgpack::encode_str(&mut out, "type");
    msgpack::encode_uint(&mut out, message.kind());
    if let Some((data, attachments)) = data {
        msgpack::encode_str(&mut out, "data");
        msgpack::encode(&mut out, &data, attachments);
    }
    msgpack::encode_str(&mut out, "uid");
    msgpack::encode_str(&mut out, uid);
    msgpack::encode_str(&mut out, "nsp");
    msgpack::encode_str(&mut out, nsp);
    out
}

/// Decodes a published request or answer.
pub fn decode_published(bytes: &[u8]) -> Result<Envelope, WireError> {
    let mut attachments = Vec::new();
    let Value::Object(mut value) = msgpack::decode(bytes, &mut attachments)? else {
        return Err(WireError::Shape("a message is {type, data, uid, nsp}"));
    };
    let kind = value
        .get("type")
        .and_then(Value::as_u64)
        .ok_or(WireError::Shape("a message's type is a number"))?;
    let text = |value: Option<Value>| match value {
        Some(Value::String(s)) => Ok(s),
        _ => Err(WireError::Shape("a message has a uid and an nsp")),
    };
    let uid = text(value.remove("uid"))?;
    let nsp = text(value.remove("nsp"))?;
    let data = value.remove("data").filter(|d| !d.is_null());
    Ok(Envelope {
        uid,
        nsp,
        message: Message::from_data(kind, data, attachments)?,
    })
}

/// What a disconnected socket leaves in Redis for its client to resume, on any node.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionRecord {
    /// Its socket id.
    pub sid: String,
    /// Its private session id (the key's suffix).
    pub pid: String,
    /// Its rooms, its own included.
    pub rooms: Vec<Arc<str>>,
    /// `socket.data` (Portico: `{user}`).
    pub data: Value,
}

impl SessionRecord {
    /// Its key, `sio:session:<pid>`.
    pub fn key(&self) -> String {
        session_key(&self.pid)
    }
}

/// The key of session `pid`.
pub fn session_key(pid: &str) -> String {
    format!("{SESSION_PREFIX}{pid}")
}

/// A session as Node stores it: base64 of MessagePack `{sid, pid, rooms, data}`.
pub fn encode_session(session: &SessionRecord) -> String {
    let value = json!({
        "sid": session.sid,
        "pid": session.pid,
        "rooms": session.rooms,
        "data": session.data,
    });
    let mut out = Vec::new();
    msgpack::encode(&mut out, &value, &[]);
    STANDARD.encode(out)
}

/// Decodes a stored session.
pub fn decode_session(stored: &[u8]) -> Result<SessionRecord, WireError> {
    let bytes = STANDARD
        .decode(stored)
        .map_err(|_| WireError::Shape("a session is base64"))?;
    let value = msgpack::decode(&bytes, &mut Vec::new())?;
    let text = |key: &str| string_field(&value, key).ok_or(WireError::Shape("a session has a sid and a pid"));
    Ok(SessionRecord {
        sid: text("sid")?,
        pid: text("pid")?,
        rooms: rooms_field(&value, "rooms")?,
        data: value.get("data").cloned().unwrap_or(Value::Null),
    })
}

/// Whether `offset` is a stream entry id, `<ms>-<seq>` (what Node's restore accepts).
pub fn is_offset(offset: &str) -> bool {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    offset
        .split_once('-')
        .is_some_and(|(ms, seq)| digits(ms) && digits(seq))
}

/// The first id after `offset`, `<ms>-<seq + 1>`: where a replay starts (`XRANGE`'s
/// start is inclusive).
pub fn next_offset(offset: &str) -> Option<String> {
    if !is_offset(offset) {
        return None;
    }
    let (ms, seq) = offset.split_once('-')?;
    let seq: u64 = seq.parse().ok()?;
    Some(format!("{ms}-{}", seq.checked_add(1)?))
}

/// The stream of namespace `nsp` when there are `count` of them (`streamCount`):
/// `STREAM` itself for one, else `<STREAM>-<hashCode(nsp) % count>`, with Java's
/// `hashCode` over UTF-16 units and JavaScript's truncating `%`, as Node names it.
pub fn stream_of(stream: &str, count: u32, nsp: &str) -> String {
    if count <= 1 {
        return stream.to_owned();
    }
    let hash = nsp
        .encode_utf16()
        .fold(0i32, |h, unit| h.wrapping_mul(31).wrapping_add(i32::from(unit)));
    // `count` fits an i32 for any real configuration; clamp rather than wrap.
    let count = i32::try_from(count).unwrap_or(i32::MAX);
    format!("{stream}-{}", hash % count)
}

#[cfg(test)]
mod tests;
