//! What a journal needs from a stream it shares with other nodes: the cluster adapter
//! implements it on Redis (`adapter = "redis-streams"`), the journal stays free of it.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::router::broadcast::{OutgoingEvent, Targets};
use crate::router::handler::BoxFuture;
use crate::router::{Room, SocketId};

/// The stream and the session store every node of a namespace shares.
pub trait SharedJournal: Send + Sync + std::fmt::Debug + 'static {
    /// Appends `event` for `targets` to the stream: every node, this one included,
    /// delivers it (with its entry id as offset) when it reads it back.
    fn append(&self, targets: &Targets, event: &OutgoingEvent);
    /// Stores a disconnected socket's session where every node can claim it, for
    /// `ttl`.
    fn store(&self, session: &StoredSession, ttl: Duration);
    /// Deletes session `pid`: it was claimed on this node.
    fn forget(&self, pid: &str);
    /// Takes session `pid`, whichever node stored it, so that no other node can.
    fn take<'a>(&'a self, pid: &'a str) -> BoxFuture<'a, Option<StoredSession>>;
    /// The namespace's events in the stream after entry `after` up to `until`
    /// (`XRANGE`'s end), each stamped with its id; `None` when `after` itself is no
    /// longer in the stream (its successors may be gone too), or Redis cannot say.
    fn range<'a>(
        &'a self,
        after: &'a str,
        until: &'a str,
    ) -> BoxFuture<'a, Option<Vec<(Targets, OutgoingEvent)>>>;
}

/// A session as every node stores it (Node's `{sid, pid, rooms, data}`).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredSession {
    /// Its socket's id.
    pub sid: SocketId,
    /// Its private id.
    pub pid: Arc<str>,
    /// Every room its socket was in, its own included.
    pub rooms: Vec<Room>,
    /// Its socket's verified user (`data.user`).
    pub user: Option<Value>,
}
