//! Who is online in a namespace: users (by `sub`) across all their sockets, so a user
//! with several tabs is online once, from their first socket to their last.

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

#[derive(Debug, Default)]
struct Entry {
    username: String,
    sockets: BTreeSet<SocketId>,
}

/// A namespace's presence table. A std mutex: a few map operations, never across an await.
#[derive(Debug, Default)]
pub struct Presence {
    users: Mutex<BTreeMap<String, Entry>>,
}

impl Presence {
    fn users(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Entry>> {
        self.users.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Records a user's socket.
    pub fn arrive(&self, user_id: &str, username: &str, sid: &SocketId) -> Transition {
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

    /// Forgets a user's socket.
    pub fn leave(&self, user_id: &str, sid: &SocketId) -> Transition {
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

    /// Every online user, by id.
    pub fn online(&self) -> Vec<OnlineUser> {
        self.users()
            .iter()
            .map(|(id, e)| OnlineUser {
                user_id: id.clone(),
                username: e.username.clone(),
                sockets: e.sockets.len(),
            })
            .collect()
    }

    /// A user's sockets (empty when offline).
    pub fn sockets_of(&self, user_id: &str) -> Vec<SocketId> {
        self.users()
            .get(user_id)
            .map(|e| e.sockets.iter().cloned().collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_is_online_from_first_to_last_socket() {
        let p = Presence::default();
        let (a, b) = (SocketId::from("a"), SocketId::from("b"));
        assert_eq!(p.arrive("42", "alice", &a), Transition::Online);
        assert_eq!(p.arrive("42", "alice", &b), Transition::Unchanged, "second tab");
        assert_eq!(
            p.online(),
            [OnlineUser {
                user_id: "42".into(),
                username: "alice".into(),
                sockets: 2
            }]
        );
        assert_eq!(p.leave("42", &a), Transition::Unchanged);
        assert_eq!(
            p.leave("42", &a),
            Transition::Unchanged,
            "leaving twice changes nothing"
        );
        assert_eq!(p.sockets_of("42"), vec![SocketId::from("b")]);
        assert_eq!(p.leave("42", &b), Transition::Offline);
        assert!(p.online().is_empty());
        assert_eq!(p.leave("7", &b), Transition::Unchanged);
    }
}
