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
//! Read from the adapter's own source (`lib/adapter.ts` of
//! `@socket.io/redis-streams-adapter` 0.3.1); the tests' samples were recorded from two
//! real Node 4.8 nodes on one Redis.
//!
//! - `message`: the message types and their `data`;
//! - `session`: stored sessions and offsets;
//! - this module: the stream and channel names, and a message as a stream entry or as
//!   published.

mod message;
mod session;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

pub use message::{Envelope, Flags, Message, Route};
pub use session::{SessionRecord, decode_session, encode_session, is_offset, next_offset, session_key};

use super::{WireError, msgpack};

/// The stream's name, Node's default (`streamName`).
pub const STREAM: &str = "socket.io";
/// How many entries the stream keeps, roughly (`maxLen`).
pub const MAX_LEN: usize = 10_000;
/// What a session's key starts with (`sessionKeyPrefix`).
pub const SESSION_PREFIX: &str = "sio:session:";

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
