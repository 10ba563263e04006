//! Delivery: which sockets an emit, a room change or a disconnect reaches, and the
//! queueing itself. [`Adapter`] is the seam a cluster adapter implements: the local
//! one owns this node's sockets and rooms; a Redis one also publishes what it is
//! asked to do, for the other nodes, and applies what they publish.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, OnceLock, RwLock, Weak};

use rustc_hash::{FxHashMap, FxHashSet};

use super::broadcast::{OutgoingEvent, Targets};
use super::handler::BoxFuture;
use super::namespace::Namespace;
use super::recovery::Journal;
use super::socket::Socket;
use super::{Room, SocketId};
use crate::protocol::cluster::RemoteSocket;

/// Why a question to the other nodes got no full answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdapterError {
    /// The cluster link is down, so the other nodes cannot be asked.
    #[error("the cluster is unreachable: {0}")]
    Unavailable(String),
    /// Some nodes did not answer in time.
    #[error("{missing} of {asked} nodes did not answer within the requests timeout")]
    Timeout {
        /// Nodes asked.
        asked: usize,
        /// Nodes that did not answer.
        missing: usize,
    },
}

/// A namespace's sockets and rooms, and delivery to them.
pub trait Adapter: Send + Sync + 'static {
    /// Called once, as its namespace is made: the namespace it serves, through which
    /// it disconnects this node's sockets when asked to (by targets, or by another
    /// node). Weak: the namespace owns its adapter, not the other way round.
    fn attach(&self, ns: Weak<Namespace>);
    /// Registers an admitted socket and puts it in its own room.
    fn add(&self, socket: &Socket);
    /// Forgets a socket and takes it out of every room.
    fn remove(&self, sid: &SocketId);
    /// A socket of this node, by id.
    fn socket(&self, sid: &str) -> Option<Socket>;
    /// How many sockets this node has in the namespace.
    fn len(&self) -> usize;
    /// Whether this node has no socket in the namespace.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Adds the socket `sid` (registered or still connecting) to each of `rooms`, or
    /// to none and returns false when that would put it in more than `cap` rooms.
    fn join(&self, sid: &SocketId, rooms: &[Room], cap: usize) -> bool;
    /// Removes the socket `sid` from `room`.
    fn leave(&self, sid: &SocketId, room: &str);
    /// The rooms the socket `sid` is in, its own room included.
    fn rooms_of(&self, sid: &str) -> Vec<Room>;
    /// Queues `event` (encoded at most once per framing) to every socket `targets`
    /// addresses; returns how many of them are on this node.
    fn broadcast(&self, targets: &Targets, event: &OutgoingEvent) -> usize;
    /// Adds every socket `targets` addresses to each of `rooms` (`socketsJoin`).
    fn add_sockets(&self, targets: &Targets, rooms: &[Room]);
    /// Removes every socket `targets` addresses from each of `rooms` (`socketsLeave`).
    fn del_sockets(&self, targets: &Targets, rooms: &[Room]);
    /// Disconnects every socket `targets` addresses (`close`: their whole connection,
    /// not just the namespace); returns how many were on this node.
    fn disconnect_sockets(&self, targets: &Targets, close: bool) -> usize;
    /// This node's sockets that `targets` addresses: collected under the adapter's
    /// lock, used after it, so no lock is held while they are queued to or closed.
    fn local_sockets(&self, targets: &Targets) -> Vec<Socket>;
    /// The sockets `targets` addresses on every node (`fetchSockets`).
    fn fetch_sockets<'a>(
        &'a self,
        targets: &'a Targets,
    ) -> BoxFuture<'a, Result<Vec<RemoteSocket>, AdapterError>>;
    /// How many nodes serve the namespace, this one included.
    fn server_count(&self) -> BoxFuture<'_, Result<usize, AdapterError>>;
    /// What it keeps for connection state recovery, when that is on: every event it
    /// delivers goes through it.
    fn journal(&self) -> Option<&Arc<Journal>> {
        None
    }
}

/// The single-node adapter: the sockets and both directions of the room index under
/// one lock, so a socket's registration and its rooms change together.
#[derive(Debug, Default)]
pub struct LocalAdapter {
    /// A std lock: every section is a few map operations and never awaits.
    index: RwLock<Index>,
    /// The namespace it serves ([`Adapter::attach`]).
    ns: OnceLock<Weak<Namespace>>,
    /// Connection state recovery's record of what it delivers, when on.
    journal: Option<Arc<Journal>>,
}

/// Room names come from clients, so they keep std's DoS-resistant hashing; socket ids
/// are random and made here, so sets and maps of them use the faster Fx hash (a
/// broadcast hashes every recipient's id).
#[derive(Debug, Default)]
struct Index {
    sockets: FxHashMap<SocketId, Socket>,
    members: HashMap<Room, FxHashSet<SocketId>>,
    rooms: FxHashMap<SocketId, HashSet<Room>>,
}

impl Index {
    fn join(&mut self, sid: &SocketId, rooms: &[Room]) {
        for room in rooms {
            self.members.entry(room.clone()).or_default().insert(sid.clone());
            self.rooms.entry(sid.clone()).or_default().insert(room.clone());
        }
    }

    fn leave(&mut self, sid: &SocketId, room: &str) {
        if let Some(members) = self.members.get_mut(room) {
            members.remove(sid);
            if members.is_empty() {
                self.members.remove(room);
            }
        }
        if let Some(rooms) = self.rooms.get_mut(sid) {
            rooms.remove(room);
            if rooms.is_empty() {
                self.rooms.remove(sid);
            }
        }
    }

    fn leave_all(&mut self, sid: &SocketId) {
        let Some(rooms) = self.rooms.remove(sid) else {
            return;
        };
        for room in rooms {
            if let Some(members) = self.members.get_mut(&room) {
                members.remove(sid);
                if members.is_empty() {
                    self.members.remove(&room);
                }
            }
        }
    }

    /// Calls `visit` once for each registered socket in any of `targets.rooms` (every
    /// socket when it names none), minus the members of `targets.except`.
    fn for_each_target(&self, targets: &Targets, mut visit: impl FnMut(&Socket)) {
        // The excluded, gathered once: a broadcast then costs one lookup per recipient
        // however many rooms it excepts (`except` is usually the sender's own room).
        let excluded: FxHashSet<&SocketId> = targets
            .except
            .iter()
            .filter_map(|room| self.members.get(room))
            .flatten()
            .collect();
        let included = |sid: &SocketId| excluded.is_empty() || !excluded.contains(sid);
        let visit_member = |sid: &SocketId| {
            if included(sid)
                && let Some(socket) = self.sockets.get(sid)
            {
                visit(socket);
            }
        };
        match targets.rooms.as_slice() {
            [] => self
                .sockets
                .iter()
                .filter(|(sid, _)| included(sid))
                .for_each(|(_, socket)| visit(socket)),
            // One room has no duplicates to skip.
            [room] => self
                .members
                .get(room)
                .into_iter()
                .flatten()
                .for_each(visit_member),
            rooms => {
                let mut seen = FxHashSet::default();
                rooms
                    .iter()
                    .filter_map(|room| self.members.get(room))
                    .flatten()
                    .filter(|sid| seen.insert(*sid))
                    .for_each(visit_member);
            }
        }
    }

    fn targeted_ids(&self, targets: &Targets) -> Vec<SocketId> {
        let mut ids = Vec::new();
        self.for_each_target(targets, |socket| ids.push(socket.id().clone()));
        ids
    }
}

impl LocalAdapter {
    /// An adapter that keeps what it delivers in `journal` (connection state recovery).
    pub fn with_journal(journal: Option<Arc<Journal>>) -> LocalAdapter {
        LocalAdapter {
            journal,
            ..LocalAdapter::default()
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Index> {
        self.index.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Index> {
        self.index
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Adapter for LocalAdapter {
    fn attach(&self, ns: Weak<Namespace>) {
        let _ = self.ns.set(ns);
    }

    fn add(&self, socket: &Socket) {
        let mut index = self.write();
        let sid = socket.id().clone();
        index.sockets.insert(sid.clone(), socket.clone());
        index.join(&sid, std::slice::from_ref(&sid));
    }

    fn remove(&self, sid: &SocketId) {
        let mut index = self.write();
        index.sockets.remove(sid);
        index.leave_all(sid);
    }

    fn socket(&self, sid: &str) -> Option<Socket> {
        self.read().sockets.get(sid).cloned()
    }

    fn len(&self) -> usize {
        self.read().sockets.len()
    }

    fn join(&self, sid: &SocketId, rooms: &[Room], cap: usize) -> bool {
        let mut index = self.write();
        if cap != usize::MAX {
            let current = index.rooms.get(sid);
            let new = rooms
                .iter()
                .filter(|room| !current.is_some_and(|c| c.contains(*room)))
                .collect::<HashSet<_>>()
                .len();
            if current.map_or(0, HashSet::len) + new > cap {
                return false;
            }
        }
        index.join(sid, rooms);
        true
    }

    fn leave(&self, sid: &SocketId, room: &str) {
        self.write().leave(sid, room);
    }

    fn rooms_of(&self, sid: &str) -> Vec<Room> {
        self.read()
            .rooms
            .get(sid)
            .map(|r| r.iter().cloned().collect())
            .unwrap_or_default()
    }

    fn broadcast(&self, targets: &Targets, event: &OutgoingEvent) -> usize {
        self.broadcast_at(None, targets, event)
    }

    fn add_sockets(&self, targets: &Targets, rooms: &[Room]) {
        // Selected and joined under one lock: a socket removed meanwhile is not there.
        let mut index = self.write();
        for sid in index.targeted_ids(targets) {
            index.join(&sid, rooms);
        }
    }

    fn del_sockets(&self, targets: &Targets, rooms: &[Room]) {
        let mut index = self.write();
        for sid in index.targeted_ids(targets) {
            for room in rooms {
                index.leave(&sid, room);
            }
        }
    }

    fn disconnect_sockets(&self, targets: &Targets, close: bool) -> usize {
        let sockets = self.local_sockets(targets);
        let ns = self.namespace();
        for socket in &sockets {
            if close {
                socket.close_connection(crate::reason::DisconnectReason::ServerNamespaceDisconnect);
            } else if let Some(ns) = &ns {
                ns.disconnect(socket);
            }
        }
        sockets.len()
    }

    fn local_sockets(&self, targets: &Targets) -> Vec<Socket> {
        let mut sockets = Vec::new();
        self.read()
            .for_each_target(targets, |socket| sockets.push(socket.clone()));
        sockets
    }

    fn fetch_sockets<'a>(
        &'a self,
        targets: &'a Targets,
    ) -> BoxFuture<'a, Result<Vec<RemoteSocket>, AdapterError>> {
        let sockets = self.describe(targets);
        Box::pin(std::future::ready(Ok(sockets)))
    }

    fn server_count(&self) -> BoxFuture<'_, Result<usize, AdapterError>> {
        Box::pin(std::future::ready(Ok(1)))
    }

    fn journal(&self) -> Option<&Arc<Journal>> {
        self.journal.as_ref()
    }
}

impl LocalAdapter {
    /// [`Adapter::broadcast`] of an entry read back from a shared stream with id
    /// `entry` (its recovery offset); `None` for anything else.
    pub fn broadcast_at(&self, entry: Option<&str>, targets: &Targets, event: &OutgoingEvent) -> usize {
        let deliver = || {
            let sockets = self.local_sockets(targets);
            for socket in &sockets {
                socket.deliver(event);
            }
            sockets.len()
        };
        match (&self.journal, entry) {
            (Some(journal), Some(entry)) => journal.record_at(entry, targets, event, deliver),
            (Some(journal), None) => journal.record(targets, event, deliver),
            (None, _) => deliver(),
        }
    }

    /// The namespace it serves, while it exists (`None` before [`Adapter::attach`]).
    pub fn namespace(&self) -> Option<Arc<Namespace>> {
        self.ns.get().and_then(Weak::upgrade)
    }

    /// This node's sockets that `targets` addresses, as `fetchSockets` lists them.
    pub fn describe(&self, targets: &Targets) -> Vec<RemoteSocket> {
        let index = self.read();
        let mut sockets = Vec::new();
        index.for_each_target(targets, |socket| {
            let rooms = index
                .rooms
                .get(socket.id())
                .map(|r| r.iter().cloned().collect())
                .unwrap_or_default();
            sockets.push(socket.describe(rooms));
        });
        sockets
    }

    /// Whether any socket of this node is in `room`.
    pub fn has_room(&self, room: &str) -> bool {
        self.read().members.contains_key(room)
    }

    /// Every room with a socket of this node in it.
    pub fn room_names(&self) -> Vec<Room> {
        self.read().members.keys().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbound::Outbox;
    use crate::router::{Framing, Handshake};

    /// Sockets `a`, `b` and `c` registered in an adapter of their own; `a` and `b` in
    /// `red`, `b` and `c` in `blue`.
    fn adapter() -> (LocalAdapter, [Socket; 3]) {
        let socket = || {
            let (outbox, _rx) = Outbox::new(4);
            Socket::new("/", Arc::new(outbox), Framing::SocketIo, Handshake::default())
        };
        let sockets = [socket(), socket(), socket()];
        let a = LocalAdapter::default();
        for s in &sockets {
            a.add(s);
        }
        let [x, y, z] = &sockets;
        assert!(a.join(x.id(), &["red".into()], usize::MAX));
        assert!(a.join(y.id(), &["red".into(), "blue".into()], usize::MAX));
        assert!(a.join(z.id(), &["blue".into()], usize::MAX));
        (a, sockets)
    }

    /// The names (`a`, `b`, `c`) of the sockets `targets` reaches.
    fn reached(a: &LocalAdapter, sockets: &[Socket; 3], targets: &Targets) -> Vec<&'static str> {
        let ids: Vec<SocketId> = a.local_sockets(targets).iter().map(|s| s.id().clone()).collect();
        ["a", "b", "c"]
            .into_iter()
            .zip(sockets)
            .filter(|(_, s)| ids.contains(s.id()))
            .map(|(name, _)| name)
            .collect()
    }

    #[test]
    fn targets_reach_rooms_minus_exceptions_each_socket_once() {
        let (a, s) = adapter();
        let sel = |t: Targets| {
            let found = a.local_sockets(&t).len();
            let names = reached(&a, &s, &t);
            assert_eq!(found, names.len(), "each socket once");
            names
        };
        assert_eq!(sel(Targets::default()), ["a", "b", "c"]);
        assert_eq!(sel(Targets::default().to("red")), ["a", "b"]);
        assert_eq!(
            sel(Targets::default().to("red").to("blue")),
            ["a", "b", "c"],
            "a union"
        );
        assert_eq!(sel(Targets::default().to("red").except("blue")), ["a"]);
        assert_eq!(sel(Targets::default().except("red")), ["c"]);
        assert_eq!(
            sel(Targets::default().to("blue").except(s[2].id().clone())),
            ["b"]
        );
        assert_eq!(sel(Targets::default().to("nobody")), Vec::<&str>::new());
        assert_eq!(
            sel(Targets::default().to(s[2].id().clone())),
            ["c"],
            "the own room"
        );
    }

    #[test]
    fn remove_takes_a_socket_out_of_every_room_and_empty_rooms_go() {
        let (a, s) = adapter();
        a.leave(s[0].id(), "red");
        assert_eq!(reached(&a, &s, &Targets::default().to("red")), ["b"]);
        a.remove(s[1].id());
        assert!(a.local_sockets(&Targets::default().to("red")).is_empty());
        assert!(a.rooms_of(s[1].id()).is_empty());
        assert!(a.socket(s[1].id()).is_none());
        assert!(!a.read().members.contains_key("red"), "empty rooms are dropped");
        let mut rooms = a.rooms_of(s[2].id());
        rooms.sort();
        let mut expected = vec![Room::from("blue"), s[2].id().clone()];
        expected.sort();
        assert_eq!(rooms, expected);
        assert_eq!(a.len(), 2);
    }

    #[test]
    fn sockets_join_and_leave_by_targets_but_a_removed_one_does_not() {
        let (a, s) = adapter();
        a.remove(s[0].id());
        a.add_sockets(&Targets::default().to("red"), &["green".into()]);
        assert_eq!(reached(&a, &s, &Targets::default().to("green")), ["b"]);
        a.add_sockets(&Targets::default().to(s[0].id().clone()), &["green".into()]);
        assert!(
            a.rooms_of(s[0].id()).is_empty(),
            "a removed socket joined by targets"
        );
        a.del_sockets(&Targets::default().to("blue"), &["green".into(), "blue".into()]);
        assert!(a.local_sockets(&Targets::default().to("green")).is_empty());
        assert!(a.local_sockets(&Targets::default().to("blue")).is_empty());
    }

    #[test]
    fn a_join_past_the_cap_joins_none_and_rooms_already_joined_cost_nothing() {
        let (a, s) = adapter();
        let b = s[1].id();
        // `b` is in its own room, `red` and `blue`: three.
        assert!(a.join(b, &["red".into(), "blue".into()], 3), "already in both");
        assert!(
            !a.join(b, &["green".into(), "red".into()], 3),
            "green is a fourth"
        );
        assert_eq!(a.rooms_of(b).len(), 3, "nothing joined");
        assert!(!a.join(b, &["x".into(), "y".into()], 4), "two new, one place");
        assert!(
            a.join(b, &["x".into(), "x".into()], 4),
            "the same new room twice is one"
        );
        assert_eq!(a.rooms_of(b).len(), 4);
    }
}
