//! Engine.IO v4: packets, polling payloads, the handshake and request errors.
//!
//! A text packet is its type digit followed by data (`4hello`); a binary message is
//! raw bytes on WebSocket and `b` + base64 inside a polling payload, where packets
//! are joined by the record separator `\x1e`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use serde::Serialize;

/// The polling payload separator (ASCII record separator).
pub const SEPARATOR: u8 = 0x1e;

/// A decoded packet received from a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet {
    /// `0`: only servers send it; decoded for completeness.
    Open(String),
    /// `1`: the client closes the session.
    Close,
    /// `2`: a ping; `2probe` starts a transport upgrade.
    Ping(String),
    /// `3`: the answer to a server ping.
    Pong(String),
    /// `4`: an application message.
    Message(Message),
    /// `5`: the client completes a transport upgrade.
    Upgrade,
    /// `6`: no operation.
    Noop,
}

/// An application message: text or binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A UTF-8 text message.
    Text(String),
    /// A binary message.
    Binary(Bytes),
}

/// One encoded outbound frame, ready for any transport.
///
/// `Text` holds the whole Engine.IO text packet including its type digit (`4…`, `2`,
/// `3probe`); `Binary` holds a binary message's raw bytes. Cloning is a reference-count
/// bump, so one encoded broadcast is shared by every recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A text packet, type digit included.
    Text(Bytes),
    /// A binary message.
    Binary(Bytes),
}

impl Frame {
    /// The `2` ping the server sends every ping interval.
    pub fn ping() -> Frame {
        Frame::Text(Bytes::from_static(b"2"))
    }

    /// The `3probe` answer to an upgrade probe.
    pub fn pong_probe() -> Frame {
        Frame::Text(Bytes::from_static(b"3probe"))
    }

    /// The `6` noop that ends a pending poll.
    pub fn noop() -> Frame {
        Frame::Text(Bytes::from_static(b"6"))
    }

    /// The `1` close packet.
    pub fn close() -> Frame {
        Frame::Text(Bytes::from_static(b"1"))
    }

    /// A `4` text message wrapping `data`.
    pub fn message(data: &str) -> Frame {
        let mut buf = Vec::with_capacity(data.len() + 1);
        buf.push(b'4');
        buf.extend_from_slice(data.as_bytes());
        Frame::Text(Bytes::from(buf))
    }

    /// Size of this frame on the wire, without transport framing.
    pub fn len(&self) -> usize {
        match self {
            Frame::Text(b) | Frame::Binary(b) => b.len(),
        }
    }

    /// Whether the frame carries no bytes at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Why a packet could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The packet was empty.
    #[error("empty packet")]
    Empty,
    /// The first character is not a packet type digit 0–6.
    #[error("unknown packet type {0:?}")]
    UnknownType(char),
    /// A `b`-prefixed polling packet was not valid base64.
    #[error("invalid base64 in binary packet")]
    InvalidBase64,
    /// A polling payload was not valid UTF-8.
    #[error("payload is not valid UTF-8")]
    InvalidUtf8,
}

/// Decodes one text packet (a WebSocket text frame or one polling segment).
pub fn decode_text(text: &str) -> Result<Packet, DecodeError> {
    let mut chars = text.chars();
    let kind = chars.next().ok_or(DecodeError::Empty)?;
    let data = chars.as_str();
    Ok(match kind {
        '0' => Packet::Open(data.to_owned()),
        '1' => Packet::Close,
        '2' => Packet::Ping(data.to_owned()),
        '3' => Packet::Pong(data.to_owned()),
        '4' => Packet::Message(Message::Text(data.to_owned())),
        '5' => Packet::Upgrade,
        '6' => Packet::Noop,
        other => return Err(DecodeError::UnknownType(other)),
    })
}

/// Decodes a polling request body into its packets, in order.
pub fn decode_payload(body: &[u8]) -> Result<Vec<Packet>, DecodeError> {
    let text = std::str::from_utf8(body).map_err(|_| DecodeError::InvalidUtf8)?;
    text.split(SEPARATOR as char)
        .map(|segment| match segment.strip_prefix('b') {
            Some(b64) => BASE64
                .decode(b64)
                .map(|raw| Packet::Message(Message::Binary(Bytes::from(raw))))
                .map_err(|_| DecodeError::InvalidBase64),
            None => decode_text(segment),
        })
        .collect()
}

/// Appends `frames` to `out` as one polling payload.
pub fn encode_payload<'a>(frames: impl IntoIterator<Item = &'a Frame>, out: &mut Vec<u8>) {
    for (i, frame) in frames.into_iter().enumerate() {
        if i > 0 {
            out.push(SEPARATOR);
        }
        match frame {
            Frame::Text(text) => out.extend_from_slice(text),
            Frame::Binary(raw) => {
                out.push(b'b');
                let start = out.len();
                out.resize(start + base64::encoded_len(raw.len(), true).unwrap_or(0), 0);
                let written = BASE64.encode_slice(raw, &mut out[start..]).unwrap_or(0);
                out.truncate(start + written);
            }
        }
    }
}

/// Bytes a frame occupies inside a polling payload (base64 inflates binary).
pub fn payload_len(frame: &Frame) -> usize {
    match frame {
        Frame::Text(text) => text.len(),
        Frame::Binary(raw) => 1 + raw.len().div_ceil(3) * 4,
    }
}

/// The handshake sent as the `0` open packet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Handshake<'a> {
    /// The session id.
    pub sid: &'a str,
    /// Transports the client may upgrade to.
    pub upgrades: &'a [&'a str],
    /// Milliseconds between server pings.
    pub ping_interval: u64,
    /// Milliseconds the server waits for a pong.
    pub ping_timeout: u64,
    /// Largest payload, in bytes, the server accepts.
    pub max_payload: usize,
}

impl Handshake<'_> {
    /// Encodes the `0{…}` open packet.
    pub fn to_frame(&self) -> Frame {
        let mut buf = vec![b'0'];
        // Serializing a struct of strings and integers cannot fail.
        if serde_json::to_writer(&mut buf, self).is_err() {
            buf.truncate(1);
        }
        Frame::Text(Bytes::from(buf))
    }
}

/// The transports a request may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// HTTP long-polling.
    Polling,
    /// WebSocket.
    Websocket,
}

/// The Engine.IO query parameters of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestQuery {
    /// The requested transport.
    pub transport: Transport,
    /// The session id, absent on a handshake.
    pub sid: Option<String>,
}

/// A request the server refuses, with the spec's code and message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// Code 0: the transport is missing or unknown.
    #[error("Transport unknown")]
    UnknownTransport,
    /// Code 1: no session has this id (any more).
    #[error("Session ID unknown")]
    UnknownSid,
    /// Code 2: a handshake must be a GET.
    #[error("Bad handshake method")]
    BadHandshakeMethod,
    /// Code 3: anything else that is malformed or out of order.
    #[error("Bad request")]
    BadRequest,
    /// Code 4: the origin or another policy refused the request.
    #[error("Forbidden")]
    Forbidden,
    /// Code 5: the `EIO` parameter is missing or not `4`.
    #[error("Unsupported protocol version")]
    UnsupportedProtocolVersion,
}

impl RequestError {
    /// A short name for logs and metric labels, like `unknown_sid`.
    pub fn name(self) -> &'static str {
        match self {
            RequestError::UnknownTransport => "unknown_transport",
            RequestError::UnknownSid => "unknown_sid",
            RequestError::BadHandshakeMethod => "bad_handshake_method",
            RequestError::BadRequest => "bad_request",
            RequestError::Forbidden => "forbidden",
            RequestError::UnsupportedProtocolVersion => "unsupported_protocol_version",
        }
    }

    /// The numeric code of the JSON error body.
    pub fn code(self) -> u8 {
        match self {
            RequestError::UnknownTransport => 0,
            RequestError::UnknownSid => 1,
            RequestError::BadHandshakeMethod => 2,
            RequestError::BadRequest => 3,
            RequestError::Forbidden => 4,
            RequestError::UnsupportedProtocolVersion => 5,
        }
    }

    /// The HTTP status: 403 for `Forbidden`, 400 otherwise.
    pub fn status(self) -> u16 {
        match self {
            RequestError::Forbidden => 403,
            _ => 400,
        }
    }

    /// The JSON error body, `{"code":N,"message":"…"}`.
    pub fn body(self) -> String {
        serde_json::json!({ "code": self.code(), "message": self.to_string() }).to_string()
    }
}

/// Parses `transport`, `EIO` and `sid` from a query string.
///
/// Checks happen in the reference server's order: transport first, then version.
pub fn parse_query(query: &str) -> Result<RequestQuery, RequestError> {
    let (mut transport, mut eio, mut sid) = (None, None, None);
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "transport" => transport = Some(value),
            "EIO" => eio = Some(value),
            "sid" => sid = Some(value),
            _ => {}
        }
    }
    let transport = match transport {
        Some("polling") => Transport::Polling,
        Some("websocket") => Transport::Websocket,
        _ => return Err(RequestError::UnknownTransport),
    };
    if eio != Some("4") {
        return Err(RequestError::UnsupportedProtocolVersion);
    }
    let sid = match sid {
        None => None,
        Some(s) if !s.is_empty() && s.bytes().all(is_sid_byte) => Some(s.to_owned()),
        Some(_) => return Err(RequestError::UnknownSid),
    };
    Ok(RequestQuery { transport, sid })
}

/// Bytes a generated session id may contain (URL-safe base64).
fn is_sid_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

#[cfg(test)]
mod tests;
