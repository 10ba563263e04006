//! The NestJS `WsAdapter` framing: one JSON text frame `{"event": "…", "data": …}` per
//! message in both directions.
//!
//! Socket.IO arguments map onto `data`: one argument is `data` itself, several become
//! an array, none is `null`. Binary attachments have no place in JSON, so they are
//! written the way `JSON.stringify` writes a Node `Buffer`: `{"type":"Buffer","data":[…]}`.

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

use super::socketio::{Arg, Payload, placeholder_num};

/// A decoded client message.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// The event name.
    pub event: String,
    /// The event data as its JSON text, `null` when absent.
    pub data: Arg,
}

/// The wire shape of a client message; `data` is validated, not parsed.
#[derive(Deserialize)]
struct Incoming<'a> {
    event: String,
    #[serde(borrow, default)]
    data: Option<&'a RawValue>,
}

/// The wire shape of a server message, fields in NestJS order.
#[derive(Serialize)]
struct Outgoing<'a> {
    event: &'a str,
    data: &'a Value,
}

/// Why a client frame is not a valid `{event, data}` message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The frame is not JSON.
    #[error("message is not valid JSON")]
    InvalidJson,
    /// The JSON is not an object with a string `event`.
    #[error("message must be an object like {{\"event\": \"name\", \"data\": …}}")]
    NotAMessage,
    /// Binary frames have no meaning in this framing.
    #[error("binary frames are not supported on this endpoint; send JSON text")]
    Binary,
}

/// Decodes one text frame.
pub fn decode(text: &str) -> Result<Message, DecodeError> {
    let message: Incoming<'_> = serde_json::from_str(text).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => DecodeError::NotAMessage,
        _ => DecodeError::InvalidJson,
    })?;
    Ok(Message {
        event: message.event,
        data: message
            .data
            .map_or_else(|| Arg::from_value(&Value::Null), Arg::from_raw),
    })
}

/// Encodes `{"event": event, "data": …}` from Socket.IO-style arguments.
pub fn encode(event: &str, payload: &Payload) -> Bytes {
    if payload.attachments.is_empty() {
        return encode_text(event, &payload.args);
    }
    let mut args: Vec<Value> = payload
        .args
        .iter()
        .map(|arg| inline_attachments(&arg.value(), &payload.attachments))
        .collect();
    let data = match args.len() {
        0 => Value::Null,
        1 => args.pop().unwrap_or(Value::Null),
        _ => Value::Array(args),
    };
    let mut out = Vec::with_capacity(32);
    // Serializing a `&str` and a `Value` into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut out, &Outgoing { event, data: &data });
    Bytes::from(out)
}

/// [`encode`] of arguments without attachments: their text written as it is.
fn encode_text(event: &str, args: &[Arg]) -> Bytes {
    let len = args.iter().map(|a| a.json().len() + 1).sum::<usize>() + event.len() + 24;
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(b"{\"event\":");
    // Serializing a `&str` into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut out, event);
    out.extend_from_slice(b",\"data\":");
    match args {
        [] => out.extend_from_slice(b"null"),
        [one] => out.extend_from_slice(one.json().as_bytes()),
        many => {
            out.push(b'[');
            for (i, arg) in many.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(arg.json().as_bytes());
            }
            out.push(b']');
        }
    }
    out.push(b'}');
    Bytes::from(out)
}

/// Replaces attachment placeholders with Node's `Buffer` JSON shape.
fn inline_attachments(value: &Value, attachments: &[Bytes]) -> Value {
    if attachments.is_empty() {
        return value.clone();
    }
    if let Some(bytes) = placeholder_num(value).and_then(|n| attachments.get(n)) {
        return serde_json::json!({ "type": "Buffer", "data": bytes.as_ref() });
    }
    match value {
        Value::Array(items) => {
            Value::Array(items.iter().map(|v| inline_attachments(v, attachments)).collect())
        }
        Value::Object(obj) => Value::Object(
            obj.iter()
                .map(|(k, v)| (k.clone(), inline_attachments(v, attachments)))
                .collect(),
        ),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::socketio::placeholder;
    use serde_json::json;

    #[test]
    fn decodes_messages() {
        assert_eq!(
            decode(r#"{"event":"send","data":{"text":"hi"}}"#),
            Ok(Message {
                event: "send".into(),
                data: json!({"text": "hi"}).into()
            })
        );
        assert_eq!(
            decode(r#"{"event":"ping"}"#),
            Ok(Message {
                event: "ping".into(),
                data: Value::Null.into()
            })
        );
    }

    #[test]
    fn rejects_what_is_not_a_message() {
        assert_eq!(decode("{"), Err(DecodeError::InvalidJson));
        assert_eq!(decode("[1]"), Err(DecodeError::NotAMessage));
        assert_eq!(decode(r#"{"data":1}"#), Err(DecodeError::NotAMessage));
        assert_eq!(decode(r#"{"event":5}"#), Err(DecodeError::NotAMessage));
    }

    #[test]
    fn encodes_zero_one_and_many_arguments() {
        let enc =
            |args: Vec<Value>| String::from_utf8(encode("e", &Payload::json(args)).to_vec()).expect("utf-8");
        assert_eq!(enc(vec![]), r#"{"event":"e","data":null}"#);
        assert_eq!(enc(vec![json!({"a": 1})]), r#"{"event":"e","data":{"a":1}}"#);
        assert_eq!(enc(vec![json!(1), json!("x")]), r#"{"event":"e","data":[1,"x"]}"#);
    }

    #[test]
    fn inlines_attachments_as_node_buffers() {
        let payload = Payload {
            args: vec![json!({"file": placeholder(0), "keep": placeholder(5)}).into()],
            attachments: vec![Bytes::from_static(&[1, 2])],
        };
        let out: Value = serde_json::from_slice(&encode("f", &payload)).expect("json");
        assert_eq!(
            out,
            json!({"event": "f", "data": {
                "file": {"type": "Buffer", "data": [1, 2]},
                "keep": {"_placeholder": true, "num": 5},
            }})
        );
    }
}
