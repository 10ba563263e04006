//! The chat's room rule as a guard (NestJS `CanActivate`): `join_room` into a room
//! named `private-<id>-<id>…` is allowed only for users whose `sub` is one of those
//! ids; other rooms are open. At `connect` (with the namespace's `guard_connect`),
//! sockets without a verified identity are refused.

use portico_sdk::{Env, Error, Guard, Value, plugin};
use serde::Deserialize;

/// The guard.
pub struct RoomGuard;

#[derive(Deserialize)]
struct Claims {
    sub: Value,
}

/// Whether `user_id` may join `room`.
pub fn may_join(room: &str, user_id: &str) -> bool {
    match room.strip_prefix("private-") {
        Some(ids) => ids.split('-').any(|id| id == user_id),
        None => true,
    }
}

fn sub(env: &Env) -> Option<String> {
    match env.user::<Claims>()?.sub {
        Value::String(s) => Some(s),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[plugin]
impl Guard for RoomGuard {
    fn authorize(env: &Env, event: &str, payload: &Value) -> Result<(), Error> {
        match event {
            "connect" if sub(env).is_none() => Err(Error::ws("Unauthorized")),
            "join_room" => {
                let room = payload.get("roomId").and_then(Value::as_str).unwrap_or_default();
                match sub(env) {
                    Some(user) if may_join(room, &user) => Ok(()),
                    None if may_join(room, "") && !room.starts_with("private-") => Ok(()),
                    _ => Err(Error::ws("Access denied to this room")),
                }
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use portico_sdk::testing::MockHost;
    use portico_sdk::{SocketInfo, json};

    fn env_for<'a>(host: &'a MockHost, sub: Option<&str>) -> Env<'a> {
        let user_json = sub.map(|s| json!({ "sub": s }).to_string());
        host.set_socket(SocketInfo {
            user_json,
            ..SocketInfo::default()
        });
        Env::new(host)
    }

    #[test]
    fn private_rooms_admit_only_their_members() {
        let host = MockHost::new();
        assert!(may_join("private-1-2", "2"));
        assert!(!may_join("private-12-3", "1"), "ids match exactly");
        let join = |sub, room: &str| {
            RoomGuard::authorize(&env_for(&host, sub), "join_room", &json!({ "roomId": room }))
        };
        assert_eq!(join(Some("1"), "private-1-2"), Ok(()));
        assert_eq!(
            join(Some("3"), "private-1-2").map_err(|e| e.message),
            Err("Access denied to this room".into())
        );
        assert_eq!(
            join(None, "private-1-2").map_err(|e| e.code),
            Err("WS_ERROR".into())
        );
        assert_eq!(join(Some("3"), "lobby"), Ok(()));
        assert_eq!(join(None, "lobby"), Ok(()));
    }

    #[test]
    fn connect_needs_an_identity() {
        let host = MockHost::new();
        assert!(RoomGuard::authorize(&env_for(&host, None), "connect", &json!({})).is_err());
        assert_eq!(
            RoomGuard::authorize(&env_for(&host, Some("1")), "connect", &json!({})),
            Ok(())
        );
        assert_eq!(
            RoomGuard::authorize(&env_for(&host, None), "send_message", &json!({})),
            Ok(())
        );
    }
}
