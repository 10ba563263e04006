//! The rooms index. [`Adapter`] is the seam a cluster adapter (Redis) will implement:
//! it answers "which sockets match these targets" for its node and learns every join
//! and leave.

use std::collections::{HashMap, HashSet};
use std::sync::RwLock;

use super::broadcast::Targets;
use super::{Room, SocketId};

/// Room membership for one namespace.
pub trait Adapter: Send + Sync + 'static {
    /// Adds `sid` to each of `rooms`.
    fn join(&self, sid: &SocketId, rooms: &[Room]);
    /// Removes `sid` from `room`.
    fn leave(&self, sid: &SocketId, room: &str);
    /// Removes `sid` from every room.
    fn leave_all(&self, sid: &SocketId);
    /// The rooms `sid` is in.
    fn rooms_of(&self, sid: &str) -> Vec<Room>;
    /// The sockets in any of `targets.rooms` (or in `all` when it names none),
    /// minus those in an `except` room and the excepted socket.
    fn select(&self, targets: &Targets, all: &mut dyn Iterator<Item = SocketId>) -> Vec<SocketId>;
}

/// The single-node adapter: two maps under one lock.
#[derive(Debug, Default)]
pub struct LocalAdapter {
    /// A std lock: every section is a few map operations and never awaits.
    index: RwLock<Index>,
}

#[derive(Debug, Default)]
struct Index {
    members: HashMap<Room, HashSet<SocketId>>,
    rooms: HashMap<SocketId, HashSet<Room>>,
}

impl LocalAdapter {
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
    fn join(&self, sid: &SocketId, rooms: &[Room]) {
        let mut index = self.write();
        for room in rooms {
            index.members.entry(room.clone()).or_default().insert(sid.clone());
            index.rooms.entry(sid.clone()).or_default().insert(room.clone());
        }
    }

    fn leave(&self, sid: &SocketId, room: &str) {
        let mut index = self.write();
        if let Some(members) = index.members.get_mut(room) {
            members.remove(sid);
            if members.is_empty() {
                index.members.remove(room);
            }
        }
        if let Some(rooms) = index.rooms.get_mut(sid) {
            rooms.remove(room);
        }
    }

    fn leave_all(&self, sid: &SocketId) {
        let mut index = self.write();
        let Some(rooms) = index.rooms.remove(sid) else {
            return;
        };
        for room in rooms {
            if let Some(members) = index.members.get_mut(&room) {
                members.remove(sid);
                if members.is_empty() {
                    index.members.remove(&room);
                }
            }
        }
    }

    fn rooms_of(&self, sid: &str) -> Vec<Room> {
        self.read()
            .rooms
            .get(sid)
            .map(|r| r.iter().cloned().collect())
            .unwrap_or_default()
    }

    fn select(&self, targets: &Targets, all: &mut dyn Iterator<Item = SocketId>) -> Vec<SocketId> {
        let index = self.read();
        let excluded = |sid: &SocketId| {
            targets.except_socket.as_ref() == Some(sid)
                || targets
                    .except
                    .iter()
                    .any(|room| index.members.get(room).is_some_and(|m| m.contains(sid)))
        };
        if targets.rooms.is_empty() {
            return all.filter(|sid| !excluded(sid)).collect();
        }
        let mut seen = HashSet::new();
        targets
            .rooms
            .iter()
            .filter_map(|room| index.members.get(room))
            .flatten()
            .filter(|sid| !excluded(sid) && seen.insert((*sid).clone()))
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sid(s: &str) -> SocketId {
        s.into()
    }

    fn sorted(mut v: Vec<SocketId>) -> Vec<String> {
        v.sort();
        v.into_iter().map(|s| s.to_string()).collect()
    }

    fn adapter() -> LocalAdapter {
        let a = LocalAdapter::default();
        a.join(&sid("a"), &["a".into(), "red".into()]);
        a.join(&sid("b"), &["b".into(), "red".into(), "blue".into()]);
        a.join(&sid("c"), &["c".into(), "blue".into()]);
        a
    }

    fn all() -> impl Iterator<Item = SocketId> {
        ["a", "b", "c"].into_iter().map(sid)
    }

    #[test]
    fn selects_all_rooms_and_exceptions() {
        let a = adapter();
        let sel = |t: Targets| sorted(a.select(&t, &mut all()));
        assert_eq!(sel(Targets::default()), ["a", "b", "c"]);
        assert_eq!(sel(Targets::default().to("red")), ["a", "b"]);
        assert_eq!(
            sel(Targets::default().to("red").to("blue")),
            ["a", "b", "c"],
            "a union, each once"
        );
        assert_eq!(sel(Targets::default().to("red").except("blue")), ["a"]);
        assert_eq!(sel(Targets::default().except("red")), ["c"]);
        assert_eq!(sel(Targets::default().to("blue").except_socket(sid("c"))), ["b"]);
        assert_eq!(sel(Targets::default().to("nobody")), Vec::<String>::new());
        assert_eq!(
            sel(Targets::default().to("c")),
            ["c"],
            "the own-id room addresses one socket"
        );
    }

    #[test]
    fn leave_and_leave_all_clean_up() {
        let a = adapter();
        a.leave(&sid("a"), "red");
        assert_eq!(sorted(a.select(&Targets::default().to("red"), &mut all())), ["b"]);
        a.leave_all(&sid("b"));
        assert!(a.select(&Targets::default().to("red"), &mut all()).is_empty());
        assert!(a.rooms_of("b").is_empty());
        assert!(!a.read().members.contains_key("red"), "empty rooms are dropped");
        let mut rooms = a.rooms_of("c");
        rooms.sort();
        assert_eq!(rooms, vec![Room::from("blue"), Room::from("c")]);
    }
}
