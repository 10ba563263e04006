//! Responses to requests, on `socket.io-response#<nsp>#`.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{WireError, decode_either, msgpack, rooms, rooms_field, string_field};

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
