use super::*;
use serde_json::json;

fn decode(text: &str) -> Result<Option<Packet>, DecodeError> {
    Decoder::new(10).decode_text(text)
}

fn event(nsp: &str, name: &str, args: Vec<Value>, id: Option<u64>) -> Packet {
    Packet::new(
        nsp,
        PacketKind::Event(Event {
            name: name.into(),
            payload: Payload::json(args),
            id,
        }),
    )
}

fn text_of(frames: &[Frame]) -> String {
    match &frames[0] {
        Frame::Text(b) => String::from_utf8(b.to_vec()).expect("utf-8"),
        Frame::Binary(_) => panic!("first frame is text"),
    }
}

#[test]
fn decodes_connect_variants() {
    assert_eq!(decode("0"), Ok(Some(Packet::new("/", PacketKind::Connect(None)))));
    assert_eq!(
        decode(r#"0{"token":"123"}"#),
        Ok(Some(Packet::new(
            "/",
            PacketKind::Connect(Some(json!({"token": "123"})))
        )))
    );
    assert_eq!(
        decode("0/custom,"),
        Ok(Some(Packet::new("/custom", PacketKind::Connect(None))))
    );
    assert_eq!(
        decode("0/random"),
        Ok(Some(Packet::new("/random", PacketKind::Connect(None))))
    );
    assert_eq!(
        decode(r#"0/admin,{"token":"abc"}"#),
        Ok(Some(Packet::new(
            "/admin",
            PacketKind::Connect(Some(json!({"token": "abc"})))
        )))
    );
}

#[test]
fn decodes_disconnect_event_ack_and_connect_error() {
    assert_eq!(decode("1"), Ok(Some(Packet::new("/", PacketKind::Disconnect))));
    assert_eq!(
        decode("1/custom,"),
        Ok(Some(Packet::new("/custom", PacketKind::Disconnect)))
    );
    assert_eq!(
        decode(r#"2["message",1,"2",{"3":[true]}]"#),
        Ok(Some(event(
            "/",
            "message",
            vec![json!(1), json!("2"), json!({"3": [true]})],
            None
        )))
    );
    assert_eq!(
        decode(r#"2/chat,456["hello"]"#),
        Ok(Some(event("/chat", "hello", vec![], Some(456))))
    );
    assert_eq!(
        decode(r#"3/chat,12["ok",{"a":1}]"#),
        Ok(Some(Packet::new(
            "/chat",
            PacketKind::Ack {
                id: 12,
                payload: Payload::json(vec![json!("ok"), json!({"a": 1})])
            }
        )))
    );
    assert_eq!(
        decode("3[]"),
        Err(DecodeError::InvalidAckId),
        "an ack must carry its id"
    );
    assert_eq!(
        decode(r#"4{"message":"nope"}"#),
        Ok(Some(Packet::new(
            "/",
            PacketKind::ConnectError(json!({"message": "nope"}))
        )))
    );
    assert_eq!(
        decode(r#"4"nope""#),
        Ok(Some(Packet::new("/", PacketKind::ConnectError(json!("nope")))))
    );
}

#[test]
fn reassembles_binary_events_and_acks() {
    let mut decoder = Decoder::new(10);
    let head = r#"52-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#;
    assert_eq!(decoder.decode_text(head), Ok(None));
    assert_eq!(decoder.decode_binary(Bytes::from_static(&[1, 2, 3])), Ok(None));
    let packet = decoder
        .decode_binary(Bytes::from_static(&[4, 5, 6]))
        .expect("valid")
        .expect("complete");
    let PacketKind::Event(event) = packet.kind else {
        panic!("event")
    };
    assert_eq!(event.name, "message");
    assert_eq!(event.payload.args, vec![placeholder(0), placeholder(1)]);
    assert_eq!(
        event.payload.attachments,
        vec![Bytes::from_static(&[1, 2, 3]), Bytes::from_static(&[4, 5, 6])]
    );

    assert_eq!(
        decoder.decode_text(r#"61-/chat,789[{"_placeholder":true,"num":0}]"#),
        Ok(None)
    );
    let ack = decoder
        .decode_binary(Bytes::from_static(b"x"))
        .expect("valid")
        .expect("complete");
    assert_eq!(ack.nsp, "/chat");
    assert!(matches!(ack.kind, PacketKind::Ack { id: 789, .. }));
}

#[test]
fn binary_ordering_errors() {
    let mut decoder = Decoder::new(10);
    assert_eq!(
        decoder.decode_binary(Bytes::new()),
        Err(DecodeError::UnexpectedBinary)
    );
    assert_eq!(
        decoder.decode_text(r#"51-["a",{"_placeholder":true,"num":0}]"#),
        Ok(None)
    );
    assert_eq!(decoder.decode_text(r#"2["b"]"#), Err(DecodeError::UnexpectedText));
}

#[test]
fn rejects_malformed_packets() {
    let cases = [
        ("", DecodeError::UnknownType),
        ("abc", DecodeError::UnknownType),
        ("7", DecodeError::UnknownType),
        ("2{}", DecodeError::InvalidPayload),
        ("2[]", DecodeError::InvalidPayload),
        ("2[1]", DecodeError::InvalidPayload),
        (r#"2["connect"]"#, DecodeError::InvalidPayload),
        (r#"2["disconnect",1]"#, DecodeError::InvalidPayload),
        ("2", DecodeError::InvalidPayload),
        (r#"2abc["message"]"#, DecodeError::InvalidAckId),
        (r#"2["unterminated"#, DecodeError::InvalidJson),
        (r#"2999999999999999999999["a"]"#, DecodeError::InvalidAckId),
        ("0[]", DecodeError::InvalidPayload),
        (r#"0"token""#, DecodeError::InvalidPayload),
        ("1{}", DecodeError::InvalidPayload),
        ("3{}", DecodeError::InvalidPayload),
        ("4", DecodeError::InvalidPayload),
        ("4[]", DecodeError::InvalidPayload),
        (r#"01{"a":1}"#, DecodeError::InvalidAckId),
        (r#"5["a"]"#, DecodeError::InvalidAttachmentCount),
        (r#"5x-["a"]"#, DecodeError::InvalidAttachmentCount),
        (r#"5-["a"]"#, DecodeError::InvalidAttachmentCount),
        (r#"511-["a"]"#, DecodeError::TooManyAttachments(11, 10)),
        (
            r#"599999999999999999999999-["a"]"#,
            DecodeError::InvalidAttachmentCount,
        ),
    ];
    for (wire, err) in cases {
        assert_eq!(decode(wire), Err(err.clone()), "{wire:?}");
    }
}

#[test]
fn encodes_server_packets() {
    let connect = Packet::new("/", PacketKind::Connect(Some(json!({"sid": "abc"}))));
    assert_eq!(text_of(&connect.encode()), r#"40{"sid":"abc"}"#);
    let connect = Packet::new("/custom", PacketKind::Connect(Some(json!({"sid": "abc"}))));
    assert_eq!(text_of(&connect.encode()), r#"40/custom,{"sid":"abc"}"#);
    let err = Packet::new(
        "/random",
        PacketKind::ConnectError(json!({"message": "Invalid namespace"})),
    );
    assert_eq!(
        text_of(&err.encode()),
        r#"44/random,{"message":"Invalid namespace"}"#
    );
    assert_eq!(text_of(&Packet::new("/", PacketKind::Disconnect).encode()), "41");
    assert_eq!(
        text_of(&Packet::new("/a", PacketKind::Disconnect).encode()),
        "41/a,"
    );
    let ev = event("/", "message-back", vec![json!(1), json!("2")], None);
    assert_eq!(text_of(&ev.encode()), r#"42["message-back",1,"2"]"#);
    let ev = event("/chat", "q", vec![], Some(7));
    assert_eq!(text_of(&ev.encode()), r#"42/chat,7["q"]"#);
    let ack = Packet::new(
        "/",
        PacketKind::Ack {
            id: 456,
            payload: Payload::json(vec![]),
        },
    );
    assert_eq!(text_of(&ack.encode()), "43456[]");
}

#[test]
fn encodes_binary_packets_with_attachment_frames() {
    let payload = Payload {
        args: vec![placeholder(0).into(), json!("x").into()],
        attachments: vec![Bytes::from_static(&[1, 2])],
    };
    let frames = Packet::new("/", PacketKind::Ack { id: 3, payload }).encode();
    assert_eq!(text_of(&frames), r#"461-3[{"_placeholder":true,"num":0},"x"]"#);
    assert_eq!(frames[1], Frame::Binary(Bytes::from_static(&[1, 2])));
}

#[test]
fn every_kind_round_trips() {
    let packets = [
        Packet::new("/", PacketKind::Connect(Some(json!({"token": "t"})))),
        Packet::new("/n", PacketKind::Connect(None)),
        Packet::new("/n", PacketKind::Disconnect),
        event("/", "e", vec![json!({"nested": [1, null, "é\"\n"]})], Some(0)),
        Packet::new(
            "/",
            PacketKind::Ack {
                id: 9,
                payload: Payload::json(vec![json!(false)]),
            },
        ),
        Packet::new(
            "/x",
            PacketKind::ConnectError(json!({"message": "m", "data": {"a": 1}})),
        ),
        Packet::new(
            "/bin",
            PacketKind::Event(Event {
                name: "b".into(),
                payload: Payload {
                    args: vec![placeholder(0).into(), placeholder(1).into()],
                    attachments: vec![Bytes::from_static(b"\x00\xff"), Bytes::new()],
                },
                id: Some(42),
            }),
        ),
    ];
    for packet in packets {
        let frames = packet.encode();
        let mut decoder = Decoder::new(10);
        let text = text_of(&frames);
        let mut out = decoder.decode_text(&text[1..]).expect("decodes");
        for frame in &frames[1..] {
            let Frame::Binary(b) = frame else { panic!("binary") };
            out = decoder.decode_binary(b.clone()).expect("decodes");
        }
        assert_eq!(out, Some(packet));
    }
}

#[test]
fn numbers_survive_a_relay_unchanged() {
    // Found by the fuzzer: without correctly rounded float parsing, a number that
    // is relayed (decoded, then encoded) could come out as a different number.
    let wire = "38[222222222222222222222222222222222222222222222222225,222222222222222222222225,5]";
    let packet = decode(wire).expect("valid").expect("complete");
    let frames = packet.encode();
    let again = Decoder::new(10)
        .decode_text(&text_of(&frames)[1..])
        .expect("valid");
    assert_eq!(again, Some(packet));
}

#[test]
fn placeholders_are_recognised() {
    assert_eq!(placeholder_num(&placeholder(3)), Some(3));
    assert_eq!(placeholder_num(&json!({"_placeholder": false, "num": 1})), None);
    assert_eq!(placeholder_num(&json!({"num": 1})), None);
    assert_eq!(placeholder_num(&json!("x")), None);
}

#[test]
fn reserved_event_names_are_socketio_own() {
    for name in [
        "connect",
        "connect_error",
        "disconnect",
        "disconnecting",
        "newListener",
        "removeListener",
    ] {
        assert!(is_reserved_event(name), "{name}");
    }
    for name in ["error", "message", "Connect", "connect ", ""] {
        assert!(!is_reserved_event(name), "{name:?}");
    }
}

#[test]
fn arguments_pass_through_as_the_text_they_came_in() {
    // Spacing, key order and number spelling survive decode → encode: the arguments
    // are validated and sliced, never rebuilt.
    let wire = r#"2/chat,7["e", {"b": 1, "a": [1.50, 1e3]} , "x\u00e9" ,null]"#;
    let Some(packet) = decode(wire).expect("valid") else {
        panic!("a packet")
    };
    let PacketKind::Event(event) = &packet.kind else {
        panic!("an event")
    };
    let texts: Vec<&str> = event.payload.args.iter().map(Arg::json).collect();
    assert_eq!(texts, [r#"{"b": 1, "a": [1.50, 1e3]}"#, r#""x\u00e9""#, "null"]);
    assert_eq!(
        text_of(&packet.encode()),
        r#"42/chat,7["e",{"b": 1, "a": [1.50, 1e3]},"x\u00e9",null]"#
    );
    let ack = Packet::new(
        "/",
        PacketKind::Ack {
            id: 3,
            payload: event.payload.clone(),
        },
    );
    assert_eq!(
        text_of(&ack.encode()),
        r#"433[{"b": 1, "a": [1.50, 1e3]},"x\u00e9",null]"#
    );
}

#[test]
fn an_invalid_argument_fails_the_whole_packet() {
    for wire in [
        r#"2["e",{"a":}]"#,
        r#"2["e",1,]"#,
        r#"3["ok"]"#,
        r#"2[1,2]"#,
        r#"2["e"] x"#,
    ] {
        assert!(decode(wire).is_err(), "{wire}");
    }
}

#[test]
fn event_names_needing_escapes_are_encoded_as_json_strings() {
    let packet = event("/", "a\"b\\c\n", vec![json!(1)], None);
    assert_eq!(text_of(&packet.encode()), r#"42["a\"b\\c\n",1]"#);
    let back = Decoder::new(0)
        .decode_text(&text_of(&packet.encode())[1..])
        .expect("valid");
    assert_eq!(back, Some(packet));
}
