//! Client-to-server frame headers (RFC 6455 §5.2): what a server must check before it
//! reads a payload.
//!
//! [`decode_header`] looks at the first bytes of a buffer and says how long the frame
//! is, or that more bytes are needed; the caller owns the buffer, the reads and the
//! reassembly of fragmented messages.

use super::OpCode;

/// Why a client frame is refused. Each one fails the connection (RFC 6455 §7.1.7).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// RSV1–3 set where no negotiated extension gives them a meaning (RSV1 only
    /// marks the first frame of a compressed message, with permessage-deflate).
    #[error("reserved bits set without a negotiated extension")]
    ReservedBits,
    /// An opcode RFC 6455 reserves.
    #[error("reserved opcode {0:#x}")]
    ReservedOpcode(u8),
    /// Clients must mask every frame (§5.1).
    #[error("client frame is not masked")]
    Unmasked,
    /// A control frame longer than 125 bytes or fragmented (§5.5).
    #[error("control frame fragmented or longer than 125 bytes")]
    BadControl,
    /// A 64-bit length with its top bit set.
    #[error("frame length out of range")]
    BadLength,
    /// A payload over the configured limit.
    #[error("frame of {len} bytes over the {limit}-byte limit")]
    TooLarge {
        /// The frame's payload length.
        len: u64,
        /// The limit.
        limit: usize,
    },
}

/// A decoded frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Whether this is the last frame of its message.
    pub fin: bool,
    /// What the frame carries.
    pub opcode: OpCode,
    /// RSV1: the message it starts is compressed (permessage-deflate).
    pub compressed: bool,
    /// The masking key.
    pub mask: [u8; 4],
    /// Bytes of header before the payload (6 to 14).
    pub header_len: usize,
    /// Bytes of payload.
    pub payload_len: usize,
}

impl Header {
    /// Header and payload together.
    pub fn frame_len(&self) -> usize {
        self.header_len + self.payload_len
    }
}

/// Decodes the header at the start of `buf`: `Ok(None)` if `buf` holds only part of it.
/// Payloads over `max_payload` bytes are refused before they are read. RSV1 is
/// refused unless `deflate` (permessage-deflate was negotiated), and even then on
/// anything but the first frame of a data message (RFC 7692 §6.1).
pub fn decode_header(buf: &[u8], max_payload: usize, deflate: bool) -> Result<Option<Header>, DecodeError> {
    let [b0, b1, rest @ ..] = buf else {
        return Ok(None);
    };
    let compressed = b0 & 0x40 != 0;
    if b0 & 0x30 != 0 || (compressed && !deflate) {
        return Err(DecodeError::ReservedBits);
    }
    let opcode = OpCode::from_bits(b0 & 0x0F).ok_or(DecodeError::ReservedOpcode(b0 & 0x0F))?;
    if compressed && (opcode.is_control() || opcode == OpCode::Continuation) {
        return Err(DecodeError::ReservedBits);
    }
    let fin = b0 & 0x80 != 0;
    if b1 & 0x80 == 0 {
        return Err(DecodeError::Unmasked);
    }
    let (len, ext) = match b1 & 0x7F {
        126 => match rest {
            [a, b, ..] => (u64::from(u16::from_be_bytes([*a, *b])), 2),
            _ => return Ok(None),
        },
        127 => match rest.first_chunk::<8>() {
            Some(bytes) => (u64::from_be_bytes(*bytes), 8),
            None => return Ok(None),
        },
        short => (u64::from(short), 0),
    };
    if opcode.is_control() && (!fin || len > 125) {
        return Err(DecodeError::BadControl);
    }
    if len > i64::MAX as u64 {
        return Err(DecodeError::BadLength);
    }
    if len > max_payload as u64 {
        return Err(DecodeError::TooLarge {
            len,
            limit: max_payload,
        });
    }
    let Some(mask) = rest.get(ext..ext + 4) else {
        return Ok(None);
    };
    Ok(Some(Header {
        fin,
        opcode,
        compressed,
        mask: [mask[0], mask[1], mask[2], mask[3]],
        header_len: 2 + ext + 4,
        payload_len: len as usize,
    }))
}

/// Unmasks (or masks: it is its own inverse) a payload in place.
pub fn unmask(payload: &mut [u8], mask: [u8; 4]) {
    let word = u32::from_ne_bytes(mask);
    let mut chunks = payload.chunks_exact_mut(4);
    for chunk in &mut chunks {
        let mut bytes = [0u8; 4];
        bytes.copy_from_slice(chunk);
        chunk.copy_from_slice(&(u32::from_ne_bytes(bytes) ^ word).to_ne_bytes());
    }
    for (i, byte) in chunks.into_remainder().iter_mut().enumerate() {
        *byte ^= mask[i];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

    /// A masked client frame, as a browser would send it.
    fn client_frame(first: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = vec![first];
        match payload.len() {
            len @ 0..=125 => out.push(0x80 | len as u8),
            len @ 126..=65_535 => {
                out.push(0x80 | 126);
                out.extend_from_slice(&(len as u16).to_be_bytes());
            }
            len => {
                out.push(0x80 | 127);
                out.extend_from_slice(&(len as u64).to_be_bytes());
            }
        }
        out.extend_from_slice(&MASK);
        let mut masked = payload.to_vec();
        unmask(&mut masked, MASK);
        out.extend_from_slice(&masked);
        out
    }

    fn decode(buf: &[u8]) -> Result<Option<Header>, DecodeError> {
        decode_header(buf, 1 << 20, false)
    }

    /// The header of a frame that must decode whole.
    fn header(buf: &[u8]) -> Header {
        decode(buf).expect("a valid frame").expect("a whole header")
    }

    #[test]
    fn the_rfc_example_decodes_and_unmasks() {
        // RFC 6455 §5.7: a single-frame masked text message "Hello".
        let mut frame = vec![0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58];
        let header = header(&frame);
        assert_eq!(
            header,
            Header {
                fin: true,
                opcode: OpCode::Text,
                compressed: false,
                mask: MASK,
                header_len: 6,
                payload_len: 5
            }
        );
        let payload = &mut frame[header.header_len..header.frame_len()];
        unmask(payload, header.mask);
        assert_eq!(payload, b"Hello");
    }

    #[test]
    fn every_length_form_round_trips() {
        for len in [0, 1, 125, 126, 127, 65_535, 65_536, 200_000] {
            let payload: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let mut frame = client_frame(0x82, &payload);
            let header = header(&frame);
            assert_eq!(
                (header.opcode, header.payload_len),
                (OpCode::Binary, len),
                "len {len}"
            );
            assert_eq!(header.frame_len(), frame.len());
            let body = &mut frame[header.header_len..];
            unmask(body, header.mask);
            assert_eq!(body, &payload[..], "len {len}");
        }
    }

    #[test]
    fn a_partial_header_asks_for_more() {
        for len in [5usize, 300, 70_000] {
            let frame = client_frame(0x81, &vec![b'a'; len]);
            let header_len = header(&frame).header_len;
            for cut in 0..header_len {
                assert_eq!(decode(&frame[..cut]), Ok(None), "len {len}, cut {cut}");
            }
            assert!(matches!(decode(&frame[..header_len]), Ok(Some(_))));
        }
    }

    #[test]
    fn fragments_and_continuations_keep_their_flags() {
        let first = header(&client_frame(0x01, b"he"));
        assert_eq!((first.fin, first.opcode), (false, OpCode::Text));
        let last = header(&client_frame(0x80, b"llo"));
        assert_eq!((last.fin, last.opcode), (true, OpCode::Continuation));
    }

    #[test]
    fn protocol_violations_are_refused() {
        assert_eq!(decode(&client_frame(0xC1, b"x")), Err(DecodeError::ReservedBits));
        assert_eq!(
            decode(&client_frame(0x83, b"x")),
            Err(DecodeError::ReservedOpcode(3))
        );
        assert_eq!(
            decode(&client_frame(0x8B, b"x")),
            Err(DecodeError::ReservedOpcode(0xB))
        );
        assert_eq!(decode(&[0x81, 0x05, b'h']), Err(DecodeError::Unmasked));
        assert_eq!(
            decode(&client_frame(0x89, &[0; 126])),
            Err(DecodeError::BadControl)
        );
        assert_eq!(decode(&client_frame(0x09, b"")), Err(DecodeError::BadControl));
        let mut huge = vec![0x82, 0x80 | 127];
        huge.extend_from_slice(&u64::MAX.to_be_bytes());
        assert_eq!(decode(&huge), Err(DecodeError::BadLength));
    }

    #[test]
    fn the_size_limit_applies_before_the_payload_arrives() {
        let frame = client_frame(0x82, &[0; 1000]);
        assert_eq!(
            decode_header(&frame[..8], 999, false),
            Err(DecodeError::TooLarge {
                len: 1000,
                limit: 999
            })
        );
        assert!(matches!(decode_header(&frame, 1000, false), Ok(Some(_))));
    }

    #[test]
    fn rsv1_marks_a_compressed_message_only_once_deflate_is_negotiated() {
        let deflated = |first: u8| decode_header(&client_frame(first, b"x"), 100, true);
        let first = deflated(0xC1).expect("valid").expect("whole");
        assert!(first.compressed && first.fin);
        assert_eq!(first.opcode, OpCode::Text);
        assert!(
            deflated(0x42).expect("valid").expect("whole").compressed,
            "a first fragment"
        );
        assert!(!deflated(0x81).expect("valid").expect("whole").compressed);
        assert_eq!(deflated(0xC0), Err(DecodeError::ReservedBits), "a continuation");
        assert_eq!(deflated(0xC9), Err(DecodeError::ReservedBits), "a ping");
        assert_eq!(deflated(0xA1), Err(DecodeError::ReservedBits), "RSV2");
        assert_eq!(deflated(0x91), Err(DecodeError::ReservedBits), "RSV3");
        assert_eq!(
            decode(&client_frame(0xC1, b"x")),
            Err(DecodeError::ReservedBits),
            "not negotiated"
        );
    }

    #[test]
    fn control_frames_up_to_125_bytes_pass() {
        for first in [0x88, 0x89, 0x8A] {
            let header = header(&client_frame(first, &[1; 125]));
            assert!(header.opcode.is_control());
        }
    }

    #[test]
    fn unmask_is_its_own_inverse_at_any_length() {
        for len in 0..12 {
            let original: Vec<u8> = (0..len).map(|i| i as u8 * 17).collect();
            let mut data = original.clone();
            unmask(&mut data, MASK);
            unmask(&mut data, MASK);
            assert_eq!(data, original);
        }
    }
}
