//! What a claim passes around: the session a socket left, the claim a reconnecting
//! client makes of it (here or on another node), and what keeping a session returns.

use std::sync::Arc;
use std::time::Instant;

use tokio_util::sync::CancellationToken;

use super::StoredSession;
use crate::outbound::Outbound;
use crate::reason::DisconnectReason;
use crate::router::broadcast::Targets;
use crate::router::socket::Socket;
use crate::router::{Room, SocketId};

/// What a disconnected socket leaves behind for its client to claim.
#[derive(Debug, Clone)]
pub struct Session {
    /// The socket that left: its id, which its client keeps, and its user.
    pub socket: Socket,
    /// Its private id, the claim's key (never sent to anyone else).
    pub pid: Arc<str>,
    /// Every room it was in, its own included.
    pub rooms: Vec<Room>,
    /// Why it left: what its handler hears if it never comes back.
    pub reason: DisconnectReason,
    /// The sequence number of the first packet sent after it was admitted: where a
    /// replay starts for a client that received none (it has no offset to give).
    pub since: u64,
}

/// A session taken by a reconnecting client, with where its replay starts.
#[derive(Debug)]
pub struct Claim {
    pub(super) claimed: Claimed,
    /// Packets to replay first, read from the shared stream: from before what this
    /// journal records.
    pub(super) earlier: Vec<(Targets, Outbound)>,
    /// The sequence number of the first packet to replay from the journal.
    pub(super) from: u64,
}

/// Where a replay needs the shared stream (see [`Journal::gap`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gap {
    /// The sequence number of the journal's first packet to replay after the stream's.
    pub from: u64,
    /// The last stream entry to read, as `XRANGE`'s end (`(id` when exclusive).
    pub until: String,
}

/// Whose session a claim took.
#[derive(Debug)]
pub enum Claimed {
    /// One this node kept: its socket left from here.
    Here(Session),
    /// One another node (or a Node server) stored on the shared stream's Redis.
    Elsewhere(StoredSession),
}

impl Claim {
    /// A claim of a session another node stored, replayed from `earlier` (read from
    /// the stream) and then the journal's packets from `from`.
    pub(crate) fn elsewhere(stored: StoredSession, earlier: Vec<(Targets, Outbound)>, from: u64) -> Claim {
        Claim {
            claimed: Claimed::Elsewhere(stored),
            earlier,
            from,
        }
    }

    /// Its socket's id, which the client keeps.
    pub fn sid(&self) -> &SocketId {
        match &self.claimed {
            Claimed::Here(session) => session.socket.id(),
            Claimed::Elsewhere(stored) => &stored.sid,
        }
    }

    /// Its socket's verified user.
    pub fn user(&self) -> Option<&serde_json::Value> {
        match &self.claimed {
            Claimed::Here(session) => session.socket.handshake().user.as_ref(),
            Claimed::Elsewhere(stored) => stored.user.as_ref(),
        }
    }

    /// Its private id.
    pub fn pid(&self) -> &Arc<str> {
        match &self.claimed {
            Claimed::Here(session) => &session.pid,
            Claimed::Elsewhere(stored) => &stored.pid,
        }
    }

    /// Every room its socket was in.
    pub fn rooms(&self) -> &[Room] {
        match &self.claimed {
            Claimed::Here(session) => &session.rooms,
            Claimed::Elsewhere(stored) => &stored.rooms,
        }
    }

    /// Where the resumed socket's session begins, for a later claim without offset.
    pub fn since(&self) -> u64 {
        match &self.claimed {
            Claimed::Here(session) => session.since,
            Claimed::Elsewhere(_) => self.from,
        }
    }

    /// What was claimed.
    pub fn claimed(&self) -> &Claimed {
        &self.claimed
    }

    /// What was claimed, for putting back or letting go.
    pub fn into_claimed(self) -> Claimed {
        self.claimed
    }

    /// The claim with its socket's rooms replaced by `rooms`.
    pub(crate) fn with_rooms(mut self, rooms: Vec<Room>) -> Claim {
        match &mut self.claimed {
            Claimed::Here(session) => session.rooms = rooms,
            Claimed::Elsewhere(stored) => stored.rooms = rooms,
        }
        self
    }
}

/// A session just kept: when it left, what ends its wait, and the sessions the
/// `max_sessions` cap pushed out to make room (gone for good).
#[derive(Debug)]
pub struct Kept {
    /// When it left; [`Journal::expire`] takes it only if it is still this one.
    pub left: Instant,
    /// Cancelled when the session is claimed or pushed out.
    pub ended: CancellationToken,
    /// Sessions pushed out.
    pub evicted: Vec<Session>,
}
