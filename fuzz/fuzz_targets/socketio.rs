//! Socket.IO: a stream of messages (records split on 0x1e; a record starting with
//! 0x00 is a binary attachment) never panics the decoder, and every packet it yields
//! encodes back to frames that decode to the same packet.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use portico_protocol::engineio::Frame;
use portico_protocol::socketio::Decoder;

fuzz_target!(|data: &[u8]| {
    let mut decoder = Decoder::new(8);
    for record in data.split(|b| *b == 0x1e) {
        let result = match record.split_first() {
            Some((0, rest)) => decoder.decode_binary(Bytes::copy_from_slice(rest)),
            _ => match std::str::from_utf8(record) {
                Ok(text) => decoder.decode_text(text),
                Err(_) => continue,
            },
        };
        let packet = match result {
            Ok(Some(packet)) => packet,
            Ok(None) => continue,
            Err(_) => return,
        };
        let frames = packet.encode();
        let mut again = Decoder::new(usize::MAX);
        let mut out = None;
        for frame in &frames {
            out = match frame {
                Frame::Text(t) => {
                    let text = std::str::from_utf8(t).expect("encoder writes UTF-8");
                    again.decode_text(&text[1..]).expect("encoded packet decodes")
                }
                Frame::Binary(b) => again.decode_binary(b.clone()).expect("attachment decodes"),
            };
        }
        assert_eq!(out.as_ref(), Some(&packet));
    }
});
