//! The seed's REST push as an HTTP plugin: `NotificationsController` and the chat
//! gateway's `sendToUser` / `sendToRoom` "from other services".
//!
//! | route | body | effect | answer |
//! |---|---|---|---|
//! | `POST /notifications/send` | `{userId, event?, data? \| message?}` | emits `event` (default `notification`) with `data` (else `message`, else `null`) to every socket of `user:<userId>` | `201 {success: true}` |
//! | `POST /broadcast` | `{room?, event, data?}` | emits `event` with `data` to `room`, or to the whole namespace | `201 {success: true}` |
//!
//! A numeric and a string `userId` reach the same user; a user with no socket online
//! is still a 201, as the seed's fire-and-forget emit is. Bad input is a 400 in
//! NestJS's shape whose message names the field, in class-validator's words. The
//! namespace is the plugin's config (`namespace`, default `/chat`); map the routes in
//! the gateway's config:
//!
//! ```toml
//! [http.routes]
//! "POST /notifications/send" = "notifications"
//! "POST /broadcast" = "notifications"
//! ```

use portico_sdk::http::{HttpError, Request, Response};
use portico_sdk::{HttpCtx, HttpHandler, Value, is_reserved_event, json, plugin, serde_json};
use serde::Deserialize;

/// The plugin.
pub struct Notifications;

/// The plugin's configuration.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The namespace notifications go to. Defaults to `/chat`.
    pub namespace: String,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            namespace: "/chat".to_owned(),
        }
    }
}

/// Where and what to emit, from a request's body.
#[derive(Debug, Clone, PartialEq)]
pub enum Push {
    /// To every socket of a user.
    User {
        /// The user id as the room `user:<id>` spells it.
        user: String,
        /// The event.
        event: String,
        /// Its one argument.
        data: Value,
    },
    /// To a room, or to the whole namespace.
    Room {
        /// The room; `None` is everyone.
        room: Option<String>,
        /// The event.
        event: String,
        /// Its one argument.
        data: Value,
    },
}

/// A field of the body: absent (or `null`) is `None`.
fn field<'a>(body: &'a serde_json::Map<String, Value>, name: &str) -> Option<&'a Value> {
    body.get(name).filter(|v| !v.is_null())
}

/// An event name field: a string Socket.IO lets a server emit.
fn event_name(value: Option<&Value>, default: Option<&str>) -> Result<String, HttpError> {
    let name = match (value, default) {
        (None, Some(default)) => return Ok(default.to_owned()),
        (None, None) => return Err(HttpError::bad_request("event should not be empty")),
        (Some(Value::String(name)), _) => name,
        (Some(_), _) => return Err(HttpError::bad_request("event must be a string")),
    };
    if name.is_empty() {
        return Err(HttpError::bad_request("event should not be empty"));
    }
    if is_reserved_event(name) {
        return Err(HttpError::bad_request(format!(
            "event `{name}` is reserved by Socket.IO"
        )));
    }
    Ok(name.clone())
}

/// What `POST /notifications/send` asks for.
pub fn notification(body: &Value) -> Result<Push, HttpError> {
    let body = body
        .as_object()
        .ok_or_else(|| HttpError::bad_request("Request body must be a JSON object"))?;
    let user = match field(body, "userId") {
        None => return Err(HttpError::bad_request("userId should not be empty")),
        Some(Value::String(id)) if id.is_empty() => {
            return Err(HttpError::bad_request("userId should not be empty"));
        }
        Some(Value::String(id)) => id.clone(),
        Some(Value::Number(id)) => id.to_string(),
        Some(_) => return Err(HttpError::bad_request("userId must be a string or a number")),
    };
    let event = event_name(field(body, "event"), Some("notification"))?;
    let data = field(body, "data")
        .or_else(|| field(body, "message"))
        .cloned()
        .unwrap_or(Value::Null);
    Ok(Push::User { user, event, data })
}

/// What `POST /broadcast` asks for.
pub fn broadcast(body: &Value) -> Result<Push, HttpError> {
    let body = body
        .as_object()
        .ok_or_else(|| HttpError::bad_request("Request body must be a JSON object"))?;
    let room = match field(body, "room") {
        None => None,
        Some(Value::String(room)) if !room.is_empty() => Some(room.clone()),
        Some(Value::String(_)) => return Err(HttpError::bad_request("room should not be empty")),
        Some(_) => return Err(HttpError::bad_request("room must be a string")),
    };
    let event = event_name(field(body, "event"), None)?;
    let data = field(body, "data").cloned().unwrap_or(Value::Null);
    Ok(Push::Room { room, event, data })
}

#[plugin]
impl HttpHandler for Notifications {
    fn handle(ctx: &mut HttpCtx, req: &Request) -> Result<Response, HttpError> {
        let push = match (req.method.as_str(), req.path.as_str()) {
            ("POST", "/notifications/send") => notification(&req.json_value()?)?,
            ("POST", "/broadcast") => broadcast(&req.json_value()?)?,
            (method, path) => return Err(HttpError::not_found(format!("Cannot {method} {path}"))),
        };
        let config: Config = ctx.config()?;
        let ns = ctx.of(&config.namespace);
        match push {
            Push::User { user, event, data } => ns.to_user(&user).emit(&event, &data)?,
            Push::Room {
                room: Some(room),
                event,
                data,
            } => ns.to_room(&room).emit(&event, &data)?,
            Push::Room {
                room: None,
                event,
                data,
            } => ns.broadcast().emit(&event, &data)?,
        }
        Response::json(201, &json!({ "success": true }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use portico_sdk::Target;
    use portico_sdk::testing::{MockHost, Recorded};

    fn post(host: &MockHost, path: &str, body: &str) -> Response {
        let req = Request {
            method: "POST".into(),
            path: path.into(),
            body: body.as_bytes().to_vec(),
            ..Request::default()
        };
        Notifications::handle(&mut HttpCtx::new(host), &req).unwrap_or_else(HttpError::into_response)
    }

    fn body(res: &Response) -> Value {
        serde_json::from_slice(&res.body).expect("json")
    }

    #[test]
    fn a_notification_reaches_the_user_room_of_the_configured_namespace() {
        let host = MockHost::new();
        let res = post(&host, "/notifications/send", r#"{"userId": 42, "message": "Hi"}"#);
        assert_eq!((res.status, body(&res)), (201, json!({"success": true})));
        assert_eq!(
            host.recorded(),
            [Recorded::Emit {
                namespace: Some("/chat".into()),
                event: "notification".into(),
                data: json!("Hi"),
                attachments: vec![],
                to: Target::User("42".into()),
                except_rooms: vec![],
                except_sender: false,
            }]
        );
        assert_eq!(
            notification(&json!({"userId": "42", "event": "order", "data": {"id": 1}, "message": "x"})),
            Ok(Push::User {
                user: "42".into(),
                event: "order".into(),
                data: json!({"id": 1})
            }),
            "a string id is the same user; data wins over message"
        );
    }

    #[test]
    fn broadcast_goes_to_a_room_or_everyone() {
        assert_eq!(
            broadcast(&json!({"room": "r", "event": "e", "data": 1})),
            Ok(Push::Room {
                room: Some("r".into()),
                event: "e".into(),
                data: json!(1)
            })
        );
        let host = MockHost::new();
        let res = post(&host, "/broadcast", r#"{"event": "news"}"#);
        assert_eq!(res.status, 201);
        let Recorded::Emit { to, data, .. } = &host.recorded()[0] else {
            panic!("an emit")
        };
        assert_eq!((to, data), (&Target::All, &Value::Null));
    }

    #[test]
    fn bad_input_is_a_400_naming_the_field_and_emits_nothing() {
        let host = MockHost::new();
        for (path, body_text, message) in [
            ("/notifications/send", "{not json", "Request body is not JSON"),
            ("/notifications/send", "[1]", "Request body must be a JSON object"),
            (
                "/notifications/send",
                r#"{"message": "x"}"#,
                "userId should not be empty",
            ),
            (
                "/notifications/send",
                r#"{"userId": true}"#,
                "userId must be a string or a number",
            ),
            (
                "/notifications/send",
                r#"{"userId": 1, "event": 5}"#,
                "event must be a string",
            ),
            (
                "/notifications/send",
                r#"{"userId": 1, "event": "connect"}"#,
                "event `connect` is reserved by Socket.IO",
            ),
            ("/broadcast", r#"{"data": 1}"#, "event should not be empty"),
            (
                "/broadcast",
                r#"{"event": "e", "room": 3}"#,
                "room must be a string",
            ),
        ] {
            let res = post(&host, path, body_text);
            assert_eq!(
                (res.status, body(&res)),
                (
                    400,
                    json!({"statusCode": 400, "message": message, "error": "Bad Request"})
                ),
                "{path} {body_text}"
            );
        }
        let res = post(&host, "/elsewhere", "{}");
        assert_eq!(body(&res)["message"], "Cannot POST /elsewhere");
        assert!(host.recorded().is_empty());
    }
}
