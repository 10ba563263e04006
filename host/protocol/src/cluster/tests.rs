use bytes::Bytes;
use serde_json::{Value, json};

use super::*;
use crate::socketio::Payload;
use crate::socketio::placeholder;

/// What notepack writes for Node's `io.to("r").emit("hi", 1, Buffer.from([7]))` on a
/// node with uid `abc123`: `["abc123", {type: 2, data: ["hi", 1, <Buffer 07>], nsp: "/"},
/// {rooms: ["r"], except: [], flags: {}}]`, byte for byte.
const NODE_BROADCAST: &[u8] = &[
    0x93, 0xa6, b'a', b'b', b'c', b'1', b'2', b'3', // [3] "abc123"
    0x83, 0xa4, b't', b'y', b'p', b'e', 0x02, // {type: 2,
    0xa4, b'd', b'a', b't', b'a', 0x93, 0xa2, b'h', b'i', 0x01, 0xc4, 0x01,
    0x07, // data: ["hi", 1, bin],
    0xa3, b'n', b's', b'p', 0xa1, b'/', // nsp: "/"}
    0x83, 0xa5, b'r', b'o', b'o', b'm', b's', 0x91, 0xa1, b'r', // {rooms: ["r"],
    0xa6, b'e', b'x', b'c', b'e', b'p', b't', 0x90, // except: [],
    0xa5, b'f', b'l', b'a', b'g', b's', 0x80, // flags: {}}
];

#[test]
fn a_node_broadcast_decodes_with_its_binary_and_encodes_back_to_the_same_bytes() {
    let b = decode_broadcast(NODE_BROADCAST).expect("decode");
    assert_eq!(b.uid, "abc123");
    assert_eq!(b.nsp, "/");
    assert_eq!(b.event, "hi");
    assert_eq!(b.payload.args, vec![json!(1), placeholder(0)]);
    assert_eq!(b.payload.attachments, vec![Bytes::from_static(&[7])]);
    assert_eq!(b.targets, Targets::default().to("r"));
    assert!(!b.local);
    assert_eq!(
        encode_broadcast("abc123", "/", "hi", &b.payload, &b.targets),
        NODE_BROADCAST
    );
}

#[test]
fn broadcasts_round_trip_and_a_missing_nsp_is_the_main_namespace() {
    let payload = Payload::json(vec![json!({"a": [1, 2.5, null]}), json!("x")]);
    let targets = Targets::default().to("r1").to("r2").except_socket("sid".into());
    let bytes = encode_broadcast("uid", "/chat", "news", &payload, &targets);
    let b = decode_broadcast(&bytes).expect("decode");
    assert_eq!(
        (
            b.uid.as_str(),
            b.nsp.as_str(),
            b.event.as_str(),
            &b.payload,
            &b.targets
        ),
        ("uid", "/chat", "news", &payload, &targets)
    );
    // The emitter's packet for the main namespace may omit nsp; a number room is a room.
    let mut bytes = Vec::new();
    msgpack::encode(
        &mut bytes,
        &json!(["emitter", {"type": 2, "data": ["e"]}, {"rooms": [5], "flags": {"local": true}}]),
        &[],
    );
    let b = decode_broadcast(&bytes).expect("decode");
    assert_eq!((b.nsp.as_str(), b.uid.as_str()), ("/", EMITTER_UID));
    assert_eq!(b.targets, Targets::default().to("5"));
    assert!(b.local);
}

#[test]
fn malformed_broadcasts_are_errors() {
    let enc = |v: Value| {
        let mut out = Vec::new();
        msgpack::encode(&mut out, &v, &[]);
        out
    };
    for bad in [
        json!("x"),
        json!(["uid", {"type": 2, "data": ["e"]}]),
        json!([1, {"type": 2, "data": ["e"]}, {}]),
        json!(["uid", {"type": 3, "data": ["e"]}, {}]),
        json!(["uid", {"type": 2, "data": []}, {}]),
        json!(["uid", {"type": 2, "data": [1]}, {}]),
        json!(["uid", {"type": 2, "data": ["e"], "nsp": 1}, {}]),
        json!(["uid", {"type": 2, "data": ["e"]}, {"rooms": [{}]}]),
        json!(["uid", "packet", {}]),
    ] {
        assert!(
            matches!(decode_broadcast(&enc(bad.clone())), Err(WireError::Shape(_))),
            "{bad}"
        );
    }
    assert!(matches!(decode_broadcast(&[0xc1]), Err(WireError::Msgpack(_))));
}

#[test]
fn channels_are_nodes_and_a_room_channel_names_its_room() {
    let c = Channels::new(DEFAULT_PREFIX, "/chat");
    assert_eq!(c.broadcast, "socket.io#/chat#");
    assert_eq!(c.request, "socket.io-request#/chat#");
    assert_eq!(c.response, "socket.io-response#/chat#");
    assert_eq!(c.pattern(), "socket.io#/chat#*");
    assert_eq!(c.for_targets(&Targets::default()), "socket.io#/chat#");
    assert_eq!(
        c.for_targets(&Targets::default().to("a#b")),
        "socket.io#/chat#a#b#"
    );
    assert_eq!(
        c.for_targets(&Targets::default().to("a").to("b")),
        "socket.io#/chat#"
    );
    assert_eq!(c.room_of("socket.io#/chat#"), Some(None));
    assert_eq!(c.room_of("socket.io#/chat#a#b#"), Some(Some("a#b")));
    assert_eq!(c.room_of("socket.io#/chatty#"), None);
    assert_eq!(c.room_of("socket.io#/"), None);
    let root = Channels::new(DEFAULT_PREFIX, "/");
    assert_eq!(root.room_of("socket.io#/chat#"), None, "/ does not take /chat's");
}

#[test]
fn node_requests_decode() {
    let cases: Vec<(Value, Request)> = vec![
        (
            json!({"uid": "n1", "requestId": "q", "type": 1}),
            Request::AllRooms {
                request_id: "q".into(),
            },
        ),
        (
            json!({"uid": "n1", "type": 2, "opts": {"rooms": ["a"], "except": ["b"]}, "rooms": ["c", "d"]}),
            Request::Join {
                targets: Targets::default().to("a").except("b"),
                rooms: vec!["c".into(), "d".into()],
            },
        ),
        (
            json!({"uid": "n1", "type": 3, "opts": {"rooms": [], "except": []}, "rooms": ["c"]}),
            Request::Leave {
                targets: Targets::default(),
                rooms: vec!["c".into()],
            },
        ),
        (
            json!({"uid": "n1", "type": 4, "opts": {"rooms": ["a"], "except": []}, "close": true}),
            Request::Disconnect {
                targets: Targets::default().to("a"),
                close: true,
            },
        ),
        (
            json!({"uid": "n1", "requestId": "q", "type": 2, "sid": "s", "room": "r"}),
            Request::OneSocket {
                request_id: Some("q".into()),
                sid: "s".into(),
                op: SocketOp::Join("r".into()),
            },
        ),
        (
            json!({"uid": "n1", "requestId": "q", "type": 4, "sid": "s", "close": false}),
            Request::OneSocket {
                request_id: Some("q".into()),
                sid: "s".into(),
                op: SocketOp::Disconnect(false),
            },
        ),
        (
            json!({"uid": "n1", "requestId": "q", "type": 5, "opts": {"rooms": ["a"], "except": []}}),
            Request::Fetch {
                request_id: "q".into(),
                targets: Targets::default().to("a"),
            },
        ),
        (
            json!({"uid": "n1", "type": 6, "data": ["ping", 1]}),
            Request::ServerSideEmit {
                request_id: None,
                data: vec![json!("ping"), json!(1)],
            },
        ),
        (
            json!({"uid": "n1", "requestId": "q", "type": 0, "rooms": ["a"]}),
            Request::Sockets {
                request_id: "q".into(),
                rooms: vec!["a".into()],
            },
        ),
    ];
    for (json, expected) in cases {
        let msg = decode_request(json.to_string().as_bytes()).expect("decode");
        assert_eq!(msg.request, expected, "{json}");
        assert_eq!(msg.uid.as_deref(), Some("n1"));
        // And what Portico sends, Node reads the same way (JSON; same fields).
        let again = decode_request(&encode_request("n1", &expected, "/")).expect("re-decode");
        assert_eq!(again.request, expected, "{json}");
    }
}

#[test]
fn the_emitters_room_operations_carry_no_uid() {
    let json = json!({"type": 2, "opts": {"rooms": ["a"], "except": []}, "rooms": ["b"]});
    let msg = decode_request(json.to_string().as_bytes()).expect("decode");
    assert_eq!(msg.uid, None);
    assert!(matches!(msg.request, Request::Join { .. }));
}

#[test]
fn a_broadcast_with_acks_is_msgpack_and_keeps_its_binary() {
    let request = Request::BroadcastWithAck {
        request_id: "q".into(),
        event: "ask".into(),
        payload: Payload {
            args: vec![placeholder(0).into()],
            attachments: vec![Bytes::from_static(b"\x01\x02")],
        },
        targets: Targets::default().to("r"),
        timeout_ms: Some(5000),
    };
    let bytes = encode_request("n1", &request, "/chat");
    assert_ne!(bytes[0], b'{');
    let msg = decode_request(&bytes).expect("decode");
    assert_eq!(msg.request, request);
}

#[test]
fn malformed_requests_are_errors() {
    for bad in [
        &b"{"[..],
        br#"{"type": 99, "uid": "x"}"#,
        br#"{"uid": "x"}"#,
        br#"{"type": 1}"#,
        br#"{"type": 2, "sid": "s"}"#,
        br#"{"type": 6, "data": 1}"#,
        br#"{"type": 2, "opts": {"rooms": [[]]}, "rooms": []}"#,
        &[0x92, 1, 2],
        &[0xc1],
    ] {
        assert!(decode_request(bad).is_err(), "{}", String::from_utf8_lossy(bad));
    }
}

#[test]
fn responses_decode_by_their_shape_and_round_trip() {
    let socket = RemoteSocket {
        id: "s1".into(),
        handshake: json!({"address": "::1", "query": {}}),
        rooms: vec!["s1".into(), "r".into()],
        data: json!({"user": {"sub": "42"}}),
    };
    for body in [
        ResponseBody::Sockets(vec![socket]),
        ResponseBody::Sockets(vec![]),
        ResponseBody::SocketIds(vec!["a".into()]),
        ResponseBody::Rooms(vec!["r".into()]),
        ResponseBody::ServerSideEmitAck(json!("pong")),
        ResponseBody::ClientCount(3),
        ResponseBody::BroadcastAck(json!({"ok": true})),
        ResponseBody::Done,
    ] {
        let response = Response {
            request_id: "q".into(),
            body,
        };
        assert_eq!(decode_response(&encode_response(&response)), Ok(response));
    }
    // Node's JSON, as `JSON.stringify` writes it.
    let node =
        br#"{"requestId":"q","sockets":[{"id":"x","handshake":{"headers":{}},"rooms":["x"],"data":{}}]}"#;
    let Ok(Response {
        body: ResponseBody::Sockets(sockets),
        ..
    }) = decode_response(node)
    else {
        panic!("sockets")
    };
    assert_eq!(sockets[0].id, "x");
    assert!(decode_response(br#"{"sockets": []}"#).is_err(), "no requestId");
    assert!(decode_response(br#"{"requestId": "q", "sockets": [1]}"#).is_err());
    assert!(decode_response(br#"{"requestId": "q", "type": 8}"#).is_err());
}
