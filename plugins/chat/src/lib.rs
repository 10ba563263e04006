//! The seed's NestJS chat gateway as a plugin.
//!
//! | event | payload | effect | ack |
//! |---|---|---|---|
//! | `join_room` | `{roomId}` | joins; `user_joined_room {userId, username, roomId}` to the others | `{roomId, messages}`: the last 50, oldest first |
//! | `leave_room` | `{roomId}` | leaves; `user_left_room {userId, username, roomId}` to the room | `{roomId, left: true}` |
//! | `send_message` | `{roomId, text}` | stores it; `new_message {id, text, roomId, userId, username, timestamp}` to the room | `{sent: true, messageId}` |
//! | `typing` | `{roomId, isTyping}` | `typing {userId, username, roomId, isTyping}` to the others | none |
//! | `get_online_users` | none | | `{users: [{userId, username, sockets}]}` (presence) |
//! | `direct_message` | `{recipientId, text}` | `direct_message {id, text, senderId, senderUsername, timestamp}` to `user:<recipientId>` | `{sent: true, messageId}` |
//!
//! Who may join which room is the `room-guard` plugin's job (configured as a guard on
//! `join_room`), as NestJS keeps it in a `CanActivate` guard. User fields come from the verified
//! identity (the JWT claims `sub` and `username`/`name`), never from the payload;
//! without one, the socket id stands in until authentication is configured.

use portico_sdk::time::now_iso8601;
use portico_sdk::{Ctx, Error, Handler, Reply, json, plugin, serde_json};
use serde::{Deserialize, Serialize};

/// Messages kept per room.
const HISTORY: u32 = 50;

/// The chat plugin.
pub struct Chat;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RoomPayload {
    room_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SendMessage {
    room_id: String,
    text: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Typing {
    room_id: String,
    #[serde(default = "yes")]
    is_typing: bool,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DirectMessage {
    recipient_id: String,
    text: String,
}

/// A stored and broadcast room message (the seed's `new_message`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    /// Increasing id.
    pub id: i64,
    /// The text.
    pub text: String,
    /// The room.
    pub room_id: String,
    /// The sender's `sub`.
    pub user_id: String,
    /// The sender's name.
    pub username: String,
    /// `toISOString()` time.
    pub timestamp: String,
}

/// Who is calling, from the verified identity.
struct User {
    id: String,
    name: String,
}

#[derive(Deserialize)]
struct Claims {
    sub: serde_json::Value,
    username: Option<String>,
    name: Option<String>,
}

fn user(ctx: &Ctx) -> User {
    match ctx.user::<Claims>() {
        Some(claims) => {
            let id = match claims.sub {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            };
            let name = claims.username.or(claims.name).unwrap_or_else(|| id.clone());
            User { id, name }
        }
        None => {
            let id = ctx.socket().id.clone();
            User {
                name: format!("guest-{}", id.chars().take(6).collect::<String>()),
                id,
            }
        }
    }
}

#[plugin]
impl Handler for Chat {
    fn on_event(ctx: &mut Ctx, event: &str) -> Result<Reply, Error> {
        let me = user(ctx);
        match event {
            "join_room" => {
                let RoomPayload { room_id } = ctx.payload()?;
                ctx.join(&room_id);
                ctx.to_room(&room_id).except_sender().emit(
                    "user_joined_room",
                    &json!({ "userId": me.id, "username": me.name, "roomId": room_id }),
                )?;
                let messages: Vec<Message> = ctx.store().history(&room_id, HISTORY);
                Reply::ack(&json!({ "roomId": room_id, "messages": messages }))
            }
            "leave_room" => {
                let RoomPayload { room_id } = ctx.payload()?;
                ctx.leave(&room_id);
                ctx.to_room(&room_id).except_sender().emit(
                    "user_left_room",
                    &json!({ "userId": me.id, "username": me.name, "roomId": room_id }),
                )?;
                Reply::ack(&json!({ "roomId": room_id, "left": true }))
            }
            "send_message" => {
                let SendMessage { room_id, text } = ctx.payload()?;
                let message = Message {
                    id: ctx.store().incr("message-id", 1),
                    text,
                    room_id: room_id.clone(),
                    user_id: me.id,
                    username: me.name,
                    timestamp: now_iso8601(),
                };
                ctx.store().append(&room_id, &message, HISTORY)?;
                ctx.to_room(&room_id).emit("new_message", &message)?;
                Reply::ack(&json!({ "sent": true, "messageId": message.id }))
            }
            "typing" => {
                let Typing { room_id, is_typing } = ctx.payload()?;
                ctx.to_room(&room_id).except_sender().emit(
                    "typing",
                    &json!({ "userId": me.id, "username": me.name, "roomId": room_id, "isTyping": is_typing }),
                )?;
                Reply::none()
            }
            "direct_message" => {
                let DirectMessage { recipient_id, text } = ctx.payload()?;
                let id = ctx.store().incr("message-id", 1);
                ctx.to_user(&recipient_id).emit(
                    "direct_message",
                    &json!({ "id": id, "text": text, "senderId": me.id, "senderUsername": me.name, "timestamp": now_iso8601() }),
                )?;
                Reply::ack(&json!({ "sent": true, "messageId": id }))
            }
            "get_online_users" => Reply::ack(&json!({ "users": ctx.presence().online_users() })),
            _ => Reply::none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use portico_sdk::testing::{MockHost, Recorded};
    use portico_sdk::{SocketInfo, Target};

    fn socket(sub: &str, name: &str) -> SocketInfo {
        SocketInfo {
            id: format!("sock-{sub}"),
            namespace: "/chat".into(),
            user_json: Some(json!({ "sub": sub, "username": name }).to_string()),
            auth_json: "{}".into(),
        }
    }

    fn call(
        host: &MockHost,
        who: &SocketInfo,
        event: &str,
        payload: serde_json::Value,
    ) -> Result<Reply, Error> {
        Chat::on_event(&mut Ctx::new(host, who.clone(), payload.to_string()), event)
    }

    #[test]
    fn messages_are_numbered_stored_broadcast_and_replayed_oldest_first() {
        let host = MockHost::new();
        let alice = socket("1", "alice");
        for i in 0..55 {
            let reply = call(
                &host,
                &alice,
                "send_message",
                json!({"roomId": "r", "text": format!("m{i}")}),
            )
            .unwrap();
            assert_eq!(
                reply,
                Reply(Some(json!({"sent": true, "messageId": i + 1}).to_string()))
            );
        }
        let Recorded::Emit { event, data, to, .. } = &host.recorded()[0] else {
            panic!("emit")
        };
        assert_eq!(
            (event.as_str(), to),
            ("new_message", &Target::Rooms(vec!["r".into()]))
        );
        assert_eq!(data["userId"], "1");
        assert_eq!(data["username"], "alice");
        assert_eq!(data["timestamp"].as_str().map(str::len), Some(24));
        host.clear();
        let reply = call(&host, &socket("2", "bob"), "join_room", json!({"roomId": "r"})).unwrap();
        let ack: serde_json::Value = serde_json::from_str(reply.0.as_deref().unwrap()).unwrap();
        let texts: Vec<&str> = ack["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["text"].as_str().unwrap())
            .collect();
        assert_eq!(texts.len(), 50);
        assert_eq!((texts[0], texts[49]), ("m5", "m54"));
        assert_eq!(
            host.recorded()[0],
            Recorded::Join {
                room: "r".into(),
                socket: None
            }
        );
    }

    #[test]
    fn user_fields_come_from_the_identity_not_the_payload() {
        let host = MockHost::new();
        let payload =
            json!({"recipientId": "2", "text": "hi", "senderId": "forged", "senderUsername": "forged"});
        call(&host, &socket("1", "alice"), "direct_message", payload).unwrap();
        let Recorded::Emit { data, to, .. } = &host.recorded()[0] else {
            panic!("emit")
        };
        assert_eq!(to, &Target::User("2".into()));
        assert_eq!(
            (data["senderId"].as_str(), data["senderUsername"].as_str()),
            (Some("1"), Some("alice"))
        );
    }

    #[test]
    fn lists_online_users_from_presence() {
        let host = MockHost::new();
        host.set_online("1", "alice", &["s1", "s2"]);
        let reply = call(&host, &socket("2", "bob"), "get_online_users", json!(null)).unwrap();
        let ack: serde_json::Value = serde_json::from_str(reply.0.as_deref().unwrap()).unwrap();
        assert_eq!(
            ack,
            json!({ "users": [{ "userId": "1", "username": "alice", "sockets": 2 }] })
        );
    }

    #[test]
    fn typing_goes_to_the_others() {
        let host = MockHost::new();
        call(&host, &socket("1", "alice"), "typing", json!({"roomId": "r"})).unwrap();
        let Recorded::Emit {
            except_sender, data, ..
        } = &host.recorded()[0]
        else {
            panic!("emit")
        };
        assert!(*except_sender);
        assert_eq!(data["isTyping"], true);
    }
}
