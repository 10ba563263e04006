//! The seed's `WebSocketExceptionFilter` (the `/events` gateway's): the client's
//! `error` event is `{id: client.id, rid: data.rid, ...details}`, where `rid` is the
//! event payload's `rid` (left out when it has none) and `details` is `{message}`,
//! plus the fields of an error raised with an object (`WsException({...})`, written
//! `Error::ws(message).with_data(object)`). An error that is not a `WsException` (a
//! trap, a deadline) shows NestJS's `Internal server error` and no detail.

use portico_sdk::{Env, Error, Filter, Value, plugin, serde_json};

/// The filter.
pub struct EventsFilter;

/// The `error` event's body for `error`, raised on `socket_id` while handling `payload`.
pub fn body(socket_id: &str, payload: &Value, error: Error) -> Value {
    let mut body = serde_json::Map::new();
    body.insert("id".into(), socket_id.into());
    if let Some(rid) = payload.get("rid") {
        body.insert("rid".into(), rid.clone());
    }
    match error.code.as_str() {
        "WS_ERROR" | "VALIDATION_ERROR" => {
            body.insert("message".into(), error.message.into());
            // Only a WsException carries details of its own; a validation error's data
            // (the violations) is not the seed's shape.
            if error.code == "WS_ERROR"
                && let Some(Value::Object(details)) = error.data
            {
                body.extend(details);
            }
        }
        _ => {
            body.insert("message".into(), "Internal server error".into());
        }
    }
    Value::Object(body)
}

#[plugin]
impl Filter for EventsFilter {
    fn catch(env: &Env, _event: &str, payload: &Value, error: Error) -> Option<Value> {
        Some(body(env.socket().id(), payload, error))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use portico_sdk::json;

    #[test]
    fn id_rid_and_the_message() {
        assert_eq!(
            body("s1", &json!({"rid": 7, "x": 1}), Error::ws("Forbidden resource")),
            json!({"id": "s1", "rid": 7, "message": "Forbidden resource"})
        );
        assert_eq!(
            body(
                "s1",
                &json!("text"),
                Error::validation("Validation failed: Data must be an object")
            ),
            json!({"id": "s1", "message": "Validation failed: Data must be an object"}),
            "no rid without one in the payload"
        );
    }

    #[test]
    fn an_object_exception_spreads_and_internal_errors_hide() {
        let object = Error::ws("Nope").with_data(json!({"status": "error", "message": "Nope!"}));
        assert_eq!(
            body("s1", &json!({"rid": "a"}), object),
            json!({"id": "s1", "rid": "a", "status": "error", "message": "Nope!"})
        );
        let validation = Error::validation("bad").with_data(json!({"violations": []}));
        assert_eq!(
            body("s1", &json!(null), validation),
            json!({"id": "s1", "message": "bad"})
        );
        assert_eq!(
            body("s1", &json!(null), Error::internal("trap at 0x1")),
            json!({"id": "s1", "message": "Internal server error"})
        );
    }
}
