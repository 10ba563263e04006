//! `{event, data}` framing: any text decodes or fails cleanly, and a decoded message
//! encodes to JSON that decodes to the same message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portico_protocol::native::{decode, encode};
use portico_protocol::socketio::Payload;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(message) = decode(text) else { return };
    let encoded = encode(&message.event, &Payload::args(vec![message.data.clone()]));
    let back = decode(std::str::from_utf8(&encoded).expect("JSON is UTF-8")).expect("round trip");
    assert_eq!(back, message);
});
