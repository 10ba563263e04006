//! WebSocket frames (RFC 6455 §5.2), without I/O.
//!
//! Server frames are never masked, so a frame is a 2–10 byte header followed by the
//! payload. Encoding them here lets a connection's writer append many queued frames
//! to one buffer and hand the kernel a single write. Decoding client frames here (see
//! [`decode`]) lets a connection's reader hold no buffer at all while it is idle.

pub mod decode;
pub mod deflate;

pub use decode::{DecodeError, Header, decode_header, unmask};

/// WebSocket opcodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpCode {
    /// The next fragment of a message.
    Continuation = 0x0,
    /// A UTF-8 text frame.
    Text = 0x1,
    /// A binary frame.
    Binary = 0x2,
    /// A close frame (status code and reason).
    Close = 0x8,
    /// A ping frame.
    Ping = 0x9,
    /// A pong frame, the answer to a ping.
    Pong = 0xA,
}

impl OpCode {
    /// The opcode of a 4-bit value, if RFC 6455 defines it.
    pub fn from_bits(bits: u8) -> Option<OpCode> {
        Some(match bits {
            0x0 => OpCode::Continuation,
            0x1 => OpCode::Text,
            0x2 => OpCode::Binary,
            0x8 => OpCode::Close,
            0x9 => OpCode::Ping,
            0xA => OpCode::Pong,
            _ => return None,
        })
    }

    /// Close, ping and pong: at most 125 bytes, never fragmented.
    pub fn is_control(self) -> bool {
        (self as u8) & 0x8 != 0
    }
}

/// Appends one complete, final, unmasked frame with `payload` to `out`.
pub fn encode(opcode: OpCode, payload: &[u8], out: &mut Vec<u8>) {
    encode_frame(0x80 | opcode as u8, payload, out);
}

/// Appends one complete, final, unmasked frame whose `payload` is a message
/// compressed by permessage-deflate (RSV1 set).
pub fn encode_compressed(opcode: OpCode, payload: &[u8], out: &mut Vec<u8>) {
    encode_frame(0xC0 | opcode as u8, payload, out);
}

fn encode_frame(first: u8, payload: &[u8], out: &mut Vec<u8>) {
    out.push(first);
    let len = payload.len();
    if len < 126 {
        out.push(len as u8);
    } else if let Ok(len16) = u16::try_from(len) {
        out.push(126);
        out.extend_from_slice(&len16.to_be_bytes());
    } else {
        out.push(127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    out.extend_from_slice(payload);
}

/// Appends a close frame carrying `code` and a reason (truncated to fit a control frame).
pub fn encode_close(code: u16, reason: &str, out: &mut Vec<u8>) {
    let mut payload = Vec::with_capacity(2 + reason.len());
    payload.extend_from_slice(&code.to_be_bytes());
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    payload.extend_from_slice(&reason.as_bytes()[..end]);
    encode(OpCode::Close, &payload, out);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(op: OpCode, len: usize) -> Vec<u8> {
        let mut out = Vec::new();
        encode(op, &vec![7u8; len], &mut out);
        out
    }

    #[test]
    fn short_payload_uses_seven_bit_length() {
        let out = frame(OpCode::Text, 5);
        assert_eq!(&out[..2], &[0x81, 5]);
        assert_eq!(out.len(), 7);
    }

    #[test]
    fn boundary_lengths_pick_the_right_form() {
        assert_eq!(frame(OpCode::Binary, 125)[..2], [0x82, 125]);
        assert_eq!(frame(OpCode::Binary, 126)[..4], [0x82, 126, 0, 126]);
        assert_eq!(frame(OpCode::Binary, 65_535)[..4], [0x82, 126, 0xff, 0xff]);
        let big = frame(OpCode::Binary, 65_536);
        assert_eq!(big[..10], [0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0]);
        assert_eq!(big.len(), 10 + 65_536);
    }

    #[test]
    fn control_frames_have_their_opcodes() {
        assert_eq!(frame(OpCode::Ping, 0), [0x89, 0]);
        assert_eq!(frame(OpCode::Pong, 0), [0x8A, 0]);
    }

    #[test]
    fn close_carries_code_and_truncated_reason() {
        let mut out = Vec::new();
        encode_close(1009, "too big", &mut out);
        assert_eq!(
            out,
            [0x88, 9, 0x03, 0xF1, b't', b'o', b'o', b' ', b'b', b'i', b'g']
        );
        let mut long = Vec::new();
        encode_close(1000, &"é".repeat(100), &mut long);
        assert!(
            long[1] as usize <= 125,
            "control frames must stay under 126 bytes"
        );
    }
}
