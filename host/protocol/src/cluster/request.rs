//! Requests from one node to the others, on `socket.io-request#<nsp>#`.

use std::sync::Arc;

use serde_json::{Value, json};

use super::broadcast::{decode_packet, encode_packet};
use super::{Targets, WireError, decode_either, msgpack, rooms_field, string_field, targets_field};
use crate::socketio::Payload;

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
