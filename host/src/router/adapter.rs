//! The rooms index. [`Adapter`] is the seam a cluster adapter (Redis) will implement:
//! it answers "which sockets match these targets" for its node and learns every join
//! and leave.

use std::collections::{HashMap, HashSet};
use std::sync::RwLock;

use rustc_hash::{FxHashMap, FxHashSet};

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
    /// Calls `visit` once for each socket in any of `targets.rooms` (or in `all` when
    /// it names none), minus those in an `except` room and the excepted socket. Ids
    /// are lent, not cloned: a broadcast visits every recipient.
    fn for_each_target<'a>(
        &self,
        targets: &Targets,
        all: &mut dyn Iterator<Item = &'a SocketId>,
        visit: &mut dyn FnMut(&SocketId),
    );

    /// The sockets [`Adapter::for_each_target`] visits, collected.
    fn select(&self, targets: &Targets, all: &mut dyn Iterator<Item = &SocketId>) -> Vec<SocketId> {
        let mut selected = Vec::new();
        self.for_each_target(targets, all, &mut |sid| selected.push(sid.clone()));
        selected
    }
}

/// The single-node adapter: two maps under one lock.
#[derive(Debug, Default)]
pub struct LocalAdapter {
    /// A std lock: every section is a few map operations and never awaits.
    index: RwLock<Index>,
}

/// Room names come from clients, so they keep std's DoS-resistant hashing; socket ids
/// are random and made here, so sets and maps of them use the faster Fx hash (a
/// broadcast hashes every recipient's id).
#[derive(Debug, Default)]
struct Index {
    members: HashMap<Room, FxHashSet<SocketId>>,
    rooms: FxHashMap<SocketId, HashSet<Room>>,
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

    fn for_each_target<'a>(
        &self,
        targets: &Targets,
        all: &mut dyn Iterator<Item = &'a SocketId>,
        visit: &mut dyn FnMut(&SocketId),
    ) {
        let index = self.read();
        let excluded = |sid: &SocketId| {
            targets.except_socket.as_ref() == Some(sid)
                || targets
                    .except
                    .iter()
                    .any(|room| index.members.get(room).is_some_and(|m| m.contains(sid)))
        };
        let visit_unless_excluded = |sid: &SocketId| {
            if !excluded(sid) {
                visit(sid);
            }
        };
        match targets.rooms.as_slice() {
            [] => all.for_each(visit_unless_excluded),
            // One room has no duplicates to skip.
            [room] => index
                .members
                .get(room)
                .into_iter()
                .flatten()
                .for_each(visit_unless_excluded),
            rooms => {
                let mut seen = FxHashSet::default();
                rooms
                    .iter()
                    .filter_map(|room| index.members.get(room))
                    .flatten()
                    .filter(|sid| seen.insert(*sid))
                    .for_each(visit_unless_excluded);
            }
        }
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

    fn ids() -> Vec<SocketId> {
        ["a", "b", "c"].into_iter().map(sid).collect()
    }

    #[test]
    fn selects_all_rooms_and_exceptions() {
        let a = adapter();
        let all = ids();
        let sel = |t: Targets| sorted(a.select(&t, &mut all.iter()));
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
        let all = ids();
        a.leave(&sid("a"), "red");
        assert_eq!(
            sorted(a.select(&Targets::default().to("red"), &mut all.iter())),
            ["b"]
        );
        a.leave_all(&sid("b"));
        assert!(
            a.select(&Targets::default().to("red"), &mut all.iter())
                .is_empty()
        );
        assert!(a.rooms_of("b").is_empty());
        assert!(!a.read().members.contains_key("red"), "empty rooms are dropped");
        let mut rooms = a.rooms_of("c");
        rooms.sort();
        assert_eq!(rooms, vec![Room::from("blue"), Room::from("c")]);
    }
}
