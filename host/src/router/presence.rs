//! Who is online in a namespace: users (by `sub`) across all their sockets, so a user
//! with several tabs is online once, from their first socket to their last.
//!
//! [`Presence`] is the seam: [`LocalPresence`] knows this node's sockets; the cluster's
//! (in [`crate::cluster`]) knows every node's and decides, once for the cluster, when a
//! user's last socket anywhere has gone.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use serde::Serialize;

use super::SocketId;

/// One online user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OnlineUser {
    /// The `sub` claim.
    pub user_id: String,
    /// `username` or `name` from the claims, else the id.
    pub username: String,
    /// How many sockets the user has in the namespace.
    pub sockets: usize,
}

/// What changed for a user when a socket came or went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transition {
    /// The user's first socket: now online.
    Online,
    /// The user's last socket left: now offline.
    Offline,
    /// The user was and stays online.
    Unchanged,
}

/// A user as presence records them.
#[derive(Debug, Clone, PartialEq)]
pub struct PresenceUser {
    /// The `sub` claim, as text.
    pub user_id: String,
    /// `username` or `name` from the claims, else the id.
    pub username: String,
    /// The body of the user's `user_offline` event (`{userId, username}` as the
    /// claims have them), for a presence that announces it itself.
    pub announcement: Option<serde_json::Value>,
}

/// Who is online in a namespace, fed by its sockets on this node.
pub trait Presence: Send + Sync + 'static {
    /// A socket of `user` on this node was admitted.
    fn arrive(&self, user: &PresenceUser, sid: &SocketId);
    /// A socket of user `user_id` on this node left. [`Transition::Offline`] when that
    /// was the user's last socket and the namespace should say so; a presence that
    /// can only tell later (a cluster's) says [`Transition::Unchanged`] and announces
    /// `user_offline` itself once it knows.
    fn leave(&self, user_id: &str, sid: &SocketId) -> Transition;
    /// Every online user, by id.
    fn online(&self) -> Vec<OnlineUser>;
    /// A user's sockets (empty when offline).
    fn sockets_of(&self, user_id: &str) -> Vec<SocketId>;
    /// Whether the user has a socket.
    fn is_online(&self, user_id: &str) -> bool {
        !self.sockets_of(user_id).is_empty()
    }
}

#[derive(Debug, Default)]
struct Entry {
    username: String,
    announcement: Option<serde_json::Value>,
    sockets: BTreeSet<SocketId>,
}

/// This node's presence table. A std mutex: a few map operations, never across an await.
#[derive(Debug, Default)]
pub struct LocalPresence {
    users: Mutex<BTreeMap<String, Entry>>,
}

impl Presence for LocalPresence {
    fn arrive(&self, user: &PresenceUser, sid: &SocketId) {
        self.record(&user.user_id, &user.username, sid);
        if let Some(entry) = self.users().get_mut(&user.user_id) {
            entry.announcement.clone_from(&user.announcement);
        }
    }

    fn leave(&self, user_id: &str, sid: &SocketId) -> Transition {
        self.forget(user_id, sid)
    }

    fn online(&self) -> Vec<OnlineUser> {
        self.users()
            .iter()
            .map(|(id, e)| OnlineUser {
                user_id: id.clone(),
                username: e.username.clone(),
                sockets: e.sockets.len(),
            })
            .collect()
    }

    fn sockets_of(&self, user_id: &str) -> Vec<SocketId> {
        self.users()
            .get(user_id)
            .map(|e| e.sockets.iter().cloned().collect())
            .unwrap_or_default()
    }
}

impl LocalPresence {
    fn users(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Entry>> {
        self.users.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Records a user's socket.
    pub fn record(&self, user_id: &str, username: &str, sid: &SocketId) -> Transition {
        let mut users = self.users();
        let entry = users.entry(user_id.to_owned()).or_default();
        entry.username = username.to_owned();
        let first = entry.sockets.is_empty();
        entry.sockets.insert(sid.clone());
        if first {
            Transition::Online
        } else {
            Transition::Unchanged
        }
    }

    /// Every user with their name, `user_offline` body and sockets.
    pub fn entries(&self) -> Vec<(PresenceUser, Vec<SocketId>)> {
        self.users()
            .iter()
            .map(|(id, e)| {
                let user = PresenceUser {
                    user_id: id.clone(),
                    username: e.username.clone(),
                    announcement: e.announcement.clone(),
                };
                (user, e.sockets.iter().cloned().collect())
            })
            .collect()
    }

    /// Forgets a user's socket.
    pub fn forget(&self, user_id: &str, sid: &SocketId) -> Transition {
        let mut users = self.users();
        let Some(entry) = users.get_mut(user_id) else {
            return Transition::Unchanged;
        };
        if !entry.sockets.remove(sid) {
            return Transition::Unchanged;
        }
        if entry.sockets.is_empty() {
            users.remove(user_id);
            return Transition::Offline;
        }
        Transition::Unchanged
    }
}

/// A user's id and name from verified claims: `sub` (a number as its digits), and
/// `username` or `name`, else the id.
pub fn identity(claims: &serde_json::Value) -> Option<(String, String)> {
    let user_id = crate::auth::subject(claims)?;
    let username = ["username", "name"]
        .iter()
        .find_map(|k| claims.get(*k).and_then(serde_json::Value::as_str))
        .map_or_else(|| user_id.clone(), str::to_owned);
    Some((user_id, username))
}

/// Who is online among `sockets` (as `fetchSockets` lists them, from any node, Node's
/// included): their `data.user` claims grouped by user, by id.
pub fn online_among(sockets: &[crate::protocol::cluster::RemoteSocket]) -> Vec<OnlineUser> {
    let mut users: BTreeMap<String, OnlineUser> = BTreeMap::new();
    for socket in sockets {
        let Some((user_id, username)) = socket.data.get("user").and_then(identity) else {
            continue;
        };
        users
            .entry(user_id.clone())
            .or_insert_with(|| OnlineUser {
                user_id,
                username,
                sockets: 0,
            })
            .sockets += 1;
    }
    users.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_is_online_from_first_to_last_socket() {
        let p = LocalPresence::default();
        let (a, b) = (SocketId::from("a"), SocketId::from("b"));
        assert_eq!(p.record("42", "alice", &a), Transition::Online);
        assert_eq!(p.record("42", "alice", &b), Transition::Unchanged, "second tab");
        assert_eq!(
            p.online(),
            [OnlineUser {
                user_id: "42".into(),
                username: "alice".into(),
                sockets: 2
            }]
        );
        assert_eq!(p.forget("42", &a), Transition::Unchanged);
        assert_eq!(
            p.forget("42", &a),
            Transition::Unchanged,
            "leaving twice changes nothing"
        );
        assert_eq!(p.sockets_of("42"), vec![SocketId::from("b")]);
        assert_eq!(p.forget("42", &b), Transition::Offline);
        assert!(p.online().is_empty());
        assert_eq!(p.forget("7", &b), Transition::Unchanged);
    }

    #[test]
    fn online_among_fetched_sockets_groups_their_users() {
        use crate::protocol::cluster::RemoteSocket;
        let socket = |id: &str, data: serde_json::Value| RemoteSocket {
            id: id.into(),
            handshake: serde_json::Value::Null,
            rooms: Vec::new(),
            data,
        };
        let sockets = [
            socket("a", serde_json::json!({"user": {"sub": 42, "username": "alice"}})),
            socket(
                "b",
                serde_json::json!({"user": {"sub": "42", "username": "alice"}}),
            ),
            socket("c", serde_json::json!({"user": {"sub": "7", "name": "bob"}})),
            socket("d", serde_json::json!({})),
        ];
        assert_eq!(
            online_among(&sockets),
            [
                OnlineUser {
                    user_id: "42".into(),
                    username: "alice".into(),
                    sockets: 2
                },
                OnlineUser {
                    user_id: "7".into(),
                    username: "bob".into(),
                    sockets: 1
                },
            ]
        );
    }
}
