//! The Redis cluster wire formats: any bytes decode as a broadcast, a request or a
//! response (pub/sub adapter), as a published message, a stream entry's data or a
//! session (streams adapter), or fail cleanly; what decodes re-encodes to what decodes
//! the same; a MessagePack value without binary re-encodes to bytes that decode to the
//! same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portico_protocol::cluster::streams;
use portico_protocol::cluster::{decode_broadcast, decode_request, decode_response, msgpack};

fuzz_target!(|data: &[u8]| {
    let _ = decode_broadcast(data);
    let _ = decode_request(data);
    let _ = decode_response(data);
    if let Ok(envelope) = streams::decode_published(data) {
        let again = streams::encode_published(&envelope.uid, &envelope.nsp, &envelope.message);
        let back = streams::decode_published(&again).expect("our own encoding decodes");
        assert_eq!(back.message.kind(), envelope.message.kind());
    }
    let fields = [("uid", &b"x"[..]), ("nsp", b"/"), ("type", b"3"), ("data", data)];
    if let Ok(envelope) = streams::decode_entry(&fields) {
        let again = streams::encode_entry(&envelope.uid, &envelope.nsp, &envelope.message);
        streams::decode_entry(&again).expect("our own entry decodes");
    }
    let _ = streams::decode_session(data);
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
