//! The Redis cluster wire format: any bytes decode as a broadcast, a request or a
//! response, or fail cleanly; a MessagePack value without binary re-encodes to bytes
//! that decode to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portico_protocol::cluster::{decode_broadcast, decode_request, decode_response, msgpack};

fuzz_target!(|data: &[u8]| {
    let _ = decode_broadcast(data);
    let _ = decode_request(data);
    let _ = decode_response(data);
    let mut attachments = Vec::new();
    if let Ok(value) = msgpack::decode(data, &mut attachments)
        && attachments.is_empty()
    {
        let mut again = Vec::new();
        msgpack::encode(&mut again, &value, &[]);
        let mut none = Vec::new();
        assert_eq!(msgpack::decode(&again, &mut none).expect("round trip"), value);
    }
});
