//! The seed's room gateway (`ChatGateway` of the "Rooms" section, namespace `/`):
//!
//! | event | payload | effect |
//! |---|---|---|
//! | `joinRoom` | `room` (a string) | joins; `joinedRoom room` to the sender, then `userJoined {userId, room}` to the room (sender included) |
//! | `leaveRoom` | `room` | leaves; `userLeft {userId, room}` to the room |
//! | `messageToRoom` | `{room, message}` | `message {userId, message}` to the room |
//!
//! `userId` is the socket id (`client.id`). No handler returns anything, so nothing is
//! acked; configure the plugin with `events = ["joinRoom", "leaveRoom",
//! "messageToRoom"]` to leave every other event to the next handler (the echo plugin,
//! in `deploy/chat.toml`).

use portico_sdk::{Ctx, Error, Handler, Reply, Value, json, plugin};
use serde::Deserialize;

/// The rooms plugin.
pub struct Rooms;

/// `messageToRoom`'s payload; `message` is passed on as sent.
#[derive(Deserialize)]
struct ToRoom {
    room: String,
    message: Option<Value>,
}

#[plugin]
impl Handler for Rooms {
    fn on_event(ctx: &mut Ctx, event: &str) -> Result<Reply, Error> {
        let me = ctx.socket().id().to_owned();
        match event {
            "joinRoom" => {
                let room: String = ctx.payload()?;
                ctx.join(&room);
                ctx.emit("joinedRoom", &room)?;
                ctx.to_room(&room)
                    .emit("userJoined", &json!({ "userId": me, "room": room }))?;
            }
            "leaveRoom" => {
                let room: String = ctx.payload()?;
                ctx.leave(&room);
                ctx.to_room(&room)
                    .emit("userLeft", &json!({ "userId": me, "room": room }))?;
            }
            "messageToRoom" => {
                let ToRoom { room, message } = ctx.payload()?;
                let mut body = json!({ "userId": me });
                if let Some(message) = message {
                    body["message"] = message;
                }
                ctx.to_room(&room).emit("message", &body)?;
            }
            _ => {}
        }
        Reply::none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use portico_sdk::testing::{MockHost, Recorded};
    use portico_sdk::{SocketInfo, Target};

    fn call(event: &str, payload: Value) -> (Result<Reply, Error>, Vec<Recorded>) {
        let host = MockHost::new().with_socket(SocketInfo {
            id: "s1".into(),
            ..SocketInfo::default()
        });
        let reply = Rooms::on_event(&mut Ctx::new(&host, payload.to_string()), event);
        (reply, host.recorded())
    }

    fn emit(event: &str, data: Value, to: Target) -> Recorded {
        Recorded::Emit {
            namespace: None,
            event: event.into(),
            data,
            attachments: vec![],
            to,
            except_rooms: vec![],
            except_sender: false,
        }
    }

    #[test]
    fn join_tells_the_sender_then_the_room() {
        let (reply, done) = call("joinRoom", json!("room1"));
        assert_eq!(reply, Ok(Reply(None)));
        assert_eq!(
            done,
            [
                Recorded::Join {
                    room: "room1".into(),
                    socket: None
                },
                emit("joinedRoom", json!("room1"), Target::Socket("s1".into())),
                emit(
                    "userJoined",
                    json!({"userId": "s1", "room": "room1"}),
                    Target::Rooms(vec!["room1".into()])
                ),
            ]
        );
    }

    #[test]
    fn leave_and_message_reach_the_room() {
        let (_, done) = call("leaveRoom", json!("room1"));
        assert_eq!(
            done[1],
            emit(
                "userLeft",
                json!({"userId": "s1", "room": "room1"}),
                Target::Rooms(vec!["room1".into()])
            )
        );
        let (reply, done) = call(
            "messageToRoom",
            json!({"room": "room1", "message": "Hello Room!"}),
        );
        assert_eq!(reply, Ok(Reply(None)));
        assert_eq!(
            done,
            [emit(
                "message",
                json!({"userId": "s1", "message": "Hello Room!"}),
                Target::Rooms(vec!["room1".into()])
            )]
        );
    }

    #[test]
    fn a_room_that_is_not_a_string_is_a_validation_error() {
        let (reply, done) = call("joinRoom", json!({"room": 1}));
        assert_eq!(reply.map_err(|e| e.code), Err("VALIDATION_ERROR".into()));
        assert!(done.is_empty());
    }
}
