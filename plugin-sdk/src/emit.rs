//! Addressing emits and reading presence in a namespace: [`Namespace`] (the caller's,
//! or another one with `of`), [`Emit`], [`Presence`].

use serde::Serialize;

use crate::{Error, Host, OnlineUser, Payload, Target};

/// A namespace as a plugin addresses it, like Socket.IO's `io.of("/chat")`:
/// [`Ctx::of`](crate::Ctx::of), [`HttpCtx::of`](crate::HttpCtx::of).
pub struct Namespace<'a> {
    host: &'a dyn Host,
    /// `None` is the caller's namespace (`/` for an HTTP handler).
    name: Option<String>,
}

impl<'a> Namespace<'a> {
    pub(crate) fn new(host: &'a dyn Host, name: Option<String>) -> Namespace<'a> {
        Namespace { host, name }
    }

    fn emit_to(&self, to: Target) -> Emit<'a> {
        Emit {
            host: self.host,
            namespace: self.name.clone(),
            to,
            except_rooms: Vec::new(),
            except_sender: false,
        }
    }

    /// Emits to every socket in the namespace.
    pub fn broadcast(&self) -> Emit<'a> {
        self.emit_to(Target::All)
    }

    /// Emits to the members of a room.
    pub fn to_room(&self, room: &str) -> Emit<'a> {
        self.emit_to(Target::Rooms(vec![room.to_owned()]))
    }

    /// Emits to the members of any of these rooms (each once).
    pub fn to_rooms<I: IntoIterator<Item = S>, S: Into<String>>(&self, rooms: I) -> Emit<'a> {
        self.emit_to(Target::Rooms(rooms.into_iter().map(Into::into).collect()))
    }

    /// Emits to one socket.
    pub fn to_socket(&self, id: &str) -> Emit<'a> {
        self.emit_to(Target::Socket(id.to_owned()))
    }

    /// Emits to every socket of a user (room `user:<id>`).
    pub fn to_user(&self, id: &str) -> Emit<'a> {
        self.emit_to(Target::User(id.to_owned()))
    }

    /// Who is online in the namespace.
    pub fn presence(&self) -> Presence<'a> {
        Presence {
            host: self.host,
            namespace: self.name.clone(),
        }
    }
}

/// An emit being addressed; `emit` sends it (after the call succeeds).
#[must_use = "an Emit does nothing until .emit(..) is called"]
pub struct Emit<'a> {
    host: &'a dyn Host,
    namespace: Option<String>,
    to: Target,
    except_rooms: Vec<String>,
    except_sender: bool,
}

impl<'a> Emit<'a> {
    /// Leaves out the sender.
    pub fn except_sender(mut self) -> Emit<'a> {
        self.except_sender = true;
        self
    }

    /// Leaves out the members of `room`.
    pub fn except(mut self, room: &str) -> Emit<'a> {
        self.except_rooms.push(room.to_owned());
        self
    }

    /// Sends `event` with `data` (its [`Binary`](crate::Binary) fields as attachments).
    pub fn emit(self, event: &str, data: &impl Serialize) -> Result<(), Error> {
        let payload = Payload::from_value(data).map_err(|e| Error::internal(e.to_string()))?;
        self.emit_raw(event, payload);
        Ok(())
    }

    /// Sends `event` with a payload the plugin already has as JSON text (and
    /// attachments), as it is; the gateway checks it before anyone receives it.
    pub fn emit_raw(self, event: &str, payload: impl Into<Payload>) {
        self.host.emit(
            self.namespace.as_deref(),
            event,
            payload.into(),
            &self.to,
            &self.except_rooms,
            self.except_sender,
        );
    }
}

/// Who is online in a namespace, as the gateway tracks it (users with a verified
/// identity).
pub struct Presence<'a> {
    host: &'a dyn Host,
    namespace: Option<String>,
}

impl Presence<'_> {
    /// Users online.
    pub fn online_users(&self) -> Vec<OnlineUser> {
        self.host.online_users(self.namespace.as_deref())
    }

    /// A user's socket ids.
    pub fn user_sockets(&self, user_id: &str) -> Vec<String> {
        self.host.user_sockets(self.namespace.as_deref(), user_id)
    }

    /// Whether a user is online.
    pub fn is_online(&self, user_id: &str) -> bool {
        self.host.is_online(self.namespace.as_deref(), user_id)
    }
}
