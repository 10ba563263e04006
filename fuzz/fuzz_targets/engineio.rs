//! Engine.IO: any polling body or WebSocket text frame decodes or fails cleanly, and
//! every decoded message survives an encode/decode round trip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portico_protocol::engineio::{Frame, Message, Packet, decode_payload, decode_text, encode_payload};

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = decode_text(text);
    }
    let Ok(packets) = decode_payload(data) else { return };
    let frames: Vec<Frame> = packets
        .iter()
        .filter_map(|p| match p {
            Packet::Message(Message::Text(t)) => Some(Frame::message(t)),
            Packet::Message(Message::Binary(b)) => Some(Frame::Binary(b.clone())),
            _ => None,
        })
        .collect();
    if frames.is_empty() {
        return;
    }
    let mut body = Vec::new();
    encode_payload(&frames, &mut body);
    let back = decode_payload(&body).expect("an encoded payload decodes");
    let expected: Vec<&Packet> = packets
        .iter()
        .filter(|p| matches!(p, Packet::Message(_)))
        .collect();
    assert_eq!(back.iter().collect::<Vec<_>>(), expected);
});
