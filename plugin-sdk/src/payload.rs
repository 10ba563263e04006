//! Payloads as they cross the contract: JSON text plus binary attachments
//! ([`Payload`]), and [`Binary`], the type that puts bytes in a typed payload.
//!
//! Socket.IO sends a `Buffer` as a placeholder `{"_placeholder":true,"num":N}` in the
//! JSON and the bytes beside it. A [`Binary`] field reads its bytes from the call's
//! attachments when [`Ctx::payload`](crate::Ctx::payload) deserializes, and becomes a
//! placeholder plus an attachment when an emit or a reply serializes it:
//!
//! ```
//! use portico_sdk::{Binary, Payload};
//!
//! #[derive(serde::Serialize, serde::Deserialize)]
//! struct Upload { name: String, file: Binary }
//!
//! let out = Payload::from_value(&Upload { name: "a.png".into(), file: Binary::from(vec![1, 2]) }).unwrap();
//! assert_eq!(out.json, r#"{"name":"a.png","file":{"_placeholder":true,"num":0}}"#);
//! assert_eq!(out.attachments, vec![vec![1, 2]]);
//! let back: Upload = out.to_value().unwrap();
//! assert_eq!(&*back.file, &[1, 2]);
//! ```

use std::cell::RefCell;
use std::fmt;
use std::ops::Deref;
use std::rc::Rc;

use serde::de::{self, DeserializeOwned, Deserializer};
use serde::ser::{self, SerializeMap, Serializer};
use serde::{Deserialize, Serialize};

/// One JSON value as text, and the binary attachments its placeholders point at (the
/// N-th at index N). Without binary, `attachments` is empty.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Payload {
    /// The JSON text.
    pub json: String,
    /// The attachments, in placeholder order.
    pub attachments: Vec<Vec<u8>>,
}

impl Payload {
    /// A payload of JSON text that carries no binary.
    pub fn json(json: impl Into<String>) -> Payload {
        Payload {
            json: json.into(),
            attachments: Vec::new(),
        }
    }

    /// `value` serialized; each [`Binary`] in it becomes a placeholder and an attachment.
    pub fn from_value(value: &impl Serialize) -> Result<Payload, serde_json::Error> {
        let previous = OUTGOING.with(|out| out.replace(Some(Vec::new())));
        let json = serde_json::to_string(value);
        let attachments = OUTGOING.with(|out| out.replace(previous)).unwrap_or_default();
        Ok(Payload {
            json: json?,
            attachments,
        })
    }

    /// The payload deserialized; each placeholder read as a [`Binary`] takes its bytes
    /// from the attachments. (This copies the attachments;
    /// [`Ctx::payload`](crate::Ctx::payload) does not.)
    pub fn to_value<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        let attachments = (!self.attachments.is_empty()).then(|| Rc::new(self.attachments.clone()));
        decode(&self.json, attachments.as_ref())
    }
}

/// `json` deserialized, its placeholders read from `attachments` (without any, a
/// [`Binary`] in it is an error).
pub(crate) fn decode<T: DeserializeOwned>(
    json: &str,
    attachments: Option<&Attachments>,
) -> Result<T, serde_json::Error> {
    let previous = INCOMING.with(|inc| inc.replace(attachments.cloned()));
    let value = serde_json::from_str(json);
    INCOMING.with(|inc| inc.replace(previous));
    value
}

impl From<String> for Payload {
    fn from(json: String) -> Payload {
        Payload::json(json)
    }
}

impl From<&str> for Payload {
    fn from(json: &str) -> Payload {
        Payload::json(json)
    }
}

/// Bytes in a typed payload: a Socket.IO `Buffer` (or `ArrayBuffer`, typed array) on
/// the client. It serializes only inside a [`Payload`] (an emit, a reply), where it
/// becomes a placeholder and an attachment.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Binary(pub Vec<u8>);

impl Binary {
    /// The bytes.
    pub fn into_inner(self) -> Vec<u8> {
        self.0
    }
}

impl fmt::Debug for Binary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Binary({} bytes)", self.0.len())
    }
}

impl Deref for Binary {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl From<Vec<u8>> for Binary {
    fn from(bytes: Vec<u8>) -> Binary {
        Binary(bytes)
    }
}

impl From<&[u8]> for Binary {
    fn from(bytes: &[u8]) -> Binary {
        Binary(bytes.to_vec())
    }
}

thread_local! {
    /// Attachments collected while a [`Payload::from_value`] serializes.
    static OUTGOING: RefCell<Option<Vec<Vec<u8>>>> = const { RefCell::new(None) };
    /// The attachments a [`Payload::to_value`] reads from.
    static INCOMING: RefCell<Option<Attachments>> = const { RefCell::new(None) };
}

/// A call's attachments, shared with the deserializer while it runs.
pub(crate) type Attachments = Rc<Vec<Vec<u8>>>;

impl Serialize for Binary {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let num = OUTGOING.with(|out| {
            let mut out = out.borrow_mut();
            let out = out.as_mut()?;
            out.push(self.0.clone());
            Some(out.len() - 1)
        });
        let Some(num) = num else {
            return Err(ser::Error::custom(
                "a Binary is sent only in an emit or a reply (Payload::from_value)",
            ));
        };
        let mut map = serializer.serialize_map(Some(2))?;
        map.serialize_entry("_placeholder", &true)?;
        map.serialize_entry("num", &num)?;
        map.end()
    }
}

impl<'de> Deserialize<'de> for Binary {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Binary, D::Error> {
        #[derive(Deserialize)]
        struct Placeholder {
            #[serde(rename = "_placeholder")]
            placeholder: bool,
            num: usize,
        }
        let Placeholder { placeholder, num } = Placeholder::deserialize(deserializer)?;
        if !placeholder {
            return Err(de::Error::custom("expected binary data"));
        }
        INCOMING
            .with(|inc| {
                let inc = inc.borrow();
                inc.as_ref()?.get(num).cloned()
            })
            .map(Binary)
            .ok_or_else(|| de::Error::custom(format!("expected binary data: attachment {num} is missing")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Files {
        name: String,
        parts: Vec<Binary>,
        empty: Binary,
    }

    #[test]
    fn binary_round_trips_through_a_payload_in_placeholder_order() {
        let files = Files {
            name: "x".into(),
            parts: vec![Binary(vec![1]), Binary(vec![2, 3])],
            empty: Binary(vec![]),
        };
        let payload = Payload::from_value(&files).expect("ok");
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&payload.json).expect("ok"),
            json!({"name": "x", "parts": [{"_placeholder": true, "num": 0}, {"_placeholder": true, "num": 1}], "empty": {"_placeholder": true, "num": 2}})
        );
        assert_eq!(payload.attachments, vec![vec![1], vec![2, 3], vec![]]);
        assert_eq!(payload.to_value::<Files>().expect("ok"), files);
    }

    #[test]
    fn a_placeholder_without_its_attachment_is_an_error_not_empty_bytes() {
        let payload = Payload::json(r#"{"_placeholder":true,"num":3}"#);
        let err = payload.to_value::<Binary>().expect_err("refused");
        assert!(err.to_string().contains("attachment 3 is missing"), "{err}");
        assert!(Payload::json(r#""text""#).to_value::<Binary>().is_err());
    }

    #[test]
    fn a_binary_outside_a_payload_does_not_serialize() {
        assert!(serde_json::to_string(&Binary(vec![1])).is_err());
    }

    #[test]
    fn nested_payloads_keep_their_own_attachments() {
        struct Outer;
        impl Serialize for Outer {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let inner = Payload::from_value(&Binary(vec![9])).map_err(ser::Error::custom)?;
                assert_eq!(inner.attachments, vec![vec![9]]);
                (Binary(vec![7]), inner.json).serialize(s)
            }
        }
        let outer = Payload::from_value(&Outer).expect("ok");
        assert_eq!(outer.attachments, vec![vec![7]]);
    }
}
