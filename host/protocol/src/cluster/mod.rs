//! The wire format of Node's `@socket.io/redis-adapter` 8.x (classic pub/sub) and
//! `@socket.io/redis-emitter` 5.x, so Portico nodes, Node nodes and emitters share one
//! Redis.
//!
//! Per namespace `nsp`, with the key prefix `socket.io`:
//! - broadcasts on `socket.io#<nsp>#`, or `socket.io#<nsp>#<room>#` when exactly one
//!   room is targeted (receivers `PSUBSCRIBE socket.io#<nsp>#*`): MessagePack
//!   `[uid, {type: 2, data: [event, ...args], nsp}, {rooms, except, flags}]`;
//! - requests on `socket.io-request#<nsp>#`, JSON when the first byte is `{`, else
//!   MessagePack (a broadcast that wants acks);
//! - responses on `socket.io-response#<nsp>#`, in the same two encodings.
//!
//! A node ignores broadcasts carrying its own uid; the emitter's uid is `emitter`, and
//! its room operations carry none.

pub mod msgpack;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::socketio::Payload;

/// The key prefix of every channel, Node's default (`key` option).
pub const DEFAULT_PREFIX: &str = "socket.io";
/// The uid `@socket.io/redis-emitter` puts on what it publishes.
pub const EMITTER_UID: &str = "emitter";

/// Who a broadcast (or a room change, or a disconnect) addresses: Socket.IO's `to` /
/// `except` operators, as the adapters' `{rooms, except}`. A socket is addressed by
/// its own room, a user by `user:<sub>`, and "everyone but the sender" excepts the
/// sender's own room, as Socket.IO does.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Targets {
    /// Rooms whose members are addressed; empty means the whole namespace.
    #[serde(default, deserialize_with = "rooms")]
    pub rooms: Vec<Arc<str>>,
    /// Rooms whose members are not.
    #[serde(default, deserialize_with = "rooms")]
    pub except: Vec<Arc<str>>,
}

impl Targets {
    /// Adds a room to send to.
    pub fn to(mut self, room: impl Into<Arc<str>>) -> Targets {
        self.rooms.push(room.into());
        self
    }

    /// Adds a room to leave out.
    pub fn except(mut self, room: impl Into<Arc<str>>) -> Targets {
        self.except.push(room.into());
        self
    }

    /// Leaves out one socket (its own room).
    pub fn except_socket(self, sid: Arc<str>) -> Targets {
        self.except(sid)
    }
}

/// Room names as Node has them: strings, or numbers (a room may be any JavaScript
/// value; numbers are the other kind seen), read as their decimal form.
fn rooms<'de, D: serde::Deserializer<'de>>(de: D) -> Result<Vec<Arc<str>>, D::Error> {
    let values = Option::<Vec<Value>>::deserialize(de)?.unwrap_or_default();
    values
        .into_iter()
        .map(|v| match v {
            Value::String(s) => Ok(Arc::from(s)),
            Value::Number(n) => Ok(Arc::from(n.to_string())),
            _ => Err(serde::de::Error::custom("a room is a string or a number")),
        })
        .collect()
}

/// Why a message from Redis was not understood. The message is dropped; nothing else
/// is affected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// Not valid MessagePack.
    #[error("not MessagePack: {0}")]
    Msgpack(#[from] msgpack::MsgpackError),
    /// Not valid JSON.
    #[error("not JSON: {0}")]
    Json(String),
    /// Valid, but not the shape the format has.
    #[error("unexpected shape: {0}")]
    Shape(&'static str),
    /// A request type this format does not define.
    #[error("unknown request type {0}")]
    UnknownType(u64),
}

/// The channels of one namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Channels {
    /// `socket.io#<nsp>#`: broadcasts to several rooms or none.
    pub broadcast: String,
    /// `socket.io-request#<nsp>#`.
    pub request: String,
    /// `socket.io-response#<nsp>#`.
    pub response: String,
}

impl Channels {
    /// The channels of namespace `nsp` under `prefix`.
    pub fn new(prefix: &str, nsp: &str) -> Channels {
        Channels {
            broadcast: format!("{prefix}#{nsp}#"),
            request: format!("{prefix}-request#{nsp}#"),
            response: format!("{prefix}-response#{nsp}#"),
        }
    }

    /// The pattern a node subscribes to for broadcasts.
    pub fn pattern(&self) -> String {
        format!("{}*", self.broadcast)
    }

    /// Where a broadcast to `targets` is published: its room's channel when it targets
    /// exactly one room, so nodes without that room can skip it unread.
    pub fn for_targets(&self, targets: &Targets) -> String {
        match targets.rooms.as_slice() {
            [room] => format!("{}{room}#", self.broadcast),
            _ => self.broadcast.clone(),
        }
    }

    /// The room a broadcast channel names: `Some(None)` for the namespace channel,
    /// `Some(Some(room))` for a room's, `None` when the channel is not this
    /// namespace's.
    pub fn room_of<'c>(&self, channel: &'c str) -> Option<Option<&'c str>> {
        let rest = channel.strip_prefix(self.broadcast.as_str())?;
        if rest.is_empty() {
            return Some(None);
        }
        rest.strip_suffix('#').map(Some)
    }
}

/// An event published to every node's sockets that `targets` addresses.
#[derive(Debug, Clone, PartialEq)]
pub struct Broadcast {
    /// The publishing node (or [`EMITTER_UID`]).
    pub uid: String,
    /// The namespace (`/` when the packet has none).
    pub nsp: String,
    /// The event name.
    pub event: String,
    /// Its arguments.
    pub payload: Payload,
    /// Who receives it.
    pub targets: Targets,
    /// `flags.local`: meant for the publisher's node only (never published by Node,
    /// honoured if seen).
    pub local: bool,
}

/// Encodes a broadcast: `[uid, {type: 2, data: [event, ...args], nsp}, {rooms, except,
/// flags: {}}]`, binary arguments as MessagePack `bin`.
pub fn encode_broadcast(uid: &str, nsp: &str, event: &str, payload: &Payload, targets: &Targets) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    msgpack::encode_array_len(&mut out, 3);
    msgpack::encode_str(&mut out, uid);
    encode_packet(&mut out, nsp, event, payload);
    msgpack::encode_map_len(&mut out, 3);
    for (key, rooms) in [("rooms", &targets.rooms), ("except", &targets.except)] {
        msgpack::encode_str(&mut out, key);
        msgpack::encode_array_len(&mut out, rooms.len());
        for room in rooms {
            msgpack::encode_str(&mut out, room);
        }
    }
    msgpack::encode_str(&mut out, "flags");
    msgpack::encode_map_len(&mut out, 0);
    out
}

/// `{type: 2, data: [event, ...args], nsp}`.
fn encode_packet(out: &mut Vec<u8>, nsp: &str, event: &str, payload: &Payload) {
    msgpack::encode_map_len(out, 3);
    msgpack::encode_str(out, "type");
    msgpack::encode_uint(out, 2);
    msgpack::encode_str(out, "data");
    msgpack::encode_array_len(out, payload.args.len() + 1);
    msgpack::encode_str(out, event);
    for arg in &payload.args {
        msgpack::encode(out, arg, &payload.attachments);
    }
    msgpack::encode_str(out, "nsp");
    msgpack::encode_str(out, nsp);
}

/// Decodes a broadcast.
pub fn decode_broadcast(bytes: &[u8]) -> Result<Broadcast, WireError> {
    let mut attachments = Vec::new();
    let value = msgpack::decode(bytes, &mut attachments)?;
    let Value::Array(mut parts) = value else {
        return Err(WireError::Shape("a broadcast is [uid, packet, opts]"));
    };
    if parts.len() < 3 {
        return Err(WireError::Shape("a broadcast is [uid, packet, opts]"));
    }
    let opts = parts.swap_remove(2);
    let packet = parts.swap_remove(1);
    let uid = match parts.swap_remove(0) {
        Value::String(uid) => uid,
        _ => return Err(WireError::Shape("the uid is a string")),
    };
    let (nsp, event, payload) = decode_packet(packet, attachments)?;
    let local = opts
        .pointer("/flags/local")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let targets = Targets::deserialize(opts).map_err(|_| WireError::Shape("opts are {rooms, except}"))?;
    Ok(Broadcast {
        uid,
        nsp,
        event,
        payload,
        targets,
        local,
    })
}

/// `{type: 2 | 5, data: [event, ...args], nsp?}` → namespace, event, arguments.
fn decode_packet(packet: Value, attachments: Vec<Bytes>) -> Result<(String, String, Payload), WireError> {
    let Value::Object(mut packet) = packet else {
        return Err(WireError::Shape("a packet is an object"));
    };
    if !matches!(packet.get("type").and_then(Value::as_u64), Some(2 | 5)) {
        return Err(WireError::Shape("a broadcast packet is an EVENT"));
    }
    let nsp = match packet.remove("nsp") {
        Some(Value::String(nsp)) => nsp,
        None | Some(Value::Null) => "/".to_owned(),
        Some(_) => return Err(WireError::Shape("nsp is a string")),
    };
    let Some(Value::Array(mut data)) = packet.remove("data") else {
        return Err(WireError::Shape("packet data is [event, ...args]"));
    };
    if data.is_empty() {
        return Err(WireError::Shape("packet data is [event, ...args]"));
    }
    let Value::String(event) = data.remove(0) else {
        return Err(WireError::Shape("the event name is a string"));
    };
    Ok((
        nsp,
        event,
        Payload {
            args: data,
            attachments,
        },
    ))
}

/// A request from one node to the others, and who sent it.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestMessage {
    /// The sender's uid; none from the emitter's room operations.
    pub uid: Option<String>,
    /// What is asked.
    pub request: Request,
}

/// The requests of `@socket.io/redis-adapter`, by their `type`.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// `0` (`sockets(rooms)`, legacy): the ids of the sockets in `rooms`.
    Sockets {
        /// Correlates the responses.
        request_id: String,
        /// Empty: every socket.
        rooms: Vec<Arc<str>>,
    },
    /// `1`: every room of every node.
    AllRooms {
        /// Correlates the responses.
        request_id: String,
    },
    /// `2` with `opts` (`socketsJoin`): the sockets `targets` addresses join `rooms`.
    Join {
        /// Who joins.
        targets: Targets,
        /// What they join.
        rooms: Vec<Arc<str>>,
    },
    /// `3` with `opts` (`socketsLeave`).
    Leave {
        /// Who leaves.
        targets: Targets,
        /// What they leave.
        rooms: Vec<Arc<str>>,
    },
    /// `4` with `opts` (`disconnectSockets`).
    Disconnect {
        /// Who is disconnected.
        targets: Targets,
        /// Whether their whole connection closes, not just the namespace.
        close: bool,
    },
    /// `2`, `3`, `4` with a `sid` (the 7.x `remoteJoin` / `remoteLeave` /
    /// `remoteDisconnect` of one socket), answered once done.
    OneSocket {
        /// Correlates the response.
        request_id: Option<String>,
        /// The socket.
        sid: String,
        /// What happens to it.
        op: SocketOp,
    },
    /// `5` (`fetchSockets`): the sockets `targets` addresses.
    Fetch {
        /// Correlates the responses.
        request_id: String,
        /// Who is listed.
        targets: Targets,
    },
    /// `6` (`serverSideEmit`): an event for the servers themselves; with a request id
    /// when the sender waits for an answer.
    ServerSideEmit {
        /// Set when an acknowledgement is expected.
        request_id: Option<String>,
        /// `[event, ...args]`.
        data: Vec<Value>,
    },
    /// `7`: a broadcast whose sender waits for the clients' acknowledgements.
    BroadcastWithAck {
        /// Correlates the client counts and acks.
        request_id: String,
        /// The event name.
        event: String,
        /// Its arguments.
        payload: Payload,
        /// Who receives it.
        targets: Targets,
        /// How long the sender waits, when it said (`flags.timeout`, ms).
        timeout_ms: Option<u64>,
    },
}

/// What a one-socket request does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SocketOp {
    /// Join a room.
    Join(Arc<str>),
    /// Leave a room.
    Leave(Arc<str>),
    /// Disconnect (`close`: the whole connection).
    Disconnect(bool),
}

/// JSON when the first byte is `{`, else MessagePack (with binary as attachments).
fn decode_either(bytes: &[u8]) -> Result<(Value, Vec<Bytes>), WireError> {
    if bytes.first() == Some(&b'{') {
        let value = serde_json::from_slice(bytes).map_err(|e| WireError::Json(e.to_string()))?;
        return Ok((value, Vec::new()));
    }
    let mut attachments = Vec::new();
    let value = msgpack::decode(bytes, &mut attachments)?;
    Ok((value, attachments))
}

fn string_field(value: &Value, key: &str) -> Option<String> {
    match value.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn rooms_field(value: &Value, key: &str) -> Result<Vec<Arc<str>>, WireError> {
    rooms(value.get(key).cloned().unwrap_or(Value::Null)).map_err(|_| WireError::Shape("rooms are strings"))
}

fn targets_field(value: &Value) -> Result<Targets, WireError> {
    Targets::deserialize(value.get("opts").cloned().unwrap_or(Value::Null))
        .map_err(|_| WireError::Shape("opts are {rooms, except}"))
}

/// Decodes a request.
pub fn decode_request(bytes: &[u8]) -> Result<RequestMessage, WireError> {
    let (mut value, attachments) = decode_either(bytes)?;
    if !value.is_object() {
        return Err(WireError::Shape("a request is an object"));
    }
    let uid = string_field(&value, "uid");
    let request_id = string_field(&value, "requestId");
    let need_id = || {
        request_id
            .clone()
            .ok_or(WireError::Shape("this request needs a requestId"))
    };
    let ty = value
        .get("type")
        .and_then(Value::as_u64)
        .ok_or(WireError::Shape("a request has a numeric type"))?;
    let has_opts = value.get("opts").is_some_and(Value::is_object);
    let request = match ty {
        0 => Request::Sockets {
            request_id: need_id()?,
            rooms: rooms_field(&value, "rooms")?,
        },
        1 => Request::AllRooms {
            request_id: need_id()?,
        },
        2 if has_opts => Request::Join {
            targets: targets_field(&value)?,
            rooms: rooms_field(&value, "rooms")?,
        },
        3 if has_opts => Request::Leave {
            targets: targets_field(&value)?,
            rooms: rooms_field(&value, "rooms")?,
        },
        4 if has_opts => Request::Disconnect {
            targets: targets_field(&value)?,
            close: value.get("close").and_then(Value::as_bool).unwrap_or(false),
        },
        2..=4 => {
            let sid =
                string_field(&value, "sid").ok_or(WireError::Shape("a one-socket request has a sid"))?;
            let room = || {
                string_field(&value, "room")
                    .map(Arc::from)
                    .ok_or(WireError::Shape("a remote join or leave has a room"))
            };
            let op = match ty {
                2 => SocketOp::Join(room()?),
                3 => SocketOp::Leave(room()?),
                _ => SocketOp::Disconnect(value.get("close").and_then(Value::as_bool).unwrap_or(false)),
            };
            Request::OneSocket { request_id, sid, op }
        }
        5 => Request::Fetch {
            request_id: need_id()?,
            targets: targets_field(&value)?,
        },
        6 => match value.get_mut("data").map(Value::take) {
            Some(Value::Array(data)) => Request::ServerSideEmit { request_id, data },
            _ => return Err(WireError::Shape("a server-side emit has data [event, ...args]")),
        },
        7 => {
            let timeout_ms = value.pointer("/opts/flags/timeout").and_then(Value::as_u64);
            let targets = targets_field(&value)?;
            let packet = value.get_mut("packet").map(Value::take).unwrap_or(Value::Null);
            let (_, event, payload) = decode_packet(packet, attachments)?;
            Request::BroadcastWithAck {
                request_id: need_id()?,
                event,
                payload,
                targets,
                timeout_ms,
            }
        }
        other => return Err(WireError::UnknownType(other)),
    };
    Ok(RequestMessage { uid, request })
}

/// Encodes a request as Node's adapter does: JSON, except a broadcast with acks
/// (MessagePack, so binary arguments stay binary).
pub fn encode_request(uid: &str, request: &Request, nsp: &str) -> Vec<u8> {
    let value = match request {
        Request::Sockets { request_id, rooms } => {
            json!({ "uid": uid, "requestId": request_id, "type": 0, "rooms": rooms })
        }
        Request::AllRooms { request_id } => json!({ "uid": uid, "requestId": request_id, "type": 1 }),
        Request::Join { targets, rooms } => json!({ "uid": uid, "type": 2, "opts": targets, "rooms": rooms }),
        Request::Leave { targets, rooms } => {
            json!({ "uid": uid, "type": 3, "opts": targets, "rooms": rooms })
        }
        Request::Disconnect { targets, close } => {
            json!({ "uid": uid, "type": 4, "opts": targets, "close": close })
        }
        Request::OneSocket { request_id, sid, op } => {
            let mut v = json!({ "uid": uid, "requestId": request_id, "sid": sid });
            match op {
                SocketOp::Join(room) => {
                    v["type"] = json!(2);
                    v["room"] = json!(room);
                }
                SocketOp::Leave(room) => {
                    v["type"] = json!(3);
                    v["room"] = json!(room);
                }
                SocketOp::Disconnect(close) => {
                    v["type"] = json!(4);
                    v["close"] = json!(close);
                }
            }
            v
        }
        Request::Fetch { request_id, targets } => {
            json!({ "uid": uid, "requestId": request_id, "type": 5, "opts": targets })
        }
        Request::ServerSideEmit { request_id, data } => {
            let mut v = json!({ "uid": uid, "type": 6, "data": data });
            if let Some(id) = request_id {
                v["requestId"] = json!(id);
            }
            v
        }
        Request::BroadcastWithAck {
            request_id,
            event,
            payload,
            targets,
            timeout_ms,
        } => {
            let mut out = Vec::with_capacity(96);
            msgpack::encode_map_len(&mut out, 5);
            msgpack::encode_str(&mut out, "uid");
            msgpack::encode_str(&mut out, uid);
            msgpack::encode_str(&mut out, "requestId");
            msgpack::encode_str(&mut out, request_id);
            msgpack::encode_str(&mut out, "type");
            msgpack::encode_uint(&mut out, 7);
            msgpack::encode_str(&mut out, "packet");
            encode_packet(&mut out, nsp, event, payload);
            msgpack::encode_str(&mut out, "opts");
            let mut opts = json!({ "rooms": targets.rooms, "except": targets.except, "flags": {} });
            if let Some(ms) = timeout_ms {
                opts["flags"]["timeout"] = json!(ms);
            }
            msgpack::encode(&mut out, &opts, &[]);
            return out;
        }
    };
    value.to_string().into_bytes()
}

/// One socket as `fetchSockets()` lists it: what a remote node knows of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RemoteSocket {
    /// Its id.
    pub id: String,
    /// Socket.IO's handshake object: headers, time, address, xdomain, secure, issued,
    /// url, query, auth.
    #[serde(default)]
    pub handshake: Value,
    /// Its rooms, its own included.
    #[serde(default, deserialize_with = "rooms")]
    pub rooms: Vec<Arc<str>>,
    /// `socket.data` (Portico: `{user}`, the verified claims, as the seeds set it).
    #[serde(default)]
    pub data: Value,
}

/// A response to a request, by the request it answers.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    /// The request answered.
    pub request_id: String,
    /// The answer.
    pub body: ResponseBody,
}

/// What a response carries.
#[derive(Debug, Clone, PartialEq)]
pub enum ResponseBody {
    /// To `Fetch`: the responder's sockets.
    Sockets(Vec<RemoteSocket>),
    /// To `Sockets` (legacy): socket ids.
    SocketIds(Vec<String>),
    /// To `AllRooms`: the responder's rooms.
    Rooms(Vec<Arc<str>>),
    /// To a `ServerSideEmit` with a request id: the one argument its handler answered.
    ServerSideEmitAck(Value),
    /// To a `BroadcastWithAck` (type 8): how many clients the responder sent it to.
    ClientCount(u64),
    /// To a `BroadcastWithAck` (type 9): one client's acknowledgement.
    BroadcastAck(Value),
    /// To a one-socket request: done.
    Done,
}

/// Decodes a response.
pub fn decode_response(bytes: &[u8]) -> Result<Response, WireError> {
    let (mut value, _attachments) = decode_either(bytes)?;
    let request_id =
        string_field(&value, "requestId").ok_or(WireError::Shape("a response has a requestId"))?;
    let body = match value.get("type").and_then(Value::as_u64) {
        Some(6) => {
            ResponseBody::ServerSideEmitAck(value.get_mut("data").map(Value::take).unwrap_or(Value::Null))
        }
        Some(8) => ResponseBody::ClientCount(
            value
                .get("clientCount")
                .and_then(Value::as_u64)
                .ok_or(WireError::Shape("a client count is a number"))?,
        ),
        Some(9) => {
            ResponseBody::BroadcastAck(value.get_mut("packet").map(Value::take).unwrap_or(Value::Null))
        }
        _ => match (value.get_mut("sockets").map(Value::take), value.get("rooms")) {
            // A legacy id list; an empty list reads as no sockets either way.
            (Some(Value::Array(sockets)), _)
                if !sockets.is_empty() && sockets.iter().all(Value::is_string) =>
            {
                ResponseBody::SocketIds(
                    sockets
                        .into_iter()
                        .filter_map(|s| s.as_str().map(str::to_owned))
                        .collect(),
                )
            }
            (Some(sockets), _) => ResponseBody::Sockets(
                serde_json::from_value(sockets)
                    .map_err(|_| WireError::Shape("sockets are [{id, handshake, rooms, data}]"))?,
            ),
            (None, Some(_)) => ResponseBody::Rooms(rooms_field(&value, "rooms")?),
            (None, None) => ResponseBody::Done,
        },
    };
    Ok(Response { request_id, body })
}

/// Encodes a response as Node's adapter does (JSON; a client's ack in MessagePack).
pub fn encode_response(response: &Response) -> Vec<u8> {
    let id = &response.request_id;
    let value = match &response.body {
        ResponseBody::Sockets(sockets) => json!({ "requestId": id, "sockets": sockets }),
        ResponseBody::SocketIds(ids) => json!({ "requestId": id, "sockets": ids }),
        ResponseBody::Rooms(rooms) => json!({ "requestId": id, "rooms": rooms }),
        ResponseBody::ServerSideEmitAck(data) => json!({ "type": 6, "requestId": id, "data": data }),
        ResponseBody::ClientCount(n) => json!({ "type": 8, "requestId": id, "clientCount": n }),
        ResponseBody::BroadcastAck(packet) => {
            let mut out = Vec::new();
            msgpack::encode(
                &mut out,
                &json!({ "type": 9, "requestId": id, "packet": packet }),
                &[],
            );
            return out;
        }
        ResponseBody::Done => json!({ "requestId": id }),
    };
    value.to_string().into_bytes()
}
