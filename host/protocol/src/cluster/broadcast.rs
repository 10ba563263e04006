//! Broadcasts: `[uid, {type: 2, data: [event, ...args], nsp}, {rooms, except, flags}]`.

use bytes::Bytes;
use serde::Deserialize;
use serde_json::Value;

use super::{Targets, WireError, msgpack};
use crate::socketio::Payload;

/// An event published to every node's sockets that `targets` addresses.
#[derive(Debug, Clone, PartialEq)]
pub struct Broadcast {
    /// The publishing node (or [`EMITTER_UID`](super::EMITTER_UID)).
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
pub(super) fn encode_packet(out: &mut Vec<u8>, nsp: &str, event: &str, payload: &Payload) {
    msgpack::encode_map_len(out, 3);
    msgpack::encode_str(out, "type");
    msgpack::encode_uint(out, 2);
    msgpack::encode_str(out, "data");
    msgpack::encode_array_len(out, payload.args.len() + 1);
    msgpack::encode_str(out, event);
    for arg in &payload.args {
        msgpack::encode(out, &arg.value(), &payload.attachments);
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
pub(super) fn decode_packet(
    packet: Value,
    attachments: Vec<Bytes>,
) -> Result<(String, String, Payload), WireError> {
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
            args: data.into_iter().map(crate::socketio::Arg::from).collect(),
            attachments,
        },
    ))
}
