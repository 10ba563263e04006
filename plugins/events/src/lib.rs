//! The seed's `EventsGateway` (namespace `/events`) as a plugin:
//!
//! | event | payload | ack |
//! |---|---|---|
//! | `message` | anything | `'Message received'` |
//! | `events` | anything | the payload itself (none for `null`, as NestJS sends no ack for a nil result) |
//! | `privateMessage` | anything, behind the `jwt-guard` plugin | `{user, data}`: the verified token's claims and the payload |
//! | `createMessage` | an object, behind the `ws-validation-pipe` plugin | `messagesService.create(data)`: `{id, ...data}` |
//!
//! The seed does not show `MessagesService`; `create` here returns what a NestJS CRUD
//! service conventionally does, the created record: the payload with an `id`
//! (increasing per node) in front, which a payload's own `id` overrides as
//! `{id, ...data}` does in JavaScript.

use portico_sdk::{Ctx, Error, Handler, Reply, Value, plugin, serde_json};

/// The events plugin.
pub struct Events;

/// `{id, ...data}`: the created record.
fn created(id: i64, data: Value) -> Value {
    let mut record = serde_json::Map::new();
    record.insert("id".into(), id.into());
    match data {
        Value::Object(fields) => record.extend(fields),
        // Spreading an array copies its indices, as JavaScript does.
        Value::Array(items) => record.extend(items.into_iter().enumerate().map(|(i, v)| (i.to_string(), v))),
        _ => {}
    }
    Value::Object(record)
}

#[plugin]
impl Handler for Events {
    fn on_event(ctx: &mut Ctx, event: &str) -> Result<Reply, Error> {
        match event {
            "message" => Reply::ack(&"Message received"),
            "events" => match ctx.payload::<Value>()? {
                Value::Null => Reply::none(),
                data => Reply::ack(&data),
            },
            "privateMessage" => {
                let data: Value = ctx.payload()?;
                let mut answer = serde_json::Map::new();
                if let Some(user) = ctx.user::<Value>() {
                    answer.insert("user".into(), user);
                }
                answer.insert("data".into(), data);
                Reply::ack(&answer)
            }
            "createMessage" => {
                let data: Value = ctx.payload()?;
                let id = ctx.store().incr("message-id", 1);
                Reply::ack(&created(id, data))
            }
            _ => Reply::none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use portico_sdk::testing::MockHost;
    use portico_sdk::{SocketInfo, json};

    fn call(user: Option<Value>, event: &str, payload: Value) -> Option<Value> {
        let host = MockHost::new().with_socket(SocketInfo {
            user_json: user.map(|u| u.to_string()),
            ..SocketInfo::default()
        });
        let reply = Events::on_event(&mut Ctx::new(&host, payload.to_string()), event).expect("handled");
        assert!(host.recorded().is_empty(), "the gateway emits nothing");
        reply.0.map(|ack| serde_json::from_str(&ack.json).expect("json"))
    }

    #[test]
    fn each_handler_acks_as_the_seed_returns() {
        assert_eq!(
            call(None, "message", json!("Hello")),
            Some(json!("Message received"))
        );
        assert_eq!(call(None, "events", json!({"a": [1]})), Some(json!({"a": [1]})));
        assert_eq!(call(None, "events", json!(0)), Some(json!(0)));
        assert_eq!(
            call(None, "events", Value::Null),
            None,
            "a nil result is not acked"
        );
        let claims = json!({"sub": "7", "email": "a@example.com", "exp": 1});
        assert_eq!(
            call(Some(claims.clone()), "privateMessage", json!("psst")),
            Some(json!({"user": claims, "data": "psst"}))
        );
        assert_eq!(call(None, "privateMessage", json!(1)), Some(json!({"data": 1})));
        assert_eq!(call(None, "unknown", json!(1)), None);
    }

    #[test]
    fn create_message_returns_the_created_record() {
        assert_eq!(
            call(None, "createMessage", json!({"text": "hi"})),
            Some(json!({"id": 1, "text": "hi"}))
        );
        assert_eq!(
            created(5, json!({"id": "mine", "x": 1})),
            json!({"id": "mine", "x": 1})
        );
        assert_eq!(created(5, json!(["a"])), json!({"id": 5, "0": "a"}));
    }
}
