//! Payloads across the contract: an event's argument and its attachments into the
//! `payload` record a plugin receives, and a plugin's payload (an ack, an emit, a
//! validator's output) back into one the gateway sends, checked first: it is output
//! from a plugin.

use bytes::Bytes;
use serde_json::Value;
use serde_json::value::RawValue;

use super::bindings;
use crate::protocol::socketio::{Arg, Payload, placeholder_num};

/// Why a plugin's payload was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    /// JSON and attachments together larger than `max_payload`.
    #[error("payload larger than max_payload")]
    TooLarge,
    /// Not one JSON value.
    #[error("payload is not JSON")]
    NotJson,
    /// A placeholder whose attachment is not there (the client's decoder would
    /// reject the whole packet).
    #[error("placeholder {0} has no attachment")]
    MissingAttachment(usize),
}

/// What a plugin receives for an event whose first argument is `arg` (JSON `null`
/// when there is none), with every attachment of the packet (placeholders count from
/// the packet's first). The argument's text is handed over as it arrived.
pub fn to_plugin(arg: Option<&Arg>, attachments: &[Bytes]) -> bindings::Payload {
    bindings::Payload {
        json: arg.map_or("null", Arg::json).to_owned(),
        attachments: attachments.iter().map(|a| a.to_vec()).collect(),
    }
}

/// A plugin's payload as the one argument of a packet, once checked as [`check`]
/// does. Its JSON text becomes the argument as it is: validated, never parsed into a
/// tree (unless it has attachments, whose placeholders are checked).
pub fn from_plugin(payload: bindings::Payload, max_payload: usize) -> Result<Payload, PayloadError> {
    check_size(&payload, max_payload)?;
    let arg = Arg::from_json(payload.json).map_err(|_| PayloadError::NotJson)?;
    if !payload.attachments.is_empty() {
        check_placeholders(&arg.value(), payload.attachments.len())?;
    }
    Ok(Payload {
        args: vec![arg],
        attachments: payload.attachments.into_iter().map(Bytes::from).collect(),
    })
}

/// Checks a plugin's payload: at most `max_payload` bytes in all, one JSON value, and
/// every placeholder's attachment present.
pub fn check(payload: &bindings::Payload, max_payload: usize) -> Result<(), PayloadError> {
    check_size(payload, max_payload)?;
    if payload.attachments.is_empty() {
        serde_json::from_str::<&RawValue>(&payload.json).map_err(|_| PayloadError::NotJson)?;
        return Ok(());
    }
    let value = serde_json::from_str::<Value>(&payload.json).map_err(|_| PayloadError::NotJson)?;
    check_placeholders(&value, payload.attachments.len())
}

fn check_size(payload: &bindings::Payload, max_payload: usize) -> Result<(), PayloadError> {
    let size = payload
        .attachments
        .iter()
        .fold(payload.json.len(), |sum, a| sum.saturating_add(a.len()));
    if size > max_payload {
        return Err(PayloadError::TooLarge);
    }
    Ok(())
}

/// Every placeholder in `value` points at one of `count` attachments. (Without
/// attachments a packet is not binary and placeholders are plain objects to the
/// client, so there is nothing to check.)
fn check_placeholders(value: &Value, count: usize) -> Result<(), PayloadError> {
    if let Some(num) = placeholder_num(value) {
        return if num < count {
            Ok(())
        } else {
            Err(PayloadError::MissingAttachment(num))
        };
    }
    match value {
        Value::Array(items) => items.iter().try_for_each(|v| check_placeholders(v, count)),
        Value::Object(map) => map.values().try_for_each(|v| check_placeholders(v, count)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn plugin(json: &str, attachments: &[&[u8]]) -> bindings::Payload {
        bindings::Payload {
            json: json.to_owned(),
            attachments: attachments.iter().map(|a| a.to_vec()).collect(),
        }
    }

    #[test]
    fn an_argument_and_its_attachments_reach_the_plugin_as_sent() {
        let arg = Arg::from_json(r#"{"f": {"_placeholder":true,"num":1}}"#.to_owned()).expect("JSON");
        let sent = to_plugin(Some(&arg), &[Bytes::from_static(b"a"), Bytes::from_static(b"")]);
        assert_eq!(
            sent.json, r#"{"f": {"_placeholder":true,"num":1}}"#,
            "the text as it came"
        );
        assert_eq!(sent.attachments, vec![b"a".to_vec(), vec![]]);
        assert_eq!(to_plugin(None, &[]).json, "null");
    }

    #[test]
    fn a_plugin_payload_becomes_one_argument_with_its_attachments() {
        let payload =
            from_plugin(plugin(r#"[{"_placeholder":true,"num":0}]"#, &[b"\x00\xff"]), 100).expect("ok");
        assert_eq!(payload.args, vec![json!([{"_placeholder": true, "num": 0}])]);
        assert_eq!(payload.attachments, vec![Bytes::from_static(b"\x00\xff")]);
    }

    #[test]
    fn a_bad_plugin_payload_is_refused_with_its_reason() {
        let cases = [
            (plugin("{oops", &[]), 8, PayloadError::NotJson),
            (plugin(r#""12345678""#, &[]), 8, PayloadError::TooLarge),
            (plugin(r#""1""#, &[b"12345678"]), 8, PayloadError::TooLarge),
            (
                plugin(r#"{"a":[{"_placeholder":true,"num":1}]}"#, &[b"x"]),
                100,
                PayloadError::MissingAttachment(1),
            ),
        ];
        for (payload, max, expected) in cases {
            assert_eq!(from_plugin(payload.clone(), max), Err(expected), "{payload:?}");
        }
    }

    #[test]
    fn a_plugin_payload_is_spliced_as_its_text() {
        let payload = from_plugin(plugin(r#" {"b":1, "a" : [2.50]} "#, &[]), 100).expect("ok");
        assert_eq!(
            payload.args[0].json(),
            r#"{"b":1, "a" : [2.50]}"#,
            "only the outer spaces trimmed"
        );
    }

    #[test]
    fn check_applies_the_same_rules() {
        assert_eq!(check(&plugin("[1]", &[]), 8), Ok(()));
        assert_eq!(check(&plugin("[1", &[]), 8), Err(PayloadError::NotJson));
        assert_eq!(
            check(&plugin(r#""123456789""#, &[]), 8),
            Err(PayloadError::TooLarge)
        );
        assert_eq!(
            check(&plugin(r#"{"_placeholder":true,"num":1}"#, &[b"x"]), 100),
            Err(PayloadError::MissingAttachment(1))
        );
    }

    #[test]
    fn placeholders_without_attachments_are_plain_objects() {
        let payload = from_plugin(plugin(r#"{"_placeholder":true,"num":4}"#, &[]), 100).expect("ok");
        assert!(payload.attachments.is_empty());
    }
}
