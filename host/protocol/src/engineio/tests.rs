use super::*;

#[test]
fn decodes_every_text_packet_type() {
    let cases = [
        ("0{}", Packet::Open("{}".into())),
        ("1", Packet::Close),
        ("2", Packet::Ping(String::new())),
        ("2probe", Packet::Ping("probe".into())),
        ("3", Packet::Pong(String::new())),
        ("3probe", Packet::Pong("probe".into())),
        ("4hello", Packet::Message(Message::Text("hello".into()))),
        ("4", Packet::Message(Message::Text(String::new()))),
        ("4héllo ✓", Packet::Message(Message::Text("héllo ✓".into()))),
        ("5", Packet::Upgrade),
        ("6", Packet::Noop),
    ];
    for (wire, packet) in cases {
        assert_eq!(decode_text(wire), Ok(packet), "{wire:?}");
    }
}

#[test]
fn rejects_empty_and_unknown_types() {
    assert_eq!(decode_text(""), Err(DecodeError::Empty));
    assert_eq!(decode_text("abc"), Err(DecodeError::UnknownType('a')));
    assert_eq!(decode_text("7"), Err(DecodeError::UnknownType('7')));
    assert_eq!(decode_text("é"), Err(DecodeError::UnknownType('é')));
}

#[test]
fn decodes_payloads_with_text_and_binary() {
    let packets = decode_payload(b"4hello\x1ebAQIDBA==\x1e2").expect("valid payload");
    assert_eq!(
        packets,
        [
            Packet::Message(Message::Text("hello".into())),
            Packet::Message(Message::Binary(Bytes::from_static(&[1, 2, 3, 4]))),
            Packet::Ping(String::new()),
        ]
    );
}

#[test]
fn payload_errors_are_typed() {
    assert_eq!(
        decode_payload(b"4a\x1ebnot base64!"),
        Err(DecodeError::InvalidBase64)
    );
    assert_eq!(decode_payload(b"4a\x1e"), Err(DecodeError::Empty));
    assert_eq!(decode_payload(b""), Err(DecodeError::Empty));
    assert_eq!(decode_payload(&[b'4', 0xff]), Err(DecodeError::InvalidUtf8));
    assert_eq!(decode_payload(b"abc"), Err(DecodeError::UnknownType('a')));
}

#[test]
fn encodes_payloads_and_round_trips() {
    let frames = [
        Frame::message("hello"),
        Frame::Binary(Bytes::from_static(&[1, 2, 3, 4])),
        Frame::ping(),
        Frame::Binary(Bytes::new()),
    ];
    let mut out = Vec::new();
    encode_payload(&frames, &mut out);
    assert_eq!(out, b"4hello\x1ebAQIDBA==\x1e2\x1eb");
    assert_eq!(
        frames.iter().map(payload_len).sum::<usize>() + frames.len() - 1,
        out.len()
    );
    let back = decode_payload(&out).expect("round trip");
    assert_eq!(
        back[1],
        Packet::Message(Message::Binary(Bytes::from_static(&[1, 2, 3, 4])))
    );
    assert_eq!(back[3], Packet::Message(Message::Binary(Bytes::new())));
}

#[test]
fn payload_len_matches_base64_for_all_remainders() {
    for n in 0..10 {
        let frame = Frame::Binary(Bytes::from(vec![0u8; n]));
        let mut out = Vec::new();
        encode_payload([&frame], &mut out);
        assert_eq!(payload_len(&frame), out.len(), "len {n}");
    }
}

#[test]
fn handshake_has_exactly_the_spec_keys() {
    let frame = Handshake {
        sid: "abc",
        upgrades: &["websocket"],
        ping_interval: 300,
        ping_timeout: 200,
        max_payload: 1_000_000,
    }
    .to_frame();
    let Frame::Text(text) = frame else {
        panic!("handshake is text")
    };
    assert_eq!(
        &text[..],
        br#"0{"sid":"abc","upgrades":["websocket"],"pingInterval":300,"pingTimeout":200,"maxPayload":1000000}"#
    );
}

#[test]
fn frame_helpers_have_the_right_bytes() {
    assert_eq!(Frame::ping(), Frame::Text(Bytes::from_static(b"2")));
    assert_eq!(Frame::noop(), Frame::Text(Bytes::from_static(b"6")));
    assert_eq!(Frame::close(), Frame::Text(Bytes::from_static(b"1")));
    assert_eq!(Frame::pong_probe(), Frame::Text(Bytes::from_static(b"3probe")));
    assert_eq!(Frame::message("x").len(), 2);
    assert!(Frame::Binary(Bytes::new()).is_empty());
}

#[test]
fn parses_queries() {
    assert_eq!(
        parse_query("EIO=4&transport=polling&t=N8hyd6w"),
        Ok(RequestQuery {
            transport: Transport::Polling,
            sid: None
        })
    );
    assert_eq!(
        parse_query("EIO=4&transport=websocket&sid=a-b_C9"),
        Ok(RequestQuery {
            transport: Transport::Websocket,
            sid: Some("a-b_C9".into())
        })
    );
}

#[test]
fn query_errors_follow_the_reference_order() {
    assert_eq!(parse_query("EIO=4"), Err(RequestError::UnknownTransport));
    assert_eq!(
        parse_query("EIO=4&transport=abc"),
        Err(RequestError::UnknownTransport)
    );
    assert_eq!(
        parse_query("EIO=3&transport=tobi"),
        Err(RequestError::UnknownTransport)
    );
    assert_eq!(
        parse_query("transport=polling"),
        Err(RequestError::UnsupportedProtocolVersion)
    );
    assert_eq!(
        parse_query("EIO=abc&transport=polling"),
        Err(RequestError::UnsupportedProtocolVersion)
    );
    assert_eq!(
        parse_query("EIO=3&transport=polling"),
        Err(RequestError::UnsupportedProtocolVersion)
    );
    assert_eq!(
        parse_query("EIO=4&transport=polling&sid="),
        Err(RequestError::UnknownSid)
    );
    assert_eq!(
        parse_query("EIO=4&transport=polling&sid=%2F"),
        Err(RequestError::UnknownSid)
    );
}

#[test]
fn request_errors_map_to_codes_statuses_and_bodies() {
    let all = [
        (RequestError::UnknownTransport, 0, "Transport unknown"),
        (RequestError::UnknownSid, 1, "Session ID unknown"),
        (RequestError::BadHandshakeMethod, 2, "Bad handshake method"),
        (RequestError::BadRequest, 3, "Bad request"),
        (RequestError::Forbidden, 4, "Forbidden"),
        (
            RequestError::UnsupportedProtocolVersion,
            5,
            "Unsupported protocol version",
        ),
    ];
    for (err, code, message) in all {
        assert_eq!(err.code(), code);
        assert_eq!(err.status(), if code == 4 { 403 } else { 400 });
        assert_eq!(err.body(), format!(r#"{{"code":{code},"message":"{message}"}}"#));
    }
}
