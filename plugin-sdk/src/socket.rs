//! The socket a call is about: [`Socket`], read from the gateway field by field when
//! the plugin first asks (and kept for the rest of the call), and [`SocketInfo`], the
//! same details as plain data, for [`testing::MockHost`](crate::testing::MockHost).

use std::cell::OnceCell;

use serde::de::DeserializeOwned;

use crate::Host;

/// What the gateway knows about a socket, as plain data.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SocketInfo {
    /// The socket id (also the name of its own room).
    pub id: String,
    /// The namespace, like `/chat`.
    pub namespace: String,
    /// The verified identity's claims as JSON, when the connection authenticated.
    pub user_json: Option<String>,
    /// The CONNECT `auth` payload as JSON.
    pub auth_json: String,
    /// The handshake request's headers, names in lower case.
    pub headers: Vec<(String, String)>,
    /// The handshake request's query string, without the `?`.
    pub query: String,
    /// The rooms the socket is in, its own id's room included.
    pub rooms: Vec<String>,
}

/// The socket a call is about ([`Ctx::socket`](crate::Ctx::socket)). Each detail
/// costs one call into the gateway the first time it is read, none after.
pub struct Socket<'a> {
    host: &'a dyn Host,
    id: OnceCell<String>,
    namespace: OnceCell<String>,
    user_json: OnceCell<Option<String>>,
    auth_json: OnceCell<String>,
}

impl<'a> Socket<'a> {
    pub(crate) fn new(host: &'a dyn Host) -> Socket<'a> {
        Socket {
            host,
            id: OnceCell::new(),
            namespace: OnceCell::new(),
            user_json: OnceCell::new(),
            auth_json: OnceCell::new(),
        }
    }

    /// The socket id (also the name of its own room).
    pub fn id(&self) -> &str {
        self.id.get_or_init(|| self.host.socket_id())
    }

    /// The namespace, like `/chat`.
    pub fn namespace(&self) -> &str {
        self.namespace.get_or_init(|| self.host.socket_namespace())
    }

    /// The verified identity's claims as JSON, when the connection authenticated.
    pub fn user_json(&self) -> Option<&str> {
        self.user_json
            .get_or_init(|| self.host.socket_user_json())
            .as_deref()
    }

    /// The verified identity's claims, deserialized (`None` when anonymous or when
    /// they do not match `T`).
    pub fn user<T: DeserializeOwned>(&self) -> Option<T> {
        serde_json::from_str(self.user_json()?).ok()
    }

    /// The CONNECT `auth` payload as JSON (`{}` when the client sent none; Socket.IO's
    /// `socket.handshake.auth`).
    pub fn auth_json(&self) -> &str {
        self.auth_json.get_or_init(|| self.host.socket_auth_json())
    }

    /// The handshake request's headers, names in lower case.
    pub fn headers(&self) -> Vec<(String, String)> {
        self.host.socket_headers()
    }

    /// The first value of a handshake header (`name` in lower case).
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers()
            .into_iter()
            .find_map(|(n, v)| (n == name).then_some(v))
    }

    /// The handshake request's query string, without the `?`.
    pub fn query(&self) -> String {
        self.host.socket_query()
    }

    /// The rooms the socket is in on this node, its own id's room included, as they
    /// were when the call began.
    pub fn rooms(&self) -> Vec<String> {
        self.host.socket_rooms()
    }
}

impl std::fmt::Debug for Socket<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Socket")
            .field("id", &self.id.get())
            .finish_non_exhaustive()
    }
}
