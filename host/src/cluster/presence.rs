//! Presence across the cluster: who is online on every node, and one decision, made
//! once for the cluster, that a user's last socket anywhere has gone.
//!
//! Each node publishes its presence changes on `<key>-portico-presence#<nsp>#` (a
//! Portico channel: Node nodes neither see nor need it) and applies everyone's, its own
//! included, in the order Redis delivers them, which is the same on every node. So every
//! node computes the same transitions, and the node whose message took a user's last
//! socket away is the one that announces `user_offline`: exactly once, whichever nodes
//! the user's tabs were on.
//!
//! Nodes heartbeat every [`HEARTBEAT`]; one silent for [`NODE_TIMEOUT`] (killed, say)
//! is declared dead by a message of its own, so its users go offline once as well.
//! After (re)subscribing, a node publishes a snapshot of its sockets and asks the
//! others for theirs, which repairs whatever an outage lost.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::router::SocketId;
use crate::router::presence::{LocalPresence, OnlineUser, Presence as _};

/// How often a node says it is alive.
pub const HEARTBEAT: Duration = Duration::from_secs(1);
/// How long a node may stay silent before it is declared dead: a killed node's users
/// are offline at most this plus one heartbeat after it died.
pub const NODE_TIMEOUT: Duration = Duration::from_secs(5);

/// What a node publishes about presence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PresenceMessage {
    /// A socket of `user` was admitted on `node`.
    Arrive {
        /// The publisher.
        node: String,
        /// The user's id.
        user: String,
        /// Their name.
        username: String,
        /// Their `user_offline` body, when the namespace announces it.
        #[serde(default)]
        body: Option<Value>,
        /// The socket.
        sid: String,
    },
    /// A socket of `user` left `node`.
    Leave {
        /// The publisher.
        node: String,
        /// The user's id.
        user: String,
        /// The socket.
        sid: String,
    },
    /// Every socket `node` has now: replaces what is known of it.
    Snapshot {
        /// The publisher.
        node: String,
        /// Its users and their sockets.
        users: Vec<SnapshotUser>,
    },
    /// `node` (re)joined and asks every node for a snapshot.
    Sync {
        /// The publisher.
        node: String,
    },
    /// `node` is alive.
    Heartbeat {
        /// The publisher.
        node: String,
    },
    /// `node` declares `dead` gone (silent for [`NODE_TIMEOUT`]).
    Dead {
        /// The publisher.
        node: String,
        /// The node declared dead.
        dead: String,
    },
}

impl PresenceMessage {
    fn node(&self) -> &str {
        match self {
            PresenceMessage::Arrive { node, .. }
            | PresenceMessage::Leave { node, .. }
            | PresenceMessage::Snapshot { node, .. }
            | PresenceMessage::Sync { node }
            | PresenceMessage::Heartbeat { node }
            | PresenceMessage::Dead { node, .. } => node,
        }
    }
}

/// One user in a snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotUser {
    /// The user's id.
    pub user: String,
    /// Their name.
    pub username: String,
    /// Their `user_offline` body.
    #[serde(default)]
    pub body: Option<Value>,
    /// Their sockets on the node.
    pub sids: Vec<String>,
}

#[derive(Debug, Clone, Default)]
struct UserView {
    username: String,
    body: Option<Value>,
    sids: BTreeSet<SocketId>,
}

#[derive(Debug)]
struct NodeView {
    users: HashMap<String, UserView>,
    last_seen: Instant,
}

impl NodeView {
    fn new(now: Instant) -> NodeView {
        NodeView {
            users: HashMap::new(),
            last_seen: now,
        }
    }
}

/// What applying a message asks of this node.
#[derive(Debug, Default, PartialEq)]
pub struct Outcome {
    /// `user_offline` bodies this node must announce: its message took those users'
    /// last sockets away.
    pub announce: Vec<Value>,
    /// Whether this node must publish its snapshot (asked for one, or declared dead
    /// while alive).
    pub send_snapshot: bool,
}

/// Every node's sockets, as the presence messages have told them, in Redis's order.
/// No I/O: messages in, decisions out.
#[derive(Debug)]
pub struct PresenceView {
    me: String,
    nodes: HashMap<String, NodeView>,
}

impl PresenceView {
    /// The view of node `me`.
    pub fn new(me: &str) -> PresenceView {
        PresenceView {
            me: me.to_owned(),
            nodes: HashMap::new(),
        }
    }

    fn present(&self, user: &str) -> bool {
        self.nodes
            .values()
            .any(|n| n.users.get(user).is_some_and(|u| !u.sids.is_empty()))
    }

    /// Applies one message; says what this node must do about it.
    pub fn apply(&mut self, message: PresenceMessage, now: Instant) -> Outcome {
        let mine = message.node() == self.me;
        let mut outcome = Outcome::default();
        // Users this message may take offline, with their bodies, seen before it applies.
        let mut leaving: Vec<(String, Option<Value>)> = Vec::new();
        match message {
            PresenceMessage::Arrive {
                node,
                user,
                username,
                body,
                sid,
            } => {
                let view = self.nodes.entry(node).or_insert_with(|| NodeView::new(now));
                view.last_seen = now;
                let entry = view.users.entry(user).or_default();
                entry.username = username;
                entry.body = body;
                entry.sids.insert(sid.into());
            }
            PresenceMessage::Leave { node, user, sid } => {
                let was = self.present(&user);
                let view = self.nodes.entry(node).or_insert_with(|| NodeView::new(now));
                view.last_seen = now;
                if let Some(entry) = view.users.get_mut(&user) {
                    entry.sids.remove(sid.as_str());
                    let body = entry.body.clone();
                    if entry.sids.is_empty() {
                        view.users.remove(&user);
                    }
                    if was {
                        leaving.push((user, body));
                    }
                }
            }
            PresenceMessage::Snapshot { node, users } => {
                let fresh: HashMap<String, UserView> = users
                    .into_iter()
                    .filter(|u| !u.sids.is_empty())
                    .map(|u| {
                        let view = UserView {
                            username: u.username,
                            body: u.body,
                            sids: u.sids.into_iter().map(SocketId::from).collect(),
                        };
                        (u.user, view)
                    })
                    .collect();
                let view = self.nodes.entry(node).or_insert_with(|| NodeView::new(now));
                view.last_seen = now;
                let old = std::mem::replace(&mut view.users, fresh);
                leaving.extend(old.into_iter().map(|(user, u)| (user, u.body)));
            }
            PresenceMessage::Sync { node } => {
                self.nodes
                    .entry(node)
                    .or_insert_with(|| NodeView::new(now))
                    .last_seen = now;
                outcome.send_snapshot = !mine;
            }
            PresenceMessage::Heartbeat { node } => {
                self.nodes
                    .entry(node)
                    .or_insert_with(|| NodeView::new(now))
                    .last_seen = now;
            }
            PresenceMessage::Dead { dead, .. } => {
                if dead == self.me {
                    // Declared dead while alive (a partition, a long pause): say what is here.
                    outcome.send_snapshot = true;
                } else if let Some(view) = self.nodes.remove(&dead) {
                    leaving.extend(view.users.into_iter().map(|(user, u)| (user, u.body)));
                }
            }
        }
        if mine {
            let mut seen = HashSet::new();
            for (user, body) in leaving {
                if seen.insert(user.clone())
                    && !self.present(&user)
                    && let Some(body) = body
                {
                    outcome.announce.push(body);
                }
            }
        }
        outcome
    }

    /// Marks every node as just heard from: after an outage, nobody is declared dead
    /// before it had a chance to heartbeat.
    pub fn touch_all(&mut self, now: Instant) {
        for view in self.nodes.values_mut() {
            view.last_seen = now;
        }
    }

    /// Other nodes silent for longer than `timeout`.
    pub fn silent(&self, now: Instant, timeout: Duration) -> Vec<String> {
        self.nodes
            .iter()
            .filter(|(node, view)| **node != self.me && now.duration_since(view.last_seen) > timeout)
            .map(|(node, _)| node.clone())
            .collect()
    }

    /// The users of other nodes merged with this node's own (which `local` has first
    /// hand, before its messages come back), by id.
    pub fn online(&self, local: &LocalPresence) -> Vec<OnlineUser> {
        let mut users: std::collections::BTreeMap<String, OnlineUser> = local
            .online()
            .into_iter()
            .map(|u| (u.user_id.clone(), u))
            .collect();
        for (node, view) in &self.nodes {
            if *node == self.me {
                continue;
            }
            for (id, u) in &view.users {
                let entry = users.entry(id.clone()).or_insert_with(|| OnlineUser {
                    user_id: id.clone(),
                    username: u.username.clone(),
                    sockets: 0,
                });
                entry.sockets += u.sids.len();
            }
        }
        users.into_values().collect()
    }

    /// The user's sockets on other nodes.
    pub fn sockets_elsewhere(&self, user: &str) -> Vec<SocketId> {
        self.nodes
            .iter()
            .filter(|(node, _)| **node != self.me)
            .filter_map(|(_, view)| view.users.get(user))
            .flat_map(|u| u.sids.iter().cloned())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn arrive(node: &str, user: &str, sid: &str) -> PresenceMessage {
        PresenceMessage::Arrive {
            node: node.into(),
            user: user.into(),
            username: format!("name{user}"),
            body: Some(json!({ "userId": user })),
            sid: sid.into(),
        }
    }

    fn leave(node: &str, user: &str, sid: &str) -> PresenceMessage {
        PresenceMessage::Leave {
            node: node.into(),
            user: user.into(),
            sid: sid.into(),
        }
    }

    /// Two nodes' views fed the same messages in the same order.
    fn both(views: &mut [PresenceView; 2], m: PresenceMessage, now: Instant) -> [Outcome; 2] {
        let [a, b] = views;
        [a.apply(m.clone(), now), b.apply(m, now)]
    }

    #[test]
    fn the_node_that_takes_the_last_socket_anywhere_announces_once() {
        let now = Instant::now();
        let mut views = [PresenceView::new("A"), PresenceView::new("B")];
        both(&mut views, arrive("A", "42", "a1"), now);
        both(&mut views, arrive("B", "42", "b1"), now);
        // Two tabs on two nodes close at once: whatever the order, one announcement.
        let [a, b] = both(&mut views, leave("A", "42", "a1"), now);
        assert_eq!((a.announce.len(), b.announce.len()), (0, 0), "a tab is left on B");
        let [a, b] = both(&mut views, leave("B", "42", "b1"), now);
        assert_eq!(a.announce, Vec::<Value>::new());
        assert_eq!(b.announce, vec![json!({ "userId": "42" })], "B took the last one");
        // Leaving twice, or a socket never seen, announces nothing.
        let [a, b] = both(&mut views, leave("B", "42", "b1"), now);
        assert!(a.announce.is_empty() && b.announce.is_empty());
    }

    #[test]
    fn a_silent_node_is_declared_dead_and_its_users_go_offline_once() {
        let t0 = Instant::now();
        let mut views = [PresenceView::new("A"), PresenceView::new("B")];
        both(&mut views, arrive("C", "7", "c1"), t0);
        both(&mut views, arrive("A", "8", "a1"), t0);
        both(&mut views, arrive("C", "8", "c2"), t0);
        let later = t0 + NODE_TIMEOUT + Duration::from_secs(1);
        assert_eq!(views[0].silent(later, NODE_TIMEOUT), vec!["C".to_owned()]);
        // Both notice; both declare; the first applied decides, the second does nothing.
        let dead = |by: &str| PresenceMessage::Dead {
            node: by.into(),
            dead: "C".into(),
        };
        let [a, b] = both(&mut views, dead("B"), later);
        assert!(a.announce.is_empty());
        assert_eq!(b.announce, vec![json!({ "userId": "7" })], "user 8 is still on A");
        let [a, b] = both(&mut views, dead("A"), later);
        assert!(a.announce.is_empty() && b.announce.is_empty());
        assert!(views[0].silent(later, NODE_TIMEOUT).is_empty());
        // A live node declared dead answers with its snapshot.
        let [a, _] = both(
            &mut views,
            PresenceMessage::Dead {
                node: "B".into(),
                dead: "A".into(),
            },
            later,
        );
        assert!(a.send_snapshot);
    }

    #[test]
    fn a_snapshot_replaces_a_nodes_sockets_and_announces_what_it_dropped() {
        let now = Instant::now();
        let mut views = [PresenceView::new("A"), PresenceView::new("B")];
        both(&mut views, arrive("A", "1", "a1"), now);
        both(&mut views, arrive("A", "2", "a2"), now);
        // A's leave of user 1 was lost in an outage; its snapshot after it says so.
        let snapshot = PresenceMessage::Snapshot {
            node: "A".into(),
            users: vec![SnapshotUser {
                user: "2".into(),
                username: "two".into(),
                body: None,
                sids: vec!["a2".into()],
            }],
        };
        let [a, b] = both(&mut views, snapshot, now);
        assert_eq!(a.announce, vec![json!({ "userId": "1" })]);
        assert!(b.announce.is_empty());
        assert_eq!(views[1].sockets_elsewhere("2"), vec![SocketId::from("a2")]);
        assert!(views[1].sockets_elsewhere("1").is_empty());
        // A sync from B asks A (not B) for a snapshot.
        let [a, b] = both(&mut views, PresenceMessage::Sync { node: "B".into() }, now);
        assert!(a.send_snapshot && !b.send_snapshot);
    }

    #[test]
    fn online_merges_this_nodes_own_with_the_others() {
        let now = Instant::now();
        let mut view = PresenceView::new("A");
        let local = LocalPresence::default();
        local.record("1", "one", &SocketId::from("a1"));
        view.apply(arrive("A", "1", "a1"), now); // its own echo: not counted twice
        view.apply(arrive("B", "1", "b1"), now);
        view.apply(arrive("B", "2", "b2"), now);
        let online = view.online(&local);
        assert_eq!(
            online
                .iter()
                .map(|u| (u.user_id.as_str(), u.sockets))
                .collect::<Vec<_>>(),
            [("1", 2), ("2", 1)]
        );
    }

    #[test]
    fn messages_are_the_documented_json() {
        let m: PresenceMessage =
            serde_json::from_value(json!({"type": "leave", "node": "n", "user": "u", "sid": "s"}))
                .expect("leave");
        assert_eq!(m, leave("n", "u", "s"));
        let text = serde_json::to_value(PresenceMessage::Heartbeat { node: "n".into() }).expect("json");
        assert_eq!(text, json!({"type": "heartbeat", "node": "n"}));
        assert!(serde_json::from_value::<PresenceMessage>(json!({"type": "nope", "node": "n"})).is_err());
    }
}
