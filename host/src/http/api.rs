//! The operator API, for services that are not plugins: emit to a namespace's rooms,
//! users and sockets, disconnect sockets, list who is online. Served only when
//! `[api] key` is set; every call must carry `Authorization: Bearer <key>`, compared
//! in constant time. Errors are JSON `{message}` that name the offending field.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{FromRequestParts, Query, Request, State};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use http::request::Parts;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use subtle::ConstantTimeEq;

use super::BodyError;
use crate::protocol::socketio::{Payload, is_reserved_event};
use crate::router::{Namespace, Room, Targets};
use crate::server::Gateway;

/// Why an API call was refused; mapped to its status and `{message}` in one place.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// No or the wrong `Authorization: Bearer` key.
    #[error("Unauthorized")]
    Unauthorized,
    /// The body is over `http.max_body_bytes`.
    #[error("request body larger than http.max_body_bytes ({0})")]
    TooLarge(usize),
    /// The body could not be read.
    #[error("cannot read the request body")]
    Unreadable,
    /// The body is not JSON.
    #[error("request body is not JSON: {0}")]
    NotJson(String),
    /// A field is missing or wrong.
    #[error("{0}")]
    Field(String),
    /// The namespace is not served.
    #[error("`namespace`: `{0}` is not served")]
    UnknownNamespace(String),
    /// The other nodes could not be asked, or did not all answer.
    #[error("{0}")]
    Cluster(#[from] crate::router::adapter::AdapterError),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match self {
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Unreadable | ApiError::NotJson(_) | ApiError::Field(_) => StatusCode::BAD_REQUEST,
            ApiError::UnknownNamespace(_) => StatusCode::NOT_FOUND,
            ApiError::Cluster(_) => StatusCode::SERVICE_UNAVAILABLE,
        };
        let body = Json(json!({ "message": self.to_string() }));
        if self == ApiError::Unauthorized {
            return (status, [(http::header::WWW_AUTHENTICATE, "Bearer")], body).into_response();
        }
        (status, body).into_response()
    }
}

/// Proof that a request carries the operator key.
pub struct Operator;

impl FromRequestParts<Gateway> for Operator {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, gateway: &Gateway) -> Result<Operator, ApiError> {
        let expected = gateway.api_key().ok_or(ApiError::Unauthorized)?;
        let given = parts
            .headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or(ApiError::Unauthorized)?;
        if bool::from(given.as_bytes().ct_eq(expected.as_bytes())) {
            Ok(Operator)
        } else {
            Err(ApiError::Unauthorized)
        }
    }
}

/// Reads a JSON body of at most `limit` bytes into `T`, naming the field that is wrong.
async fn read_json<T: DeserializeOwned>(body: Body, limit: usize) -> Result<T, ApiError> {
    let bytes = super::read_body(body, limit).await.map_err(|err| match err {
        BodyError::TooLarge => ApiError::TooLarge(limit),
        BodyError::Unreadable => ApiError::Unreadable,
    })?;
    let value: Value =
        serde_json::from_slice(&bytes).map_err(|e| ApiError::NotJson(without_position(&e.to_string())))?;
    serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        let message = without_position(&err.into_inner().to_string());
        ApiError::Field(if path == "." {
            message
        } else {
            format!("`{path}`: {message}")
        })
    })
}

/// serde_json's message without its ` at line 1 column 7`.
fn without_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_owned(),
        None => message.to_owned(),
    }
}

/// A user id as JSON gives it: `42` and `"42"` are the same user, room `user:42`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct UserId(String);

impl<'de> Deserialize<'de> for UserId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<UserId, D::Error> {
        match Value::deserialize(deserializer)? {
            Value::String(id) => Ok(UserId(id)),
            Value::Number(id) => Ok(UserId(id.to_string())),
            other => Err(serde::de::Error::custom(format!(
                "expected a user id (a string or a number), found {other}"
            ))),
        }
    }
}

/// The namespace named by a call, and the rooms it addresses: the union of `rooms`,
/// `users` (room `user:<id>`) and `sockets` (each socket's own room); empty means the
/// whole namespace.
fn addressed<'g>(
    gateway: &'g Gateway,
    namespace: &str,
    rooms: &[String],
    users: &[UserId],
    sockets: &[String],
) -> Result<(&'g Arc<Namespace>, Vec<Room>), ApiError> {
    let ns = gateway
        .namespaces()
        .get(namespace)
        .ok_or_else(|| ApiError::UnknownNamespace(namespace.to_owned()))?;
    let rooms = rooms
        .iter()
        .map(|r| Room::from(r.as_str()))
        .chain(users.iter().map(|u| Room::from(format!("user:{}", u.0))))
        .chain(sockets.iter().map(|s| Room::from(s.as_str())))
        .collect();
    Ok((ns, rooms))
}

/// `POST /api/v1/emit`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EmitRequest {
    namespace: String,
    event: String,
    data: Value,
    #[serde(default)]
    rooms: Vec<String>,
    #[serde(default)]
    except: Vec<String>,
    #[serde(default)]
    users: Vec<UserId>,
    #[serde(default)]
    sockets: Vec<String>,
}

/// `POST /api/v1/emit {namespace, event, data, rooms?, except?, users?, sockets?}`:
/// emits `event` with `data` to the addressed sockets (the whole namespace when none is
/// named), minus the members of `except`.
pub async fn emit(_: Operator, State(gateway): State<Gateway>, req: Request) -> Result<Response, ApiError> {
    let request: EmitRequest = read_json(req.into_body(), gateway.max_body_bytes()).await?;
    if request.event.is_empty() || is_reserved_event(&request.event) {
        return Err(ApiError::Field(format!(
            "`event`: `{}` cannot be emitted (empty, or reserved by Socket.IO)",
            request.event
        )));
    }
    let (ns, rooms) = addressed(
        &gateway,
        &request.namespace,
        &request.rooms,
        &request.users,
        &request.sockets,
    )?;
    let targets = Targets {
        rooms,
        except: request.except.iter().map(|r| Room::from(r.as_str())).collect(),
    };
    ns.emit(&targets, &request.event, Payload::json(vec![request.data]));
    Ok(Json(json!({ "ok": true })).into_response())
}

/// `POST /api/v1/disconnect`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DisconnectRequest {
    namespace: String,
    #[serde(default)]
    rooms: Vec<String>,
    #[serde(default)]
    users: Vec<UserId>,
    #[serde(default)]
    sockets: Vec<String>,
}

/// `POST /api/v1/disconnect {namespace, rooms?, users?, sockets?}`: disconnects the
/// addressed sockets from the namespace (at least one target must be named; a socket
/// in several is disconnected once). Answers how many were disconnected.
pub async fn disconnect(
    _: Operator,
    State(gateway): State<Gateway>,
    req: Request,
) -> Result<Response, ApiError> {
    let request: DisconnectRequest = read_json(req.into_body(), gateway.max_body_bytes()).await?;
    let (ns, rooms) = addressed(
        &gateway,
        &request.namespace,
        &request.rooms,
        &request.users,
        &request.sockets,
    )?;
    if rooms.is_empty() {
        return Err(ApiError::Field(
            "one of `rooms`, `users`, `sockets` must name at least one target".to_owned(),
        ));
    }
    let disconnected = ns
        .disconnect_everywhere(&Targets {
            rooms,
            ..Targets::default()
        })
        .await;
    Ok(Json(json!({ "ok": true, "disconnected": disconnected })).into_response())
}

/// The namespace a query names (`/` when it names none), if served.
fn served(gateway: &Gateway, name: Option<String>) -> Result<(String, Arc<Namespace>), ApiError> {
    let name = name.unwrap_or_else(|| "/".to_owned());
    match gateway.namespaces().get(&name) {
        Some(ns) => Ok((name, ns.clone())),
        None => Err(ApiError::UnknownNamespace(name)),
    }
}

/// The presence endpoint's query.
#[derive(Debug, Deserialize)]
pub struct PresenceQuery {
    namespace: Option<String>,
}

/// `GET /api/v1/presence?namespace=/chat`: the users online in a namespace (`/` by
/// default) on every node, with their socket counts.
pub async fn presence(
    _: Operator,
    State(gateway): State<Gateway>,
    Query(query): Query<PresenceQuery>,
) -> Result<Response, ApiError> {
    let (name, ns) = served(&gateway, query.namespace)?;
    let users = ns.online_everywhere().await?;
    Ok(Json(json!({ "namespace": name, "users": users })).into_response())
}

/// The sockets endpoint's query.
#[derive(Debug, Deserialize)]
pub struct SocketsQuery {
    namespace: Option<String>,
    room: Option<String>,
}

/// `GET /api/v1/sockets?namespace=/chat&room=general`: the sockets of a namespace, or of
/// one of its rooms, on every node of the cluster (Socket.IO's `fetchSockets`), each
/// with its handshake, rooms and `data` (`{user}`).
pub async fn sockets(
    _: Operator,
    State(gateway): State<Gateway>,
    Query(query): Query<SocketsQuery>,
) -> Result<Response, ApiError> {
    let (name, ns) = served(&gateway, query.namespace)?;
    let mut targets = Targets::default();
    if let Some(room) = query.room {
        targets = targets.to(room);
    }
    let sockets = ns.adapter().fetch_sockets(&targets).await?;
    Ok(Json(json!({ "namespace": name, "sockets": sockets })).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_dropped_from_serde_messages() {
        assert_eq!(
            without_position("expected value at line 1 column 2"),
            "expected value"
        );
        assert_eq!(without_position("missing field `event`"), "missing field `event`");
    }

    #[test]
    fn numeric_and_string_user_ids_are_the_same_room() {
        let ids: Vec<UserId> = serde_json::from_value(json!([42, "42"])).expect("ids");
        assert_eq!(ids[0], ids[1]);
        let err = serde_json::from_value::<UserId>(json!(true)).expect_err("not an id");
        assert_eq!(
            err.to_string(),
            "expected a user id (a string or a number), found true"
        );
    }
}
