//! The journal's insides: the packets kept in sequence, the sessions waiting, and the
//! arithmetic of which packets a claim still finds.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use tokio_util::sync::CancellationToken;

use super::{RecoverySettings, Session};
use crate::outbound::Outbound;
use crate::protocol::engineio::Frame;
use crate::router::SocketId;
use crate::router::broadcast::Targets;

/// Everything a journal keeps, under its one lock.
#[derive(Debug, Default)]
pub(super) struct State {
    /// The sequence number of the next packet.
    pub(super) next: u64,
    /// Packets in sequence order, contiguous: the front's number is `next - len`.
    pub(super) packets: VecDeque<Logged>,
    /// What they weigh ([`Logged::bytes`]).
    pub(super) bytes: usize,
    /// Sessions by pid.
    pub(super) sessions: HashMap<Arc<str>, Waiting>,
    /// Pids in the order they left, with when: the cap takes from the front. An entry
    /// whose session was claimed or left again since is skipped.
    pub(super) order: VecDeque<(Arc<str>, Instant)>,
    /// The sockets still connected, by pid: a client may come back before this server
    /// has seen its old connection die.
    pub(super) live: HashMap<Arc<str>, SocketId>,
    /// On a shared stream: the id of the last entry recorded (kept or trimmed since).
    pub(super) last_id: Option<EntryId>,
}

/// One packet kept for replay.
#[derive(Debug)]
pub(super) struct Logged {
    /// Its entry id on a shared stream.
    pub(super) id: Option<EntryId>,
    pub(super) at: Instant,
    pub(super) targets: Targets,
    /// The encoded packet, offset included: what live recipients were sent.
    pub(super) item: Outbound,
    /// Its frames' bytes plus what keeping it costs.
    pub(super) bytes: usize,
}

/// A session waiting for its client.
#[derive(Debug)]
pub(super) struct Waiting {
    pub(super) session: Session,
    pub(super) left: Instant,
    pub(super) ended: CancellationToken,
}

impl State {
    /// Whether packet `seq` is still kept, so that all after it are.
    pub(super) fn holds(&self, seq: u64) -> bool {
        let first = self.next - self.packets.len() as u64;
        (first..self.next).contains(&seq)
    }

    /// Whether every packet from `seq` on is still kept (none yet counts).
    pub(super) fn keeps_from(&self, seq: u64) -> bool {
        let first = self.next - self.packets.len() as u64;
        (first..=self.next).contains(&seq)
    }

    /// The packets from `seq` on, which [`State::keeps_from`].
    pub(super) fn from(&self, seq: u64) -> impl Iterator<Item = &Logged> {
        let first = self.next - self.packets.len() as u64;
        self.packets.iter().skip((seq - first) as usize)
    }

    /// Drops packets older than the window, then the oldest past `max_bytes`.
    pub(super) fn trim(&mut self, settings: &RecoverySettings) {
        let now = Instant::now();
        while let Some(front) = self.packets.front() {
            let expired = now.duration_since(front.at) > settings.max_disconnection;
            if !expired && self.bytes <= settings.max_bytes {
                break;
            }
            self.bytes -= front.bytes;
            self.packets.pop_front();
        }
    }

    /// Pushes the oldest sessions out until at most `max` are kept; returns them.
    pub(super) fn evict(&mut self, max: usize) -> Vec<Session> {
        let mut evicted = Vec::new();
        while self.sessions.len() > max {
            let Some((pid, left)) = self.order.pop_front() else {
                break;
            };
            if self
                .sessions
                .get(&pid)
                .is_some_and(|waiting| waiting.left == left)
                && let Some(waiting) = self.sessions.remove(&pid)
            {
                waiting.ended.cancel();
                evicted.push(waiting.session);
            }
        }
        // Claimed, expired and re-persisted pids leave stale entries behind live ones.
        if self.order.len() > 2 * self.sessions.len() + 64 {
            let sessions = &self.sessions;
            self.order
                .retain(|(pid, left)| sessions.get(pid).is_some_and(|waiting| waiting.left == *left));
        }
        evicted
    }
}

/// A stream entry id, `<ms>-<seq>`, ordered as Redis orders them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct EntryId(pub(super) u64, pub(super) u64);

impl EntryId {
    pub(super) fn parse(id: &str) -> Option<EntryId> {
        let (ms, seq) = id.split_once('-')?;
        Some(EntryId(ms.parse().ok()?, seq.parse().ok()?))
    }
}

/// Whether a socket in `rooms` was among `targets`: in one of its rooms (any, when it
/// names none) and in none of its exceptions.
pub(super) fn reaches(targets: &Targets, rooms: &HashSet<&str>) -> bool {
    let included = targets.rooms.is_empty() || targets.rooms.iter().any(|r| rooms.contains(&**r));
    included && !targets.except.iter().any(|r| rooms.contains(&**r))
}

pub(super) fn targets_bytes(targets: &Targets) -> usize {
    targets
        .rooms
        .iter()
        .chain(&targets.except)
        .map(|room| room.len() + 16)
        .sum()
}

pub(super) fn item_bytes(item: &Outbound) -> usize {
    let frames: usize = item
        .frames()
        .iter()
        .map(|frame| match frame {
            Frame::Text(b) | Frame::Binary(b) => b.len(),
        })
        .sum();
    match item {
        Outbound::WsControl(b) => b.len(),
        _ => frames,
    }
}
