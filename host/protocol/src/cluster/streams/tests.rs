//! The streams adapter's messages, against what Node's adapter wrote (samples recorded
//! from two Node 4.8 nodes with `@socket.io/redis-streams-adapter` 0.3 on one Redis).

use std::sync::Arc;

use bytes::Bytes;
use serde_json::{Value, json};

use super::super::Targets;
use super::*;
use crate::socketio::{Payload, placeholder};

/// `io.to("room1").emit("hello", "world", 1, {nested: true})`, as its entry's `data`.
const NODE_ROOM_BROADCAST: &str = r#"{"packet":{"type":2,"data":["hello","world",1,{"nested":true}]},"opts":{"rooms":["room1"],"except":[],"flags":{}}}"#;
/// `io.emit("bin", Buffer.from([1, 2, 3]), {buf: Buffer.from("hi")})`: base64 MessagePack.
const NODE_BINARY_BROADCAST: &str =
    "gqZwYWNrZXSCpHR5cGUCpGRhdGGTo2JpbsQDAQIDgaNidWbEAmhppG9wdHODpXJvb21zkKZleGNlcHSQpWZsYWdzgA==";
/// The session Node kept for a socket in `room1` with `data: {tag: "c1"}`.
const NODE_SESSION: &str = "hKNzaWS0QlUtWnR6YWZDbVV4TVJySUFBQUGjcGlktHpNZkp3WENYVXFMaFE3YXlBQUFCpXJvb21zkrRCVS1adHphZkNtVXhNUnJJQUFBQaVyb29tMaRkYXRhgaN0YWeiYzE=";

fn entry(uid: &str, kind: &str, data: Option<&str>) -> Vec<(String, String)> {
    let mut fields = vec![
        ("uid".to_owned(), uid.to_owned()),
        ("nsp".to_owned(), "/".to_owned()),
        ("type".to_owned(), kind.to_owned()),
    ];
    if let Some(data) = data {
        fields.push(("data".to_owned(), data.to_owned()));
    }
    fields
}

/// Encodes and decodes `message` both ways it travels; each must give it back.
fn round_trip(message: &Message) {
    let fields = encode_entry("me", "/chat", message);
    let back = decode_entry(&fields).expect("entry decodes");
    assert_eq!((back.uid.as_str(), back.nsp.as_str()), ("me", "/chat"));
    assert_eq!(&back.message, message, "as an entry");
    let published = decode_published(&encode_published("me", "/chat", message)).expect("decodes");
    assert_eq!((published.uid.as_str(), published.nsp.as_str()), ("me", "/chat"));
    assert_eq!(&published.message, message, "as published");
}

#[test]
fn a_node_room_broadcast_entry_decodes_and_ours_has_its_shape() {
    let envelope = decode_entry(&entry("ab203044c378e02f", "3", Some(NODE_ROOM_BROADCAST))).expect("decode");
    assert_eq!(envelope.uid, "ab203044c378e02f");
    let Message::Broadcast {
        request_id,
        event,
        payload,
        targets,
        flags,
    } = &envelope.message
    else {
        panic!("{:?}", envelope.message)
    };
    assert_eq!((request_id, event.as_str()), (&None, "hello"));
    assert_eq!(
        payload.args,
        vec![json!("world"), json!(1), json!({"nested": true})]
    );
    assert_eq!(targets, &Targets::default().to("room1"));
    assert_eq!(flags, &Flags::default());
    assert_eq!(envelope.message.route(), Route::Stream);
    let fields = encode_entry("rust", "/", &envelope.message);
    let names: Vec<&str> = fields.iter().map(|(k, _)| *k).collect();
    assert_eq!(names, ["uid", "nsp", "type", "data"], "Node's field order");
    assert_eq!(fields[2].1, "3", "the type in decimal");
    let ours: Value = serde_json::from_str(&fields[3].1).expect("plain JSON");
    assert_eq!(
        ours,
        serde_json::from_str::<Value>(NODE_ROOM_BROADCAST).expect("json")
    );
}

#[test]
fn a_node_binary_broadcast_keeps_its_buffers_and_ours_is_base64_msgpack() {
    let envelope = decode_entry(&entry("a", "3", Some(NODE_BINARY_BROADCAST))).expect("decode");
    let Message::Broadcast {
        event,
        payload,
        targets,
        ..
    } = &envelope.message
    else {
        panic!("{:?}", envelope.message)
    };
    assert_eq!(event, "bin");
    assert_eq!(
        payload.args,
        vec![placeholder(0), json!({ "buf": placeholder(1) })]
    );
    assert_eq!(
        payload.attachments,
        vec![Bytes::from_static(&[1, 2, 3]), Bytes::from_static(b"hi")]
    );
    assert_eq!(targets, &Targets::default());
    let fields = encode_entry("rust", "/", &envelope.message);
    assert!(
        !fields[3].1.starts_with('{'),
        "binary goes as base64: {}",
        fields[3].1
    );
    let bytes = STANDARD.decode(&fields[3].1).expect("standard base64");
    assert_eq!(
        bytes.len(),
        STANDARD.decode(NODE_BINARY_BROADCAST).expect("b64").len()
    );
    assert_eq!(decode_entry(&fields).expect("decode").message, envelope.message);
}

#[test]
fn node_room_operations_decode() {
    let join = r#"{"opts":{"rooms":["room1"],"except":[],"flags":{}},"rooms":["room2"]}"#;
    let leave = r#"{"opts":{"rooms":["room2"],"except":[],"flags":{}},"rooms":["room2"]}"#;
    let disconnect = r#"{"opts":{"rooms":["nobody-room"],"except":[],"flags":{}},"close":true}"#;
    let decoded = |kind, data| {
        decode_entry(&entry("b", kind, Some(data)))
            .expect("decode")
            .message
    };
    assert_eq!(
        decoded("4", join),
        Message::SocketsJoin {
            targets: Targets::default().to("room1"),
            rooms: vec!["room2".into()],
        }
    );
    assert_eq!(
        decoded("5", leave),
        Message::SocketsLeave {
            targets: Targets::default().to("room2"),
            rooms: vec!["room2".into()],
        }
    );
    assert_eq!(
        decoded("6", disconnect),
        Message::DisconnectSockets {
            targets: Targets::default().to("nobody-room"),
            close: true,
        }
    );
}

/// A message as Node publishes it: keys `type, data, uid, nsp`, `type` an integer.
fn node_published(kind: u64, data: &Value, uid: &str) -> Vec<u8> {
    let mut out = Vec::new();
    msgpack::encode_map_len(&mut out, 4);
    msgpack::encode_str(&mut out, "type");
    msgpack::encode_uint(&mut out, kind);
    msgpack::encode_str(&mut out, "data");
    msgpack::encode(&mut out, data, &[]);
    msgpack::encode_str(&mut out, "uid");
    msgpack::encode_str(&mut out, uid);
    msgpack::encode_str(&mut out, "nsp");
    msgpack::encode_str(&mut out, "/");
    out
}

#[test]
fn node_requests_and_answers_decode() {
    let opts = json!({"rooms": ["room2"], "except": [], "flags": {}});
    let decoded = |kind, data: Value| decode_published(&node_published(kind, &data, "ab20")).expect("decode");
    let fetch = decoded(7, json!({"opts": opts, "requestId": "88321bb285398774"}));
    assert_eq!(fetch.uid, "ab20");
    assert_eq!(
        fetch.message,
        Message::FetchSockets {
            request_id: "88321bb285398774".into(),
            targets: Targets::default().to("room2"),
        }
    );
    assert_eq!(fetch.message.route(), Route::Public);
    let socket = json!({
        "id": "n5yg", "rooms": ["n5yg", "room1"], "data": {"tag": "c2"},
        "handshake": {"address": "127.0.0.1", "issued": 1_796_595_313_000u64, "auth": {}},
    });
    let Message::FetchSocketsResponse { request_id, sockets } =
        decoded(8, json!({"requestId": "8832", "sockets": [socket]})).message
    else {
        panic!("a fetch answer")
    };
    assert_eq!((request_id.as_str(), sockets.len()), ("8832", 1));
    assert_eq!(sockets[0].rooms, vec![Arc::from("n5yg"), Arc::from("room1")]);
    assert_eq!(sockets[0].data, json!({"tag": "c2"}));
    assert_eq!(
        decoded(9, json!({"requestId": "cfcd", "packet": ["ping-sse", 42]})).message,
        Message::ServerSideEmit {
            request_id: Some("cfcd".into()),
            data: vec![json!("ping-sse"), json!(42)],
        }
    );
    assert_eq!(
        decoded(10, json!({"requestId": "cfcd", "packet": {"from": "B", "n": 42}})).message,
        Message::ServerSideEmitResponse {
            request_id: "cfcd".into(),
            packet: json!({"from": "B", "n": 42}),
        }
    );
    let ask = decoded(
        3,
        json!({
            "packet": {"type": 2, "data": ["ask", "q?"]},
            "requestId": "e764",
            "opts": {"rooms": [], "except": [], "flags": {"timeout": 3000}},
        }),
    );
    let Message::Broadcast {
        request_id, flags, ..
    } = &ask.message
    else {
        panic!("a broadcast")
    };
    assert_eq!(
        (request_id.as_deref(), flags.timeout_ms),
        (Some("e764"), Some(3000))
    );
    assert_eq!(ask.message.route(), Route::Public, "with acks: a request");
    let count = decoded(11, json!({"requestId": "e764", "clientCount": 1}));
    assert_eq!(
        count.message,
        Message::BroadcastClientCount {
            request_id: "e764".into(),
            client_count: 1,
        }
    );
    assert_eq!(count.message.route(), Route::Private);
    assert_eq!(
        decoded(12, json!({"requestId": "e764", "packet": "c2-answer"})).message,
        Message::BroadcastAck {
            request_id: "e764".into(),
            packet: json!("c2-answer"),
        }
    );
}

#[test]
fn every_message_round_trips_both_ways() {
    let targets = Targets::default().to("a").to("b").except("c");
    let payload = Payload {
        args: vec![
            json!("x").into(),
            placeholder(0).into(),
            json!({"deep": [placeholder(1)]}).into(),
        ],
        attachments: vec![Bytes::from_static(&[0, 255]), Bytes::new()],
    };
    for message in [
        Message::Broadcast {
            request_id: None,
            event: "news".into(),
            payload: Payload::json(vec![json!({"a": 1}), json!(null)]),
            targets: targets.clone(),
            flags: Flags::default(),
        },
        Message::Broadcast {
            request_id: Some("r1".into()),
            event: "bin".into(),
            payload,
            targets: targets.clone(),
            flags: Flags {
                volatile: true,
                timeout_ms: Some(5000),
            },
        },
        Message::SocketsJoin {
            targets: targets.clone(),
            rooms: vec!["x".into()],
        },
        Message::SocketsLeave {
            targets: Targets::default(),
            rooms: vec!["x".into(), "y".into()],
        },
        Message::DisconnectSockets {
            targets: targets.clone(),
            close: false,
        },
        Message::FetchSockets {
            request_id: "f".into(),
            targets,
        },
        Message::FetchSocketsResponse {
            request_id: "f".into(),
            sockets: vec![],
        },
        Message::ServerSideEmit {
            request_id: None,
            data: vec![json!("tick"), json!([1, 2])],
        },
        Message::ServerSideEmitResponse {
            request_id: "s".into(),
            packet: json!(null),
        },
        Message::BroadcastClientCount {
            request_id: "c".into(),
            client_count: 0,
        },
        Message::BroadcastAck {
            request_id: "c".into(),
            packet: json!([1]),
        },
        Message::Other(2),
    ] {
        round_trip(&message);
    }
}

#[test]
fn types_we_do_not_act_on_pass_and_malformed_messages_are_errors() {
    // Another adapter's heartbeat: no data, harmless.
    assert_eq!(
        decode_entry(&entry("x", "2", None)).expect("decode").message,
        Message::Other(2)
    );
    assert_eq!(
        decode_entry(&entry("x", "13", Some("{}")))
            .expect("decode")
            .message,
        Message::Other(13)
    );
    let bad: &[Vec<(String, String)>] = &[
        entry("x", "three", Some(NODE_ROOM_BROADCAST)),
        entry("x", "3", None),
        entry("x", "3", Some("{not json")),
        entry("x", "3", Some("!!not base64!!")),
        entry("x", "3", Some(r#"{"opts":{}}"#)),
        entry("x", "3", Some(r#"{"packet":{"type":2,"data":[]},"opts":{}}"#)),
        entry("x", "7", Some(r#"{"opts":{}}"#)),
        entry("x", "9", Some(r#"{"packet":[1]}"#)),
        entry("x", "11", Some(r#"{"requestId":"r","clientCount":"many"}"#)),
        entry("x", "4", Some(r#"{"opts":{"rooms":[{}]},"rooms":[]}"#)),
        vec![("uid".into(), "x".into()), ("type".into(), "3".into())],
    ];
    for fields in bad {
        assert!(decode_entry(fields).is_err(), "{fields:?}");
    }
    for bytes in [
        &b""[..],
        &[0x93, 0x01, 0x02, 0x03],
        &[0x81, 0xa4, b't', b'y', b'p', b'e', 0x07],
    ] {
        assert!(decode_published(bytes).is_err(), "{bytes:?}");
    }
    let no_uid = {
        let mut out = Vec::new();
        msgpack::encode(&mut out, &json!({"type": 7, "nsp": "/", "data": {}}), &[]);
        out
    };
    assert!(decode_published(&no_uid).is_err());
}

#[test]
fn a_node_session_decodes_and_ours_decodes_to_the_same() {
    let session = decode_session(NODE_SESSION.as_bytes()).expect("decode");
    assert_eq!(
        session,
        SessionRecord {
            sid: "BU-ZtzafCmUxMRrIAAAA".into(),
            pid: "zMfJwXCXUqLhQ7ayAAAB".into(),
            rooms: vec!["BU-ZtzafCmUxMRrIAAAA".into(), "room1".into()],
            data: json!({"tag": "c1"}),
        }
    );
    assert_eq!(session.key(), "sio:session:zMfJwXCXUqLhQ7ayAAAB");
    let ours = encode_session(&session);
    assert_eq!(
        ours.len(),
        NODE_SESSION.len(),
        "the same bytes, in another key order"
    );
    assert_eq!(decode_session(ours.as_bytes()).expect("decode"), session);
    for bad in [&b"***"[..], b"", &STANDARD.encode([0x93, 1, 2, 3]).into_bytes()] {
        assert!(decode_session(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn offsets_are_entry_ids_and_a_replay_starts_after_one() {
    for good in ["1796595314362-0", "0-0", "1-18446744073709551614"] {
        assert!(is_offset(good), "{good}");
    }
    for bad in [
        "",
        "-",
        "1-",
        "-1",
        "1-2-3",
        "a-1",
        "1-b",
        "1796595314362",
        " 1-1",
        "epoch-7",
    ] {
        assert!(!is_offset(bad), "{bad}");
    }
    assert_eq!(next_offset("1796595314362-0").as_deref(), Some("1796595314362-1"));
    assert_eq!(next_offset("7-41").as_deref(), Some("7-42"));
    assert_eq!(
        next_offset("7-18446744073709551615"),
        None,
        "no id after the last"
    );
    assert_eq!(next_offset("nope"), None);
}

#[test]
fn streams_and_channels_are_named_as_node_names_them() {
    assert_eq!(stream_of(STREAM, 1, "/chat"), "socket.io");
    assert_eq!(stream_of(STREAM, 4, "/"), "socket.io-3", "hashCode(\"/\") = 47");
    assert_eq!(stream_of(STREAM, 4, "/admin"), "socket.io-0", "1438238848 % 4");
    assert_eq!(
        stream_of(STREAM, 4, "/notifications"),
        "socket.io--3",
        "a negative hash"
    );
    let channels = StreamChannels::new("socket.io", "/", "ab203044c378e02f");
    assert_eq!(channels.public, "socket.io#/#");
    assert_eq!(channels.private, "socket.io#/#ab203044c378e02f#");
    assert_eq!(channels.private_of("bbfb"), "socket.io#/#bbfb#");
}
