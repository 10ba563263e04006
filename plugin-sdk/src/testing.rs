//! A native [`Host`] that records what a plugin asked for, so plugin logic is tested
//! with plain `cargo test`:
//!
//! ```
//! use portico_sdk::testing::{MockHost, Recorded};
//! use portico_sdk::{Ctx, SocketInfo};
//!
//! let host = MockHost::new().with_socket(SocketInfo { id: "s1".into(), ..Default::default() });
//! let ctx = Ctx::new(&host, "{}");
//! assert_eq!(ctx.socket().id(), "s1");
//! ctx.join("lobby");
//! assert_eq!(host.recorded(), vec![Recorded::Join { room: "lobby".into(), socket: None }]);
//! ```

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};

use crate::{Host, Level, OnlineUser, Payload, SocketInfo, Target};

/// Something a plugin asked the host to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Recorded {
    /// An emit, with its payload parsed.
    Emit {
        /// The namespace named with `of`, `None` for the caller's.
        namespace: Option<String>,
        /// Event name.
        event: String,
        /// Payload (binary as placeholders).
        data: serde_json::Value,
        /// The payload's attachments.
        attachments: Vec<Vec<u8>>,
        /// Recipients.
        to: Target,
        /// Rooms left out.
        except_rooms: Vec<String>,
        /// Whether the sender is left out.
        except_sender: bool,
    },
    /// A join.
    Join {
        /// Room.
        room: String,
        /// Socket, the caller when `None`.
        socket: Option<String>,
    },
    /// A leave.
    Leave {
        /// Room.
        room: String,
        /// Socket, the caller when `None`.
        socket: Option<String>,
    },
    /// A disconnect.
    Disconnect {
        /// Socket, the caller when `None`.
        socket: Option<String>,
    },
}

/// A recording host with an in-memory store, answering for one socket (set with
/// [`MockHost::with_socket`] or [`MockHost::set_socket`]; every field empty by
/// default). Presence is one table for every namespace.
#[derive(Debug, Default)]
pub struct MockHost {
    config: String,
    socket: RefCell<SocketInfo>,
    recorded: RefCell<Vec<Recorded>>,
    logs: RefCell<Vec<(Level, String)>>,
    kv: RefCell<HashMap<String, String>>,
    history: RefCell<HashMap<String, VecDeque<String>>>,
    online: RefCell<Vec<(OnlineUser, Vec<String>)>>,
}

impl MockHost {
    /// A host with config `{}`.
    pub fn new() -> MockHost {
        MockHost::with_config(serde_json::json!({}))
    }

    /// A host whose plugin config is `config`.
    pub fn with_config(config: serde_json::Value) -> MockHost {
        MockHost {
            config: config.to_string(),
            ..MockHost::default()
        }
    }

    /// The same host, answering for `socket`.
    pub fn with_socket(self, socket: SocketInfo) -> MockHost {
        self.set_socket(socket);
        self
    }

    /// Answers for `socket` from now on (a test that plays several clients).
    pub fn set_socket(&self, socket: SocketInfo) {
        *self.socket.borrow_mut() = socket;
    }

    /// What was asked so far, in order.
    pub fn recorded(&self) -> Vec<Recorded> {
        self.recorded.borrow().clone()
    }

    /// Forgets what was recorded (the store is kept).
    pub fn clear(&self) {
        self.recorded.borrow_mut().clear();
    }

    /// Marks a user online with these socket ids.
    pub fn set_online(&self, user_id: &str, username: &str, sockets: &[&str]) {
        let mut online = self.online.borrow_mut();
        online.retain(|(u, _)| u.user_id != user_id);
        let user = OnlineUser {
            user_id: user_id.to_owned(),
            username: username.to_owned(),
            sockets: sockets.len() as u32,
        };
        online.push((user, sockets.iter().map(|s| (*s).to_owned()).collect()));
    }

    /// Log lines written so far.
    pub fn logs(&self) -> Vec<(Level, String)> {
        self.logs.borrow().clone()
    }
}

impl Host for MockHost {
    fn log(&self, level: Level, message: &str) {
        self.logs.borrow_mut().push((level, message.to_owned()));
    }

    fn config(&self) -> String {
        self.config.clone()
    }

    fn socket_id(&self) -> String {
        self.socket.borrow().id.clone()
    }

    fn socket_namespace(&self) -> String {
        self.socket.borrow().namespace.clone()
    }

    fn socket_user_json(&self) -> Option<String> {
        self.socket.borrow().user_json.clone()
    }

    fn socket_auth_json(&self) -> String {
        self.socket.borrow().auth_json.clone()
    }

    fn socket_headers(&self) -> Vec<(String, String)> {
        self.socket.borrow().headers.clone()
    }

    fn socket_query(&self) -> String {
        self.socket.borrow().query.clone()
    }

    fn socket_rooms(&self) -> Vec<String> {
        self.socket.borrow().rooms.clone()
    }

    fn emit(
        &self,
        namespace: Option<&str>,
        event: &str,
        payload: Payload,
        to: &Target,
        except_rooms: &[String],
        except_sender: bool,
    ) {
        self.recorded.borrow_mut().push(Recorded::Emit {
            namespace: namespace.map(str::to_owned),
            event: event.to_owned(),
            data: serde_json::from_str(&payload.json).unwrap_or(serde_json::Value::Null),
            attachments: payload.attachments,
            to: to.clone(),
            except_rooms: except_rooms.to_vec(),
            except_sender,
        });
    }

    fn join(&self, room: &str, socket: Option<&str>) {
        self.recorded.borrow_mut().push(Recorded::Join {
            room: room.to_owned(),
            socket: socket.map(str::to_owned),
        });
    }

    fn leave(&self, room: &str, socket: Option<&str>) {
        self.recorded.borrow_mut().push(Recorded::Leave {
            room: room.to_owned(),
            socket: socket.map(str::to_owned),
        });
    }

    fn disconnect(&self, socket: Option<&str>) {
        self.recorded.borrow_mut().push(Recorded::Disconnect {
            socket: socket.map(str::to_owned),
        });
    }

    fn kv_get(&self, key: &str) -> Option<String> {
        self.kv.borrow().get(key).cloned()
    }

    fn kv_set(&self, key: &str, value: &str, _ttl_ms: Option<u64>) {
        self.kv.borrow_mut().insert(key.to_owned(), value.to_owned());
    }

    fn kv_delete(&self, key: &str) -> bool {
        self.kv.borrow_mut().remove(key).is_some()
    }

    fn kv_incr(&self, key: &str, delta: i64) -> i64 {
        let mut kv = self.kv.borrow_mut();
        let next = kv
            .get(key)
            .and_then(|v| v.parse::<i64>().ok())
            .unwrap_or(0)
            .saturating_add(delta);
        kv.insert(key.to_owned(), next.to_string());
        next
    }

    fn history_append(&self, room: &str, entry_json: &str, max_len: u32) {
        let mut history = self.history.borrow_mut();
        let list = history.entry(room.to_owned()).or_default();
        list.push_back(entry_json.to_owned());
        while list.len() > max_len as usize {
            list.pop_front();
        }
    }

    fn online_users(&self, _namespace: Option<&str>) -> Vec<OnlineUser> {
        self.online.borrow().iter().map(|(u, _)| u.clone()).collect()
    }

    fn user_sockets(&self, _namespace: Option<&str>, user_id: &str) -> Vec<String> {
        self.online
            .borrow()
            .iter()
            .find(|(u, _)| u.user_id == user_id)
            .map(|(_, s)| s.clone())
            .unwrap_or_default()
    }

    fn is_online(&self, _namespace: Option<&str>, user_id: &str) -> bool {
        self.online.borrow().iter().any(|(u, _)| u.user_id == user_id)
    }

    fn history_range(&self, room: &str, limit: u32) -> Vec<String> {
        let history = self.history.borrow();
        let Some(list) = history.get(room) else {
            return Vec::new();
        };
        list.iter()
            .skip(list.len().saturating_sub(limit as usize))
            .cloned()
            .collect()
    }
}
