use super::*;
use portico_sdk::testing::{MockHost, Recorded};
use portico_sdk::{SocketInfo, Target};

fn socket(claims: Value) -> SocketInfo {
    SocketInfo {
        id: "sock-1".into(),
        namespace: "/chat".into(),
        user_json: Some(claims.to_string()),
        auth_json: "{}".into(),
        ..SocketInfo::default()
    }
}

fn alice() -> SocketInfo {
    socket(json!({ "sub": 1, "username": "alice", "exp": 2_000_000_000u64 }))
}

fn call(host: &MockHost, who: &SocketInfo, event: &str, payload: Value) -> Result<Reply, Error> {
    host.set_socket(who.clone());
    Chat::on_event(&mut Ctx::new(host, payload.to_string()), event)
}

fn ack(reply: Result<Reply, Error>) -> Value {
    let reply = reply.expect("handled");
    serde_json::from_str(&reply.0.expect("an ack").json).expect("json ack")
}

/// The only emit recorded: (event, data, to, except_sender).
fn emitted(host: &MockHost) -> Vec<(String, Value, Target, bool)> {
    host.recorded()
        .into_iter()
        .filter_map(|r| match r {
            Recorded::Emit {
                event,
                data,
                to,
                except_sender,
                ..
            } => Some((event, data, to, except_sender)),
            _ => None,
        })
        .collect()
}

#[test]
fn message_is_a_ws_response_to_the_sender_not_an_ack() {
    let host = MockHost::new();
    assert_eq!(
        call(&host, &alice(), "message", json!({"text": "hi"})),
        Ok(Reply(None))
    );
    let sent = emitted(&host);
    assert_eq!(
        sent,
        [(
            "message".to_owned(),
            json!({"ok": true, "received": "hi"}),
            Target::Socket("sock-1".into()),
            false
        )]
    );
    host.clear();
    call(&host, &alice(), "message", json!("just a string")).expect("handled");
    assert_eq!(
        emitted(&host)[0].1,
        json!({"ok": true}),
        "`received` is undefined"
    );
    let err = call(&host, &alice(), "message", Value::Null).expect_err("payload.text of null");
    assert_eq!(
        (err.code.as_str(), err.message.as_str()),
        ("INTERNAL_ERROR", "Internal error")
    );
}

#[test]
fn join_room_acks_joined_and_history_and_tells_the_others() {
    let host = MockHost::new();
    for i in 0..55 {
        let sent = ack(call(
            &host,
            &alice(),
            "send_message",
            json!({"roomId": "r", "text": format!("m{i}")}),
        ));
        assert_eq!(sent, json!({"sent": true, "messageId": i + 1}));
    }
    let (event, data, to, except_sender) = emitted(&host).remove(0);
    assert_eq!(
        (event.as_str(), &to, except_sender),
        ("new_message", &Target::Rooms(vec!["r".into()]), false)
    );
    let keys: Vec<&str> = data
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["id", "roomId", "text", "timestamp", "userId", "username"]);
    assert_eq!(
        (data["userId"].clone(), data["username"].clone()),
        (json!(1), json!("alice"))
    );
    assert_eq!(data["timestamp"].as_str().map(str::len), Some(24));
    host.clear();
    let bob = socket(json!({ "sub": "2", "username": "bob" }));
    let joined = ack(call(&host, &bob, "join_room", json!({"roomId": "r"})));
    assert_eq!(joined["joined"], "r");
    let texts: Vec<&str> = joined["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| m["text"].as_str().expect("text"))
        .collect();
    assert_eq!(
        (texts.len(), texts[0], texts[49]),
        (50, "m5", "m54"),
        "the last 50, oldest first"
    );
    assert_eq!(
        host.recorded()[0],
        Recorded::Join {
            room: "r".into(),
            socket: None
        }
    );
    assert_eq!(
        emitted(&host),
        [(
            "user_joined_room".to_owned(),
            json!({"roomId": "r", "userId": "2", "username": "bob"}),
            Target::Rooms(vec!["r".into()]),
            true
        )]
    );
}

#[test]
fn leave_room_acks_left_and_tells_the_room() {
    let host = MockHost::new();
    assert_eq!(
        ack(call(&host, &alice(), "leave_room", json!({"roomId": "r"}))),
        json!({"left": "r"})
    );
    assert_eq!(
        emitted(&host),
        [(
            "user_left_room".to_owned(),
            json!({"roomId": "r", "userId": 1, "username": "alice"}),
            Target::Rooms(vec!["r".into()]),
            true
        )]
    );
}

#[test]
fn send_message_without_a_room_is_stored_nowhere_and_sent_to_nobody() {
    let host = MockHost::new();
    assert_eq!(
        ack(call(
            &host,
            &alice(),
            "send_message",
            json!({"text": "to nobody"})
        )),
        json!({"sent": true, "messageId": 1})
    );
    assert!(emitted(&host).is_empty());
}

#[test]
fn typing_is_user_typing_to_the_others_with_is_typing_as_sent() {
    let host = MockHost::new();
    assert_eq!(
        call(
            &host,
            &alice(),
            "typing",
            json!({"roomId": "r", "isTyping": false})
        ),
        Ok(Reply(None))
    );
    assert_eq!(
        emitted(&host),
        [(
            "user_typing".to_owned(),
            json!({"roomId": "r", "userId": 1, "username": "alice", "isTyping": false}),
            Target::Rooms(vec!["r".into()]),
            true
        )]
    );
    host.clear();
    call(&host, &alice(), "typing", json!({"roomId": "r"})).expect("handled");
    assert_eq!(
        emitted(&host)[0].1,
        json!({"roomId": "r", "userId": 1, "username": "alice"}),
        "no isTyping sent, none passed on"
    );
}

#[test]
fn direct_message_reaches_the_recipient_room_with_fields_from_the_identity() {
    let host = MockHost::new();
    for recipient in [json!(2), json!("2")] {
        host.clear();
        let payload = json!({"recipientId": recipient, "text": "hi", "senderId": "forged"});
        let sent = ack(call(&host, &alice(), "direct_message", payload));
        let (event, data, to, _) = emitted(&host).remove(0);
        assert_eq!((event.as_str(), to), ("direct_message", Target::User("2".into())));
        assert_eq!(data["id"], sent["messageId"]);
        let keys: Vec<&str> = data
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, ["id", "senderId", "senderUsername", "text", "timestamp"]);
        assert_eq!(
            (data["senderId"].clone(), data["senderUsername"].clone()),
            (json!(1), json!("alice"))
        );
    }
}

#[test]
fn without_an_identity_the_seed_throws_user_not_found() {
    let host = MockHost::new();
    let anonymous = SocketInfo::default();
    for event in ["join_room", "leave_room", "send_message", "direct_message"] {
        let err = call(
            &host,
            &anonymous,
            event,
            json!({"roomId": "r", "text": "t", "recipientId": 1}),
        )
        .expect_err(event);
        assert_eq!(
            (err.code.as_str(), err.message.as_str()),
            ("WS_ERROR", "User not found")
        );
    }
    assert_eq!(
        call(&host, &anonymous, "typing", json!({"roomId": "r"})),
        Ok(Reply(None))
    );
    assert!(host.recorded().is_empty());
}

#[test]
fn a_token_without_username_leaves_username_out() {
    let host = MockHost::new();
    let who = socket(json!({ "sub": "9" }));
    call(&host, &who, "leave_room", json!({"roomId": "r"})).expect("handled");
    assert_eq!(emitted(&host)[0].1, json!({"roomId": "r", "userId": "9"}));
}
