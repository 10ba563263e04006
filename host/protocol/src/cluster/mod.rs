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
//!
//! [`streams`] is the other format, `@socket.io/redis-streams-adapter`'s.

mod broadcast;
pub mod msgpack;
mod request;
mod response;
pub mod streams;
#[cfg(test)]
mod tests;

pub use broadcast::{Broadcast, decode_broadcast, encode_broadcast};
pub use request::{Request, RequestMessage, SocketOp, decode_request, encode_request};
pub use response::{RemoteSocket, Response, ResponseBody, decode_response, encode_response};

use std::sync::Arc;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::Value;

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
pub(crate) fn rooms<'de, D: serde::Deserializer<'de>>(de: D) -> Result<Vec<Arc<str>>, D::Error> {
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

/// JSON when the first byte is `{`, else MessagePack (with binary as attachments).
pub(crate) fn decode_either(bytes: &[u8]) -> Result<(Value, Vec<Bytes>), WireError> {
    if bytes.first() == Some(&b'{') {
        let value = serde_json::from_slice(bytes).map_err(|e| WireError::Json(e.to_string()))?;
        return Ok((value, Vec::new()));
    }
    let mut attachments = Vec::new();
    let value = msgpack::decode(bytes, &mut attachments)?;
    Ok((value, attachments))
}

pub(crate) fn string_field(value: &Value, key: &str) -> Option<String> {
    match value.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

pub(crate) fn rooms_field(value: &Value, key: &str) -> Result<Vec<Arc<str>>, WireError> {
    rooms(value.get(key).cloned().unwrap_or(Value::Null)).map_err(|_| WireError::Shape("rooms are strings"))
}

pub(crate) fn targets_field(value: &Value) -> Result<Targets, WireError> {
    Targets::deserialize(value.get("opts").cloned().unwrap_or(Value::Null))
        .map_err(|_| WireError::Shape("opts are {rooms, except}"))
}
