//! Connection state recovery (Socket.IO 4.6+): what a namespace keeps so that a client
//! which lost its connection comes back as the same socket and misses nothing.
//!
//! The [`Journal`] gives every event the namespace sends without an ack an *offset*,
//! appended as its last argument (the client remembers the last one it saw), and keeps
//! the encoded packet for `max_disconnection`, within `max_bytes`. A socket that leaves
//! for a reason a reconnect can mend leaves a [`Session`]: the socket, its private id
//! (`pid`) and its rooms. A CONNECT whose `auth` carries `{pid, offset}` claims it
//! ([`Journal::claim`]) and is sent, in order, every kept packet after `offset` that its
//! rooms would have received ([`Journal::resume`]), as Node's in-memory adapter does
//! (`persistSession` / `restoreSession`); one with `{pid}` alone (a client that had
//! received nothing yet) every one since the socket was admitted. A session nobody claims in time
//! ([`Journal::expire`]) or that the `max_sessions` cap pushes out is gone for good:
//! only then does its handler hear that the socket left.
//!
//! Deliveries run under the journal's lock, in offset order, and a resuming socket is
//! admitted under it too: a packet reaches it once, as missed or as live, never twice
//! and never not at all.
//!
//! On a stream shared by several nodes ([`SharedJournal`], `adapter =
//! "redis-streams"`) the offsets are the stream's entry ids, given when each node
//! reads an entry back ([`Journal::record_at`]); what is sent to one socket goes
//! through the stream too, so any node can replay it; and sessions are stored where
//! every node can claim them, so a client recovers on whichever node it reaches.

mod claim;
mod shared;
mod state;

pub use claim::{Claim, Claimed, Gap, Kept, Session};
pub use shared::{SharedJournal, StoredSession};
use state::{EntryId, Logged, State, Waiting, item_bytes, reaches, targets_bytes};

use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::SocketId;
use super::broadcast::{OutgoingEvent, Targets};
use super::socket::Framing;
use crate::outbound::Outbound;
use crate::reason::DisconnectReason;

/// How long and how much a [`Journal`] keeps.
#[derive(Debug, Clone)]
pub struct RecoverySettings {
    /// How long a disconnected socket may take to come back.
    pub max_disconnection: Duration,
    /// Most bytes of packets kept.
    pub max_bytes: usize,
    /// Most sessions kept.
    pub max_sessions: usize,
    /// Whether a resuming socket skips authentication and connect guards.
    pub skip_middlewares: bool,
}

impl RecoverySettings {
    /// The `[socketio.recovery]` section.
    pub fn from_config(config: &crate::config::RecoveryConfig) -> RecoverySettings {
        RecoverySettings {
            max_disconnection: config.max_disconnection(),
            max_bytes: config.max_bytes,
            max_sessions: config.max_sessions,
            skip_middlewares: config.skip_middlewares,
        }
    }
}

/// Whether a socket that left for `reason` may come back as itself: a connection that
/// failed or was closed under it, not a socket that left its namespace or was
/// refused; Node's `RECOVERABLE_DISCONNECT_REASONS`.
pub fn recoverable(reason: DisconnectReason) -> bool {
    matches!(
        reason,
        DisconnectReason::TransportClose
            | DisconnectReason::TransportError
            | DisconnectReason::PingTimeout
            | DisconnectReason::ForcedClose
            | DisconnectReason::ServerShutdown
    )
}

/// A namespace's recent packets and disconnected sockets.
#[derive(Debug)]
pub struct Journal {
    settings: RecoverySettings,
    /// Starts every offset: offsets of an earlier process (or another node) are
    /// never mistaken for this journal's.
    epoch: String,
    /// Set when its namespace shares a stream with other nodes: offsets are then the
    /// stream's entry ids.
    shared: OnceLock<Arc<dyn SharedJournal>>,
    /// On a shared stream: the entry after which this node reads it, so every later
    /// entry of the namespace is recorded here.
    horizon: OnceLock<EntryId>,
    state: Mutex<State>,
}

impl Journal {
    /// An empty journal.
    pub fn new(settings: RecoverySettings) -> Journal {
        Journal {
            settings,
            epoch: crate::id::random_id()[..8].to_owned(),
            shared: OnceLock::new(),
            horizon: OnceLock::new(),
            state: Mutex::new(State::default()),
        }
    }

    /// Makes it the journal of a stream shared with other nodes (once, before any
    /// socket connects).
    pub fn share(&self, shared: Arc<dyn SharedJournal>) {
        let _ = self.shared.set(shared);
    }

    /// The shared stream, when there is one.
    pub fn shared(&self) -> Option<&Arc<dyn SharedJournal>> {
        self.shared.get()
    }

    /// Notes that this node reads the shared stream after entry `id` (once: it reads
    /// on from where it was after a lost connection).
    pub fn reads_after(&self, id: &str) {
        if let Some(id) = EntryId::parse(id) {
            let _ = self.horizon.set(id);
        }
    }

    /// Whether a resuming socket skips authentication and connect guards.
    pub fn skips_middlewares(&self) -> bool {
        self.settings.skip_middlewares
    }

    /// How long a disconnected socket may take to come back.
    pub fn max_disconnection(&self) -> Duration {
        self.settings.max_disconnection
    }

    /// Whether a socket that left for `reason` leaves a session here: when
    /// [`recoverable`], except at shutdown, since a session in memory does not outlive
    /// the process.
    pub fn keeps(&self, reason: DisconnectReason) -> bool {
        recoverable(reason) && reason != DisconnectReason::ServerShutdown
    }

    /// Gives `event`, on its way to `targets`, the next offset, keeps it, and runs
    /// `deliver` (which queues it) under the journal's lock: deliveries happen in
    /// offset order, and never while a socket resumes. `deliver` must not send
    /// through this journal again.
    ///
    /// On a shared stream an event gets no offset here and is not kept: only what the
    /// stream gave an id is ([`Journal::record_at`]), as Node leaves local-only
    /// broadcasts without one.
    pub fn record<R>(&self, targets: &Targets, event: &OutgoingEvent, deliver: impl FnOnce() -> R) -> R {
        if self.shared.get().is_some() {
            let _state = self.lock();
            return deliver();
        }
        self.keep(None, None, targets, event, deliver)
    }

    /// [`Journal::record`] for an entry of the shared stream read back with id `id`,
    /// which is its offset.
    pub fn record_at<R>(
        &self,
        id: &str,
        targets: &Targets,
        event: &OutgoingEvent,
        deliver: impl FnOnce() -> R,
    ) -> R {
        let Some(entry) = EntryId::parse(id) else {
            let _state = self.lock();
            return deliver();
        };
        self.keep(Some(entry), Some(id), targets, event, deliver)
    }

    /// Stamps `event` with `offset` (none: this journal's next own offset), keeps it
    /// and delivers it, under the lock.
    fn keep<R>(
        &self,
        id: Option<EntryId>,
        offset: Option<&str>,
        targets: &Targets,
        event: &OutgoingEvent,
        deliver: impl FnOnce() -> R,
    ) -> R {
        let mut state = self.lock();
        // Entry ids only grow; one that does not (a stream recreated behind the
        // reader) starts the journal over rather than break its order.
        if let (Some(id), Some(last)) = (id, state.packets.back().and_then(|l| l.id))
            && id <= last
        {
            state.bytes = 0;
            state.packets.clear();
        }
        if id.is_some() {
            state.last_id = id;
        }
        let offset = offset.map_or_else(|| format!("{}-{}", self.epoch, state.next).into(), Arc::from);
        state.next += 1;
        event.stamp(offset);
        let item = event.item(Framing::SocketIo);
        let bytes = item_bytes(&item) + targets_bytes(targets) + std::mem::size_of::<Logged>();
        state.bytes += bytes;
        state.packets.push_back(Logged {
            id,
            at: Instant::now(),
            targets: targets.clone(),
            item,
            bytes,
        });
        state.trim(&self.settings);
        deliver()
    }

    /// Notes that the socket `sid` is connected under `pid`.
    pub fn admitted(&self, pid: &Arc<str>, sid: &SocketId) {
        self.lock().live.insert(pid.clone(), sid.clone());
    }

    /// Notes that the socket under `pid` left, leaving no session.
    pub fn left(&self, pid: &str) {
        self.lock().live.remove(pid);
    }

    /// The socket still connected under `pid`, if any.
    pub fn live(&self, pid: &str) -> Option<SocketId> {
        self.lock().live.get(pid).cloned()
    }

    /// Keeps what a socket that left leaves behind, for `max_disconnection`.
    pub fn persist(&self, session: Session) -> Kept {
        let mut state = self.lock();
        state.live.remove(&session.pid);
        let left = Instant::now();
        let ended = CancellationToken::new();
        state.order.push_back((session.pid.clone(), left));
        let waiting = Waiting {
            session,
            left,
            ended: ended.clone(),
        };
        if let Some(old) = state.sessions.insert(waiting.session.pid.clone(), waiting) {
            old.ended.cancel();
        }
        let evicted = state.evict(self.settings.max_sessions);
        Kept { left, ended, evicted }
    }

    /// Takes the session `pid` out, if it is kept, has not expired, every packet
    /// after `offset` is still kept, and `owns` its socket says the asking client may
    /// have it (else its client gets a new session, as Node's `restoreSession`
    /// decides; the session waits for its expiry). A client that received nothing has
    /// no `offset`: its replay starts from its admission (Node gives it a new session;
    /// socket.io-client then sends its `pid` alone).
    pub fn claim(
        &self,
        pid: &str,
        offset: Option<&str>,
        owns: impl FnOnce(Option<&serde_json::Value>) -> bool,
    ) -> Option<Claim> {
        let seen = match offset {
            Some(offset) => Some(self.parse(offset)?),
            None => None,
        };
        let mut state = self.lock();
        state.trim(&self.settings);
        let waiting = state.sessions.get(pid)?;
        let from = match seen {
            Some(seen) if state.holds(seen) => seen + 1,
            Some(_) => return None,
            None => waiting.session.since,
        };
        if waiting.left.elapsed() > self.settings.max_disconnection
            || !state.keeps_from(from)
            || !owns(waiting.session.socket.handshake().user.as_ref())
        {
            return None;
        }
        let waiting = state.sessions.remove(pid)?;
        waiting.ended.cancel();
        Some(Claim {
            claimed: Claimed::Here(waiting.session),
            earlier: Vec::new(),
            from,
        })
    }

    /// Where a replay after `offset` starts, when every packet after it is still kept
    /// here: for a session another node stored.
    pub fn replay_from(&self, offset: &str) -> Option<u64> {
        let seen = self.parse(offset)?;
        let state = self.lock();
        state.holds(seen).then_some(seen + 1)
    }

    /// What a replay after `offset` needs from the shared stream itself, when this
    /// journal does not record that far back (it was trimmed, or this node started
    /// reading later): the entries up to [`Gap::until`], then this journal's from
    /// [`Gap::from`]. `None` when `offset` is no entry id, or is one this journal should
    /// hold but does not (not one of the namespace's).
    pub fn gap(&self, offset: &str) -> Option<Gap> {
        let seen = EntryId::parse(offset)?;
        let state = self.lock();
        if let Some(front) = state.packets.front() {
            let first = front.id?;
            return (seen < first).then(|| Gap {
                from: state.next - state.packets.len() as u64,
                until: format!("({}-{}", first.0, first.1),
            });
        }
        let last = state.last_id.or_else(|| self.horizon.get().copied())?;
        (seen <= last).then(|| Gap {
            from: state.next,
            until: format!("{}-{}", last.0, last.1),
        })
    }

    /// The sequence number the next packet will get: a socket admitted now missed
    /// nothing before it.
    pub fn next_seq(&self) -> u64 {
        self.lock().next
    }

    /// Takes the session `pid` that left at `left` out, if it is still there: its
    /// window is over (or the server is stopping) and it is gone for good.
    pub fn expire(&self, pid: &str, left: Instant) -> Option<Session> {
        let mut state = self.lock();
        if state.sessions.get(pid).is_none_or(|waiting| waiting.left != left) {
            return None;
        }
        state.sessions.remove(pid).map(|waiting| waiting.session)
    }

    /// Runs `admit` under the journal's lock with the packets `claim`'s socket missed,
    /// in order, and notes the socket connected when it was admitted: nothing is
    /// delivered in between, so whatever follows reaches it live. `None` (and `admit`
    /// is not run) when some of those packets were dropped since the claim.
    pub fn resume(&self, claim: &Claim, admit: impl FnOnce(Vec<Outbound>) -> bool) -> Option<bool> {
        let mut state = self.lock();
        if !state.keeps_from(claim.from) {
            return None;
        }
        let rooms: HashSet<&str> = claim.rooms().iter().map(|r| &**r).collect();
        let earlier = claim.earlier.iter().map(|(targets, item)| (targets, item));
        let kept = state
            .from(claim.from)
            .map(|logged| (&logged.targets, &logged.item));
        let missed = earlier
            .chain(kept)
            .filter(|(targets, _)| reaches(targets, &rooms))
            .map(|(_, item)| item.clone())
            .collect();
        let admitted = admit(missed);
        if admitted {
            state.live.insert(claim.pid().clone(), claim.sid().clone());
        }
        Some(admitted)
    }

    /// How many packets and bytes it keeps, and how many sessions.
    pub fn len(&self) -> (usize, usize, usize) {
        let state = self.lock();
        (state.packets.len(), state.bytes, state.sessions.len())
    }

    /// The sequence number of one of this journal's offsets (on a shared stream: of
    /// the kept packet with that entry id).
    fn parse(&self, offset: &str) -> Option<u64> {
        if self.shared.get().is_some() {
            let id = EntryId::parse(offset)?;
            let state = self.lock();
            let index = state.packets.binary_search_by_key(&Some(id), |l| l.id).ok()?;
            return Some(state.next - state.packets.len() as u64 + index as u64);
        }
        // The epoch is base64url, which may hold a `-` itself; the number never does.
        let (epoch, seq) = offset.rsplit_once('-')?;
        (epoch == self.epoch).then(|| seq.parse().ok()).flatten()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests;
