//! Socket.IO v5 packets: `<type>[<attachments>-][<nsp>,][<ack id>][JSON]`.
//!
//! Binary packets (`BINARY_EVENT`, `BINARY_ACK`) keep `{"_placeholder":true,"num":N}`
//! objects in their JSON and carry the attachments beside it; the [`Decoder`] collects
//! the attachments that follow such a packet before yielding it.

use bytes::Bytes;
use serde_json::Value;
use serde_json::value::RawValue;

use super::engineio::Frame;

mod arg;

pub use arg::Arg;

/// Event names Socket.IO keeps for itself (socket.io's `RESERVED_EVENTS`): a client
/// may not send them as events, and a server never emits them.
pub const RESERVED_EVENTS: &[&str] = &[
    "connect",
    "connect_error",
    "disconnect",
    "disconnecting",
    "newListener",
    "removeListener",
];

/// A Socket.IO packet addressed to one namespace.
#[derive(Debug, Clone, PartialEq)]
pub struct Packet {
    /// The namespace, `/` when absent on the wire.
    pub nsp: String,
    /// What the packet carries.
    pub kind: PacketKind,
}

/// The packet types, with their data.
#[derive(Debug, Clone, PartialEq)]
pub enum PacketKind {
    /// `0`: connect to a namespace; from a client the optional `auth` object, from the
    /// server `{"sid": …}`.
    Connect(Option<Value>),
    /// `1`: leave a namespace.
    Disconnect,
    /// `2` or `5`: an event, with an ack id when the sender wants an answer.
    Event(Event),
    /// `3` or `6`: the answer to an event that carried an ack id.
    Ack {
        /// The id of the event being answered.
        id: u64,
        /// The answer's arguments and attachments.
        payload: Payload,
    },
    /// `4`: the server refused a connection (an object or a string).
    ConnectError(Value),
}

/// An event's name, arguments and optional ack id.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// The event name.
    pub name: String,
    /// The arguments after the name, with binary placeholders left in place.
    pub payload: Payload,
    /// The ack id, when the sender expects an acknowledgement.
    pub id: Option<u64>,
}

/// JSON arguments plus the binary attachments their placeholders refer to.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Payload {
    /// JSON arguments as text, possibly containing `{"_placeholder":true,"num":N}`.
    pub args: Vec<Arg>,
    /// Binary attachments, indexed by placeholder `num`.
    pub attachments: Vec<Bytes>,
}

impl Payload {
    /// A payload of JSON arguments without attachments, serialised.
    pub fn json(args: Vec<Value>) -> Payload {
        Payload::args(args.iter().map(Arg::from_value).collect())
    }

    /// A payload of arguments already in text, without attachments.
    pub fn args(args: Vec<Arg>) -> Payload {
        Payload {
            args,
            attachments: Vec::new(),
        }
    }

    /// The arguments, parsed.
    pub fn values(&self) -> Vec<Value> {
        self.args.iter().map(Arg::value).collect()
    }
}

/// Why a packet could not be decoded. Any of these closes the connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The packet type is not a digit 0–6.
    #[error("unknown packet type")]
    UnknownType,
    /// The attachment count of a binary packet is missing or malformed.
    #[error("invalid attachment count")]
    InvalidAttachmentCount,
    /// More attachments announced than the server allows.
    #[error("too many attachments: {0} (limit {1})")]
    TooManyAttachments(usize, usize),
    /// The ack id is not a number that fits in 64 bits.
    #[error("invalid ack id")]
    InvalidAckId,
    /// The data is not valid JSON.
    #[error("invalid JSON payload")]
    InvalidJson,
    /// The JSON is valid but not what this packet type requires.
    #[error("invalid payload for this packet type")]
    InvalidPayload,
    /// A binary frame arrived when no binary packet was waiting for attachments.
    #[error("unexpected binary attachment")]
    UnexpectedBinary,
    /// A text packet arrived while a binary packet still waited for attachments.
    #[error("text packet while reconstructing a binary packet")]
    UnexpectedText,
}

/// Reassembles packets from an ordered stream of text and binary messages.
#[derive(Debug)]
pub struct Decoder {
    max_attachments: usize,
    pending: Option<(Packet, usize)>,
}

impl Decoder {
    /// A decoder refusing packets that announce more than `max_attachments` attachments.
    pub fn new(max_attachments: usize) -> Decoder {
        Decoder {
            max_attachments,
            pending: None,
        }
    }

    /// Feeds a text message; yields a packet unless it waits for attachments.
    pub fn decode_text(&mut self, text: &str) -> Result<Option<Packet>, DecodeError> {
        if self.pending.is_some() {
            return Err(DecodeError::UnexpectedText);
        }
        let (packet, attachments) = parse(text, self.max_attachments)?;
        if attachments == 0 {
            return Ok(Some(packet));
        }
        self.pending = Some((packet, attachments));
        Ok(None)
    }

    /// Feeds a binary attachment; yields the packet once its last attachment arrived.
    pub fn decode_binary(&mut self, data: Bytes) -> Result<Option<Packet>, DecodeError> {
        let (mut packet, expected) = self.pending.take().ok_or(DecodeError::UnexpectedBinary)?;
        let payload = match &mut packet.kind {
            PacketKind::Event(event) => &mut event.payload,
            PacketKind::Ack { payload, .. } => payload,
            _ => return Err(DecodeError::UnexpectedBinary),
        };
        payload.attachments.push(data);
        if payload.attachments.len() == expected {
            return Ok(Some(packet));
        }
        self.pending = Some((packet, expected));
        Ok(None)
    }
}

/// Parses one text packet, returning it and the number of attachments it announces.
fn parse(text: &str, max_attachments: usize) -> Result<(Packet, usize), DecodeError> {
    let bytes = text.as_bytes();
    let kind = match bytes.first() {
        Some(b @ b'0'..=b'6') => b - b'0',
        _ => return Err(DecodeError::UnknownType),
    };
    let mut rest = &text[1..];
    let binary = kind == 5 || kind == 6;

    let mut attachments = 0;
    if binary {
        let (count, after) = rest.split_once('-').ok_or(DecodeError::InvalidAttachmentCount)?;
        if count.is_empty() || !count.bytes().all(|b| b.is_ascii_digit()) {
            return Err(DecodeError::InvalidAttachmentCount);
        }
        attachments = count.parse().map_err(|_| DecodeError::InvalidAttachmentCount)?;
        if attachments > max_attachments {
            return Err(DecodeError::TooManyAttachments(attachments, max_attachments));
        }
        rest = after;
    }

    let mut nsp = "/";
    if rest.starts_with('/') {
        let end = rest.find(',').unwrap_or(rest.len());
        nsp = &rest[..end];
        rest = rest.get(end + 1..).unwrap_or("");
    }

    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let id = if digits > 0 {
        Some(
            rest[..digits]
                .parse::<u64>()
                .map_err(|_| DecodeError::InvalidAckId)?,
        )
    } else {
        None
    };
    rest = &rest[digits..];

    let json_error = |e: serde_json::Error| match e.classify() {
        // Valid JSON, of the wrong shape for the packet type.
        serde_json::error::Category::Data => DecodeError::InvalidPayload,
        _ => match rest.as_bytes()[0] {
            b'[' | b'{' | b'"' => DecodeError::InvalidJson,
            _ if id.is_none() && digits == 0 => DecodeError::InvalidAckId,
            _ => DecodeError::InvalidJson,
        },
    };
    let kind = match kind {
        // Events and acks: an array, validated and split into its elements' text,
        // never built into a tree.
        2 | 3 | 5 | 6 if !rest.is_empty() => {
            let items = serde_json::from_str::<Vec<&RawValue>>(rest).map_err(json_error)?;
            if kind == 2 || kind == 5 {
                let (first, args) = items.split_first().ok_or(DecodeError::InvalidPayload)?;
                let name = match serde_json::from_str::<String>(first.get()) {
                    Ok(name) if !is_reserved_event(&name) => name,
                    _ => return Err(DecodeError::InvalidPayload),
                };
                PacketKind::Event(Event {
                    name,
                    payload: Payload::args(args.iter().map(|a| Arg::from_raw(a)).collect()),
                    id,
                })
            } else {
                PacketKind::Ack {
                    id: id.ok_or(DecodeError::InvalidAckId)?,
                    payload: Payload::args(items.iter().map(|a| Arg::from_raw(a)).collect()),
                }
            }
        }
        _ => {
            let data = if rest.is_empty() {
                None
            } else {
                Some(serde_json::from_str::<Value>(rest).map_err(json_error)?)
            };
            match (kind, data) {
                (0, None) => PacketKind::Connect(None),
                (0, Some(auth @ Value::Object(_))) => PacketKind::Connect(Some(auth)),
                (1, None) => PacketKind::Disconnect,
                (4, Some(err @ (Value::Object(_) | Value::String(_)))) => PacketKind::ConnectError(err),
                _ => return Err(DecodeError::InvalidPayload),
            }
        }
    };
    if id.is_some() && !matches!(kind, PacketKind::Event(_) | PacketKind::Ack { .. }) {
        return Err(DecodeError::InvalidAckId);
    }
    Ok((
        Packet {
            nsp: nsp.to_owned(),
            kind,
        },
        attachments,
    ))
}

impl Packet {
    /// A packet for namespace `nsp`.
    pub fn new(nsp: impl Into<String>, kind: PacketKind) -> Packet {
        Packet {
            nsp: nsp.into(),
            kind,
        }
    }

    /// Encodes the packet into Engine.IO frames: one `4…` text frame, then one binary
    /// frame per attachment.
    pub fn encode(&self) -> Vec<Frame> {
        let mut text = String::with_capacity(64);
        text.push('4');
        let attachments: &[Bytes] = match &self.kind {
            PacketKind::Event(Event { payload, .. }) | PacketKind::Ack { payload, .. } => {
                &payload.attachments
            }
            _ => &[],
        };
        let binary = !attachments.is_empty();
        let type_digit = match (&self.kind, binary) {
            (PacketKind::Connect(_), _) => '0',
            (PacketKind::Disconnect, _) => '1',
            (PacketKind::Event(_), false) => '2',
            (PacketKind::Ack { .. }, false) => '3',
            (PacketKind::ConnectError(_), _) => '4',
            (PacketKind::Event(_), true) => '5',
            (PacketKind::Ack { .. }, true) => '6',
        };
        text.push(type_digit);
        if binary {
            text.push_str(&attachments.len().to_string());
            text.push('-');
        }
        if self.nsp != "/" {
            text.push_str(&self.nsp);
            text.push(',');
        }
        match &self.kind {
            PacketKind::Connect(data) => {
                if let Some(data) = data {
                    text.push_str(&data.to_string());
                }
            }
            PacketKind::Disconnect => {}
            PacketKind::Event(Event { name, payload, id }) => {
                if let Some(id) = id {
                    text.push_str(&id.to_string());
                }
                text.push('[');
                push_json_string(&mut text, name);
                for arg in &payload.args {
                    text.push(',');
                    text.push_str(arg.json());
                }
                text.push(']');
            }
            PacketKind::Ack { id, payload } => {
                text.push_str(&id.to_string());
                text.push('[');
                for (i, arg) in payload.args.iter().enumerate() {
                    if i > 0 {
                        text.push(',');
                    }
                    text.push_str(arg.json());
                }
                text.push(']');
            }
            PacketKind::ConnectError(data) => text.push_str(&data.to_string()),
        }
        let mut frames = Vec::with_capacity(1 + attachments.len());
        frames.push(Frame::Text(Bytes::from(text)));
        frames.extend(attachments.iter().cloned().map(Frame::Binary));
        frames
    }
}

/// Appends `s` as a JSON string literal.
fn push_json_string(out: &mut String, s: &str) {
    let plain = s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\');
    if plain {
        out.push('"');
        out.push_str(s);
        out.push('"');
    } else {
        out.push_str(&Value::String(s.to_owned()).to_string());
    }
}

/// Whether `name` is one of [`RESERVED_EVENTS`].
pub fn is_reserved_event(name: &str) -> bool {
    RESERVED_EVENTS.contains(&name)
}

/// The `{"_placeholder":true,"num":N}` object standing for attachment `num`.
pub fn placeholder(num: usize) -> Value {
    serde_json::json!({ "_placeholder": true, "num": num })
}

/// The attachment index if `value` is a placeholder object.
pub fn placeholder_num(value: &Value) -> Option<usize> {
    let obj = value.as_object()?;
    if obj.get("_placeholder")? != &Value::Bool(true) {
        return None;
    }
    obj.get("num")?.as_u64().and_then(|n| usize::try_from(n).ok())
}

#[cfg(test)]
mod tests;
