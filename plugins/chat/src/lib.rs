//! The seed's NestJS chat gateway (`ChatGateway` of the complete chat example) as a
//! plugin, to the letter of the seed's code:
//!
//! | event | payload | effect | ack |
//! |---|---|---|---|
//! | `message` | `{text}` | emits `message {ok: true, received: text}` to the sender (NestJS's `WsResponse`) | none |
//! | `join_room` | `JoinRoomDto {roomId}` | joins; `user_joined_room {roomId, userId, username}` to the others in the room | `{joined: roomId, messages}`: the last 50, oldest first |
//! | `leave_room` | `{roomId}` | leaves; `user_left_room {roomId, userId, username}` to the others in the room | `{left: roomId}` |
//! | `send_message` | `SendMessageDto {text, roomId?}` | stores it; `new_message {id, text, roomId, userId, username, timestamp}` to the room (sender included) | `{sent: true, messageId}` |
//! | `typing` | `{roomId, isTyping}` | `user_typing {roomId, userId, username, isTyping}` to the others in the room | none |
//! | `direct_message` | `{recipientId, text}` | `direct_message {id, text, senderId, senderUsername, timestamp}` to `user:<recipientId>` | `{sent: true, messageId}` |
//!
//! What the seed keeps elsewhere stays elsewhere: the DTOs are checked (and stripped of
//! unknown properties) by the `dto-validator` plugin, `canUserJoinRoom` is the
//! `room-guard` plugin, `WsJwtGuard` the `jwt-guard` plugin, `user_online` /
//! `user_offline` the namespace's `presence`, and errors reach the client through the
//! `error-filter` plugin. The seed's methods "for other services" (`sendToUser`,
//! `sendToRoom`, `getOnlineUsers`) are HTTP: the `notifications` plugin and the
//! operator API's `/api/v1/emit` and `/api/v1/presence`. `userId` and `username` are the verified token's `sub` and
//! `username` claims as the token has them (a numeric `sub` stays a number), never
//! taken from the payload. Without a verified identity every event but `message` and
//! `typing` fails with the seed's `WsException('User not found')`.

use portico_sdk::time::now_iso8601;
use portico_sdk::{Ctx, Error, Handler, Reply, Value, json, plugin, serde_json};
use serde::Deserialize;

/// Messages returned by `join_room` (the seed's `getRoomMessages(roomId, 50)`), and
/// kept per room.
const HISTORY: u32 = 50;

/// The chat plugin.
pub struct Chat;

/// The seed's `JoinRoomDto`, after the validator; also `leave_room`'s `{roomId}`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RoomPayload {
    room_id: String,
}

/// The seed's `SendMessageDto`, after the validator.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SendMessage {
    text: String,
    room_id: Option<String>,
}

/// `typing`'s `{roomId, isTyping}`; `isTyping` is passed on as sent.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Typing {
    room_id: String,
    is_typing: Option<Value>,
}

/// `direct_message`'s `{recipientId, text}`; `text` is passed on as sent.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DirectMessage {
    recipient_id: UserId,
    text: Option<Value>,
}

/// A user id as the client sends it: `2` and `"2"` name the same user.
#[derive(Deserialize)]
#[serde(untagged)]
enum UserId {
    Number(serde_json::Number),
    Text(String),
}

impl UserId {
    /// The id as the room `user:<id>` spells it (JavaScript's template string).
    fn as_room_id(&self) -> String {
        match self {
            UserId::Number(n) => n.to_string(),
            UserId::Text(s) => s.clone(),
        }
    }
}

/// The seed's `ConnectedUser`, from the verified identity.
struct User {
    /// `payload.sub`, as the token has it.
    id: Value,
    /// `payload.username`, when the token has one.
    name: Option<Value>,
}

#[derive(Deserialize)]
struct Claims {
    sub: Value,
    username: Option<Value>,
}

fn user(ctx: &Ctx) -> Option<User> {
    let claims = ctx.user::<Claims>()?;
    Some(User {
        id: claims.sub,
        name: claims.username,
    })
}

/// The seed's `WsException('User not found')`.
fn not_found() -> Error {
    Error::ws("User not found")
}

/// An object with `fields`, leaving out those that are `None`: JavaScript drops
/// `undefined` properties when it serialises.
fn object(fields: &[(&str, Option<Value>)]) -> Value {
    Value::Object(
        fields
            .iter()
            .filter_map(|(k, v)| v.clone().map(|v| ((*k).to_owned(), v)))
            .collect(),
    )
}

/// `{roomId, userId, username}`, as `user_joined_room` and `user_left_room` carry it.
fn room_event(room_id: &str, me: &User) -> Value {
    object(&[
        ("roomId", Some(room_id.into())),
        ("userId", Some(me.id.clone())),
        ("username", me.name.clone()),
    ])
}

#[plugin]
impl Handler for Chat {
    fn on_event(ctx: &mut Ctx, event: &str) -> Result<Reply, Error> {
        match event {
            // The basic gateway's handler: its `{event, data}` return is a WsResponse,
            // which NestJS emits to the sender instead of acking.
            "message" => {
                let payload: Value = ctx.payload()?;
                let received = match &payload {
                    // `payload.text` throws on null/undefined: an internal error.
                    Value::Null => return Err(Error::internal("payload is null")),
                    Value::Object(fields) => fields.get("text").cloned(),
                    _ => None,
                };
                ctx.emit(
                    "message",
                    &object(&[("ok", Some(true.into())), ("received", received)]),
                )?;
                Reply::none()
            }
            "join_room" => {
                let me = user(ctx).ok_or_else(not_found)?;
                let RoomPayload { room_id } = ctx.payload()?;
                ctx.join(&room_id);
                let messages: Vec<Value> = ctx.store().history(&room_id, HISTORY);
                ctx.to_room(&room_id)
                    .except_sender()
                    .emit("user_joined_room", &room_event(&room_id, &me))?;
                Reply::ack(&json!({ "joined": room_id, "messages": messages }))
            }
            "leave_room" => {
                let me = user(ctx).ok_or_else(not_found)?;
                let RoomPayload { room_id } = ctx.payload()?;
                ctx.leave(&room_id);
                ctx.to_room(&room_id)
                    .except_sender()
                    .emit("user_left_room", &room_event(&room_id, &me))?;
                Reply::ack(&json!({ "left": room_id }))
            }
            "send_message" => {
                let me = user(ctx).ok_or_else(not_found)?;
                let SendMessage { text, room_id } = ctx.payload()?;
                let id = ctx.store().incr("message-id", 1);
                let message = object(&[
                    ("id", Some(id.into())),
                    ("text", Some(text.into())),
                    ("roomId", room_id.clone().map(Value::from)),
                    ("userId", Some(me.id)),
                    ("username", me.name),
                    ("timestamp", Some(now_iso8601().into())),
                ]);
                // Without a room, `server.to(undefined)` reaches nobody and nothing
                // lands in a room's history.
                if let Some(room_id) = room_id {
                    ctx.store().append(&room_id, &message, HISTORY)?;
                    ctx.to_room(&room_id).emit("new_message", &message)?;
                }
                Reply::ack(&json!({ "sent": true, "messageId": id }))
            }
            "typing" => {
                let Some(me) = user(ctx) else {
                    return Reply::none();
                };
                let Typing { room_id, is_typing } = ctx.payload()?;
                let body = object(&[
                    ("roomId", Some(room_id.clone().into())),
                    ("userId", Some(me.id)),
                    ("username", me.name),
                    ("isTyping", is_typing),
                ]);
                ctx.to_room(&room_id).except_sender().emit("user_typing", &body)?;
                Reply::none()
            }
            "direct_message" => {
                let me = user(ctx).ok_or_else(not_found)?;
                let DirectMessage { recipient_id, text } = ctx.payload()?;
                let id = ctx.store().incr("message-id", 1);
                let message = object(&[
                    ("id", Some(id.into())),
                    ("text", text),
                    ("senderId", Some(me.id)),
                    ("senderUsername", me.name),
                    ("timestamp", Some(now_iso8601().into())),
                ]);
                ctx.to_user(&recipient_id.as_room_id())
                    .emit("direct_message", &message)?;
                Reply::ack(&json!({ "sent": true, "messageId": id }))
            }
            _ => Reply::none(),
        }
    }
}

#[cfg(test)]
mod tests;
