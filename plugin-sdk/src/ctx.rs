//! What a call can see and do: [`Ctx`] for handlers, [`ServerCtx`] for their server
//! events, [`HttpCtx`] for HTTP handlers, [`Env`] for the other kinds.

use std::rc::Rc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::emit::{Emit, Namespace, Presence};
use crate::payload::{self, Attachments};
use crate::{Error, Host, Level, Payload, Socket};

/// Log, config and the socket, for every kind of plugin.
pub struct Env<'a> {
    host: &'a dyn Host,
    socket: Socket<'a>,
}

impl<'a> Env<'a> {
    /// An environment over `host`, which answers for the call's socket.
    pub fn new(host: &'a dyn Host) -> Env<'a> {
        Env {
            host,
            socket: Socket::new(host),
        }
    }

    /// The socket the call is about.
    pub fn socket(&self) -> &Socket<'a> {
        &self.socket
    }

    /// The verified identity's claims, when the connection authenticated.
    pub fn user<T: DeserializeOwned>(&self) -> Option<T> {
        self.socket.user()
    }

    /// The plugin's configuration, deserialized.
    pub fn config<T: DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_str(&self.host.config())
            .map_err(|e| Error::internal(format!("plugin config does not match its type: {e}")))
    }

    /// Writes a log line at `level`.
    pub fn log(&self, level: Level, message: &str) {
        self.host.log(level, message);
    }
}

/// Everything a handler call can do.
pub struct Ctx<'a> {
    env: Env<'a>,
    json: String,
    /// `None` when the event carried no binary (most do not): nothing to allocate.
    attachments: Option<Attachments>,
}

impl<'a> Ctx<'a> {
    /// A context over `host` (which answers for the calling socket) for an event
    /// carrying `payload`.
    pub fn new(host: &'a dyn Host, payload: impl Into<Payload>) -> Ctx<'a> {
        let Payload { json, attachments } = payload.into();
        Ctx {
            env: Env::new(host),
            json,
            attachments: (!attachments.is_empty()).then(|| Rc::new(attachments)),
        }
    }

    /// The socket that sent the event.
    pub fn socket(&self) -> &Socket<'a> {
        self.env.socket()
    }

    /// The verified identity's claims, when the connection authenticated.
    pub fn user<T: DeserializeOwned>(&self) -> Option<T> {
        self.env.user()
    }

    /// The plugin's configuration, deserialized.
    pub fn config<T: DeserializeOwned>(&self) -> Result<T, Error> {
        self.env.config()
    }

    /// Writes a log line at `level`.
    pub fn log(&self, level: Level, message: &str) {
        self.env.log(level, message);
    }

    /// The payload (the event's first argument), deserialized, its
    /// [`Binary`](crate::Binary) fields read from the attachments; a mismatch is a
    /// `VALIDATION_ERROR` naming what serde found wrong.
    pub fn payload<T: DeserializeOwned>(&self) -> Result<T, Error> {
        payload::decode(&self.json, self.attachments.as_ref()).map_err(|e| Error::validation(e.to_string()))
    }

    /// The payload as JSON text (binary stands as `{"_placeholder":true,"num":N}`).
    pub fn payload_json(&self) -> &str {
        &self.json
    }

    /// The event's binary attachments, the N-th placeholder's at index N.
    pub fn binary(&self) -> &[Vec<u8>] {
        self.attachments.as_deref().map_or(&[], Vec::as_slice)
    }

    /// Takes the payload out of the context (what is left is empty), to pass it on
    /// without a copy: `Reply::raw(ctx.take_payload())`.
    pub fn take_payload(&mut self) -> Payload {
        let attachments = self
            .attachments
            .take()
            .map(|shared| Rc::try_unwrap(shared).unwrap_or_else(|shared| (*shared).clone()))
            .unwrap_or_default();
        Payload {
            json: std::mem::take(&mut self.json),
            attachments,
        }
    }

    /// Emits to the sender only.
    pub fn emit(&self, event: &str, data: &impl Serialize) -> Result<(), Error> {
        self.here().to_socket(self.socket().id()).emit(event, data)
    }

    /// The caller's namespace.
    fn here(&self) -> Namespace<'a> {
        Namespace::new(self.env.host, None)
    }

    /// Another namespace, to emit to or read presence of (Socket.IO's `io.of(name)`).
    pub fn of(&self, namespace: &str) -> Namespace<'a> {
        Namespace::new(self.env.host, Some(namespace.to_owned()))
    }

    /// Emits to everyone in the namespace (chain `.except_sender()` to leave the sender out).
    pub fn broadcast(&self) -> Emit<'a> {
        self.here().broadcast()
    }

    /// Emits to the members of a room.
    pub fn to_room(&self, room: &str) -> Emit<'a> {
        self.here().to_room(room)
    }

    /// Emits to the members of any of these rooms (each once).
    pub fn to_rooms<I: IntoIterator<Item = S>, S: Into<String>>(&self, rooms: I) -> Emit<'a> {
        self.here().to_rooms(rooms)
    }

    /// Emits to one socket.
    pub fn to_socket(&self, id: &str) -> Emit<'a> {
        self.here().to_socket(id)
    }

    /// Emits to every socket of a user (room `user:<id>`).
    pub fn to_user(&self, id: &str) -> Emit<'a> {
        self.here().to_user(id)
    }

    /// Puts the sender in a room (after the call succeeds).
    pub fn join(&self, room: &str) {
        self.env.host.join(room, None);
    }

    /// Takes the sender out of a room (after the call succeeds).
    pub fn leave(&self, room: &str) {
        self.env.host.leave(room, None);
    }

    /// Disconnects the sender from the namespace (after the call succeeds).
    pub fn disconnect(&self) {
        self.env.host.disconnect(None);
    }

    /// The plugin's key/value store and room history.
    pub fn store(&self) -> Store<'a> {
        Store { host: self.env.host }
    }

    /// Who is online in the caller's namespace.
    pub fn presence(&self) -> Presence<'a> {
        self.here().presence()
    }
}

/// Everything an HTTP handler call can do: config, log, the store, and emits to and
/// presence of any namespace.
pub struct HttpCtx<'a> {
    host: &'a dyn Host,
}

impl<'a> HttpCtx<'a> {
    /// A context over `host`.
    pub fn new(host: &'a dyn Host) -> HttpCtx<'a> {
        HttpCtx { host }
    }

    /// The plugin's configuration, deserialized.
    pub fn config<T: DeserializeOwned>(&self) -> Result<T, Error> {
        Env::new(self.host).config()
    }

    /// Writes a log line at `level`.
    pub fn log(&self, level: Level, message: &str) {
        self.host.log(level, message);
    }

    /// A namespace to emit to or read presence of.
    pub fn of(&self, namespace: &str) -> Namespace<'a> {
        Namespace::new(self.host, Some(namespace.to_owned()))
    }

    /// The plugin's key/value store and room history.
    pub fn store(&self) -> Store<'a> {
        Store { host: self.host }
    }
}

/// Everything a handler's server-event call can do ([`Handler::on_server_event`](crate::Handler::on_server_event)):
/// config, log, the store, and emits to and presence of the namespace the event
/// arrived on ([`ServerCtx::here`]) or any other ([`ServerCtx::of`]). There is no socket.
pub struct ServerCtx<'a> {
    host: &'a dyn Host,
    namespace: String,
    attachments: Vec<Vec<u8>>,
}

impl<'a> ServerCtx<'a> {
    /// A context over `host` for a server event that arrived on `namespace`.
    pub fn new(host: &'a dyn Host, namespace: String) -> ServerCtx<'a> {
        ServerCtx {
            host,
            namespace,
            attachments: Vec::new(),
        }
    }

    /// The same, for arguments that carried binary.
    pub fn with_binary(mut self, attachments: Vec<Vec<u8>>) -> ServerCtx<'a> {
        self.attachments = attachments;
        self
    }

    /// The arguments' binary attachments, the N-th placeholder's at index N.
    pub fn binary(&self) -> &[Vec<u8>] {
        &self.attachments
    }

    /// The name of the namespace the event arrived on.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The namespace the event arrived on, to emit to or read presence of.
    pub fn here(&self) -> Namespace<'a> {
        Namespace::new(self.host, None)
    }

    /// Another namespace (Socket.IO's `io.of(name)`).
    pub fn of(&self, namespace: &str) -> Namespace<'a> {
        Namespace::new(self.host, Some(namespace.to_owned()))
    }

    /// The plugin's configuration, deserialized.
    pub fn config<T: DeserializeOwned>(&self) -> Result<T, Error> {
        Env::new(self.host).config()
    }

    /// Writes a log line at `level`.
    pub fn log(&self, level: Level, message: &str) {
        self.host.log(level, message);
    }

    /// The plugin's key/value store and room history.
    pub fn store(&self) -> Store<'a> {
        Store { host: self.host }
    }
}

/// Key/value and history, kept by the gateway and scoped to this plugin.
pub struct Store<'a> {
    host: &'a dyn Host,
}

impl Store<'_> {
    /// A value, if set and not expired.
    pub fn get(&self, key: &str) -> Option<String> {
        self.host.kv_get(key)
    }

    /// Sets a value, expiring after `ttl_ms` when given. A value over the gateway's
    /// `kv_max_value_bytes`, or a new key past its `kv_max_keys`, ends the call (a trap).
    pub fn set(&self, key: &str, value: &str, ttl_ms: Option<u64>) {
        self.host.kv_set(key, value, ttl_ms);
    }

    /// Deletes a value; true if it existed.
    pub fn delete(&self, key: &str) -> bool {
        self.host.kv_delete(key)
    }

    /// Adds `delta` to a counter and returns the new value (ids that only go up).
    pub fn incr(&self, key: &str, delta: i64) -> i64 {
        self.host.kv_incr(key, delta)
    }

    /// Appends an entry to a room's history, keeping the newest `max_len`.
    pub fn append(&self, room: &str, entry: &impl Serialize, max_len: u32) -> Result<(), Error> {
        let json = serde_json::to_string(entry).map_err(|e| Error::internal(e.to_string()))?;
        self.host.history_append(room, &json, max_len);
        Ok(())
    }

    /// The newest `limit` entries of a room's history, oldest first.
    pub fn history<T: DeserializeOwned>(&self, room: &str, limit: u32) -> Vec<T> {
        self.host
            .history_range(room, limit)
            .iter()
            .filter_map(|json| serde_json::from_str(json).ok())
            .collect()
    }
}
