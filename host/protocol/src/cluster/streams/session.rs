//! A disconnected socket's session as every node stores it, and the stream offsets a
//! restore starts from.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use super::super::{WireError, msgpack, rooms_field, string_field};
use super::SESSION_PREFIX;

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
