//! Write Portico plugins in a few lines.
//!
//! A plugin is a Rust `cdylib` built for `wasm32-wasip2` that implements one of five
//! traits and marks the impl with [`plugin`]:
//!
//! ```ignore
//! use portico_sdk::{plugin, Ctx, Error, Handler, Reply};
//!
//! #[derive(serde::Deserialize)]
//! struct Say { text: String }
//!
//! struct Shout;
//!
//! #[plugin]
//! impl Handler for Shout {
//!     fn on_event(ctx: &mut Ctx, event: &str) -> Result<Reply, Error> {
//!         let say: Say = ctx.payload()?;
//!         ctx.broadcast().except_sender().emit("shout", &say.text.to_uppercase())?;
//!         Reply::ack(&portico_sdk::json!({ "sent": true }))
//!     }
//! }
//! ```
//!
//! Plugins must not rely on state between calls: an instance may be reused or
//! replaced at any time. Keep state in [`Ctx::store`].
//!
//! # Layout
//! - [`Handler`], [`Validator`], [`Guard`], [`Filter`], [`HttpHandler`]: the plugin kinds.
//! - [`Ctx`] (handlers), [`ServerCtx`] (their server events), [`HttpCtx`] (HTTP
//!   handlers) and [`Env`] (the others): what a call can see and do; [`Namespace`] and
//!   [`Emit`] address emits.
//! - [`http`]: requests, responses and NestJS-shaped HTTP errors.
//! - [`Payload`] and [`Binary`]: JSON with binary attachments; [`Socket`]: the
//!   socket a call is about, read lazily; [`Error`], [`Violation`]: the contract's types.
//! - [`rules`]: class-validator's rules (IsString, IsNotEmpty, MaxLength, …) driven by data.
//! - [`time`]: timestamps as JavaScript's `toISOString()` writes them.
//! - [`testing`]: a recording host, to test plugin logic natively with `cargo test`.
//! - [`Host`]: the seam between the SDK and the generated bindings.

mod ctx;
mod emit;
mod error;
pub mod http;
mod payload;
pub mod rules;
mod socket;
pub mod testing;
pub mod time;

pub use ctx::{Ctx, Env, HttpCtx, ServerCtx, Store};
pub use emit::{Emit, Namespace, Presence};
pub use error::{Error, Violation};
pub use payload::{Binary, Payload};
/// Event names Socket.IO keeps for itself (`connect`, `disconnect`, …): the gateway
/// refuses to emit them, and a call that tries fails as a whole.
pub use portico_protocol::socketio::{RESERVED_EVENTS, is_reserved_event};
pub use portico_sdk_macros::plugin;
pub use serde_json::{self, Value, json};
pub use socket::{Socket, SocketInfo};

#[doc(hidden)]
pub use wit_bindgen as __wit_bindgen;

/// Log severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Very detailed.
    Trace,
    /// Debugging.
    Debug,
    /// Normal operation.
    Info,
    /// Something odd.
    Warn,
    /// Something failed.
    Error,
}

/// Who receives an emit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Every socket in the namespace.
    All,
    /// Members of any of these rooms.
    Rooms(Vec<String>),
    /// One socket.
    Socket(String),
    /// Every socket of a user.
    User(String),
}

/// The gateway's imports as the SDK sees them; the `#[plugin]` expansion implements
/// it over the generated bindings, and [`testing::MockHost`] implements it natively.
/// Calls a world does not import are never made by the SDK in that world.
pub trait Host {
    /// Writes a log line.
    fn log(&self, level: Level, message: &str);
    /// The plugin's configuration as JSON.
    fn config(&self) -> String;
    /// The calling socket's id (empty when the call has no socket).
    fn socket_id(&self) -> String;
    /// The calling socket's namespace.
    fn socket_namespace(&self) -> String;
    /// The calling socket's verified claims as JSON.
    fn socket_user_json(&self) -> Option<String>;
    /// The calling socket's CONNECT `auth` as JSON.
    fn socket_auth_json(&self) -> String;
    /// The calling socket's handshake headers.
    fn socket_headers(&self) -> Vec<(String, String)>;
    /// The calling socket's handshake query string.
    fn socket_query(&self) -> String;
    /// The calling socket's rooms.
    fn socket_rooms(&self) -> Vec<String>;
    /// Queues an emit in `namespace` (the caller's when `None`).
    fn emit(
        &self,
        namespace: Option<&str>,
        event: &str,
        payload: Payload,
        to: &Target,
        except_rooms: &[String],
        except_sender: bool,
    );
    /// Queues a join.
    fn join(&self, room: &str, socket: Option<&str>);
    /// Queues a leave.
    fn leave(&self, room: &str, socket: Option<&str>);
    /// Queues a disconnect.
    fn disconnect(&self, socket: Option<&str>);
    /// Reads a key.
    fn kv_get(&self, key: &str) -> Option<String>;
    /// Writes a key.
    fn kv_set(&self, key: &str, value: &str, ttl_ms: Option<u64>);
    /// Deletes a key.
    fn kv_delete(&self, key: &str) -> bool;
    /// Adds to a counter.
    fn kv_incr(&self, key: &str, delta: i64) -> i64;
    /// Appends to a room's history.
    fn history_append(&self, room: &str, entry_json: &str, max_len: u32);
    /// Reads a room's newest history entries, oldest first.
    fn history_range(&self, room: &str, limit: u32) -> Vec<String>;
    /// Users online in a namespace (the caller's when `None`).
    fn online_users(&self, namespace: Option<&str>) -> Vec<OnlineUser>;
    /// A user's sockets in a namespace (the caller's when `None`).
    fn user_sockets(&self, namespace: Option<&str>, user_id: &str) -> Vec<String>;
    /// Whether a user has a socket in a namespace (the caller's when `None`).
    fn is_online(&self, namespace: Option<&str>, user_id: &str) -> bool;
}

/// A user who is online.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OnlineUser {
    /// The `sub` claim.
    pub user_id: String,
    /// `username` or `name` from the claims.
    pub username: String,
    /// How many sockets (tabs) the user has.
    pub sockets: u32,
}

/// What a handler answers: the ack the client receives, if it asked for one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reply(pub Option<Payload>);

impl Reply {
    /// No ack.
    pub fn none() -> Result<Reply, Error> {
        Ok(Reply(None))
    }

    /// Acks with `value` (its [`Binary`] fields as attachments).
    pub fn ack(value: &impl serde::Serialize) -> Result<Reply, Error> {
        Payload::from_value(value)
            .map(|payload| Reply(Some(payload)))
            .map_err(|e| Error::internal(e.to_string()))
    }

    /// Acks with a payload the plugin already has as JSON text (and attachments), sent
    /// as it is: `Reply::raw(ctx.take_payload())` echoes without a copy. The gateway
    /// checks the JSON before it reaches the client.
    pub fn raw(payload: impl Into<Payload>) -> Result<Reply, Error> {
        Ok(Reply(Some(payload.into())))
    }
}

/// Handles a namespace's connections and events (`handler-plugin` world).
pub trait Handler {
    /// A socket asks to join; an error refuses it with CONNECT_ERROR.
    fn on_connect(_ctx: &mut Ctx) -> Result<(), Error> {
        Ok(())
    }

    /// An event; the reply is the ack.
    fn on_event(ctx: &mut Ctx, event: &str) -> Result<Reply, Error>;

    /// The socket left, with Socket.IO's reason.
    fn on_disconnect(_ctx: &mut Ctx, _reason: &str) {}

    /// An event another node of the cluster sent to the servers (Socket.IO's
    /// `io.serverSideEmit(event, ...args)`, or a backend's `@socket.io/redis-emitter`),
    /// with its arguments; every other node runs it once. The answer is this node's
    /// acknowledgement, when the sender asked for them. Ignored unless implemented.
    /// The arguments' binary attachments are [`ServerCtx::binary`].
    fn on_server_event(_ctx: &mut ServerCtx, _event: &str, _args: &[Value]) -> Option<Value> {
        None
    }
}

/// Validates and may transform a payload before the handler (`validator-plugin` world).
pub trait Validator {
    /// The payload to pass on, or every violation.
    fn validate(env: &Env, event: &str, payload: Value) -> Result<Value, Vec<Violation>>;
}

/// Allows or refuses events (`guard-plugin` world).
pub trait Guard {
    /// `Ok` lets the event through.
    fn authorize(env: &Env, event: &str, payload: &Value) -> Result<(), Error>;
}

/// Shapes the errors clients receive (`filter-plugin` world), like a NestJS
/// exception filter's `client.emit('error', body)`.
pub trait Filter {
    /// The payload of the client's `error` event for `error`, raised while handling
    /// `event` whose first argument was `payload` (NestJS's
    /// `host.switchToWs().getData()`), or `None` to send nothing.
    fn catch(env: &Env, event: &str, payload: &Value, error: Error) -> Option<Value>;
}

/// Serves the HTTP routes the operator maps to the plugin (`http-handler-plugin`
/// world), like a NestJS controller. An `Err` is sent as NestJS's error body
/// `{statusCode, message, error}`; emits apply only when the status is below 400.
///
/// ```ignore
/// #[plugin]
/// impl HttpHandler for Push {
///     fn handle(ctx: &mut HttpCtx, req: &http::Request) -> Result<http::Response, http::HttpError> {
///         let body: Notice = req.json()?;                      // 400 naming the field
///         ctx.of("/chat").to_user(&body.user_id).emit("notification", &body.data)?;
///         http::Response::json(201, &json!({ "success": true }))
///     }
/// }
/// ```
pub trait HttpHandler {
    /// Answers a request.
    fn handle(ctx: &mut HttpCtx, request: &http::Request) -> Result<http::Response, http::HttpError>;
}

#[doc(hidden)]
pub mod __rt {
    //! Glue called by the `#[plugin]` expansion; not a public API. `host` answers
    //! for the call's socket.
    use super::*;

    pub fn on_connect<H: Handler>(host: &dyn Host) -> Result<(), Error> {
        H::on_connect(&mut Ctx::new(host, "null"))
    }

    pub fn on_event<H: Handler>(
        host: &dyn Host,
        event: &str,
        payload: Payload,
    ) -> Result<Option<Payload>, Error> {
        H::on_event(&mut Ctx::new(host, payload), event).map(|reply| reply.0)
    }

    pub fn on_disconnect<H: Handler>(host: &dyn Host, reason: &str) {
        H::on_disconnect(&mut Ctx::new(host, "null"), reason)
    }

    pub fn on_server_event<H: Handler>(
        host: &dyn Host,
        namespace: String,
        event: &str,
        args: Payload,
    ) -> Option<Payload> {
        let values: Vec<Value> = serde_json::from_str(&args.json).unwrap_or_default();
        let mut ctx = ServerCtx::new(host, namespace).with_binary(args.attachments);
        let answer = H::on_server_event(&mut ctx, event, &values)?;
        Payload::from_value(&answer).ok()
    }

    pub fn validate<V: Validator>(
        host: &dyn Host,
        event: &str,
        payload: Payload,
    ) -> Result<Payload, Vec<Violation>> {
        let value = serde_json::from_str(&payload.json).unwrap_or(Value::Null);
        V::validate(&Env::new(host), event, value).map(|v| Payload {
            json: v.to_string(),
            attachments: payload.attachments,
        })
    }

    pub fn authorize<G: Guard>(host: &dyn Host, event: &str, payload_json: &str) -> Result<(), Error> {
        let payload = serde_json::from_str(payload_json).unwrap_or(Value::Null);
        G::authorize(&Env::new(host), event, &payload)
    }

    pub fn catch<F: Filter>(host: &dyn Host, event: &str, payload: &Payload, error: Error) -> Option<String> {
        let payload = serde_json::from_str(&payload.json).unwrap_or(Value::Null);
        F::catch(&Env::new(host), event, &payload, error).map(|body| body.to_string())
    }

    pub fn handle_http<H: HttpHandler>(host: &dyn Host, request: http::Request) -> http::Response {
        H::handle(&mut HttpCtx::new(host), &request).unwrap_or_else(http::HttpError::into_response)
    }
}
