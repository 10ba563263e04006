//! A namespace's side of connection state recovery (see [`crate::router::recovery`]):
//! a socket that left keeps its session, a reconnecting client claims it and resumes
//! as the same socket.
//!
//! The handler sees one socket for the whole of it: no second `on_connect` when it
//! resumes, and its `on_disconnect` only once the session is gone for good (expired,
//! pushed out, or the server stopping). On a shared stream a client may resume on
//! another node: that node's handler has never seen the socket, so it hears
//! `on_connect` then, and the node it left hears `on_disconnect` when its window ends.

use std::sync::Arc;

use serde_json::Value;

use super::{Connected, Namespace};
use crate::reason::DisconnectReason;
use crate::router::recovery::{Claim, Claimed, Journal, Session, SharedJournal, StoredSession, recoverable};
use crate::router::{Framing, Socket};

impl Namespace {
    /// Claims the session `pid` for a reconnecting client whose last packet was
    /// `offset` (none: it received nothing): `None` (a new session) unless recovery is
    /// on, the session is kept and not expired, the packets it missed are all still
    /// kept, and `owns` its user (the asking client is that user). A socket still
    /// connected under `pid`, and owned, is one whose client came back before its old
    /// connection was seen to die: that connection is closed and its session claimed.
    /// A client that does not own it touches nothing.
    ///
    /// On a shared stream the session stored there is the one claimed (whichever node
    /// stored it), so no two nodes resume it.
    pub async fn claim(
        self: &Arc<Self>,
        pid: &str,
        offset: Option<&str>,
        owns: impl Fn(Option<&Value>) -> bool,
    ) -> Option<Claim> {
        let journal = self.adapter.journal()?.clone();
        let live = journal.live(pid).and_then(|sid| self.adapter.socket(&sid));
        let took_over = live.filter(|old| owns(old.handshake().user.as_ref())).map(|old| {
            tracing::debug!(
                sid = &**old.id(),
                nsp = self.name,
                "client back before its connection closed"
            );
            old.close_connection(DisconnectReason::TransportClose);
            self.remove(&old, DisconnectReason::TransportClose);
        });
        let claim = match journal.shared() {
            // Its session was kept here a moment ago: nobody else can have it yet.
            Some(shared) if took_over.is_some() => {
                let claim = journal.claim(pid, offset, &owns);
                if claim.is_some() {
                    shared.forget(pid);
                }
                claim
            }
            Some(shared) => claim_shared(&journal, shared, pid, offset, &owns).await,
            None => journal.claim(pid, offset, &owns),
        };
        crate::metrics::recovery_claimed(&self.name, claim.is_some());
        claim
    }

    /// Whether a resuming socket skips authentication and connect guards.
    pub fn resume_skips_middlewares(&self) -> bool {
        self.adapter
            .journal()
            .is_some_and(|journal| journal.skips_middlewares())
    }

    /// Puts back a claim that was not resumed (its client was refused, or left
    /// first): the session waits again for its client.
    pub fn release(self: &Arc<Self>, claim: Claim) {
        let journal = self.adapter.journal();
        match (claim.into_claimed(), journal) {
            (Claimed::Here(session), Some(journal)) => self.keep_session(journal, session),
            (Claimed::Here(session), None) => self.gone_for_good(session),
            (Claimed::Elsewhere(stored), Some(journal)) => {
                if let Some(shared) = journal.shared() {
                    shared.store(&stored, journal.max_disconnection());
                }
            }
            (Claimed::Elsewhere(_), None) => {}
        }
    }

    /// Lets a claim go for good: a session kept here is heard gone by its handler.
    fn let_go(self: &Arc<Self>, claim: Claim) {
        if let Claimed::Here(session) = claim.into_claimed() {
            self.gone_for_good(session);
        }
    }

    /// Admits `socket`, made with the claimed session's id, as that session's socket:
    /// sends it what it missed, in order, puts it back in its rooms and replies
    /// CONNECT with the same `pid`, all under the journal's lock (so every later packet
    /// reaches it live), then announces it online. Its handler is not asked again,
    /// unless the session was another node's (then it is new to this handler, which
    /// hears `on_connect` first). When packets it missed were dropped since the claim,
    /// it connects as a new socket instead (with that id, a new `pid` and `recovered`
    /// false).
    pub async fn resume(self: &Arc<Self>, socket: &Socket, claim: Claim) -> Connected {
        let Some(journal) = self.adapter.journal().cloned() else {
            self.let_go(claim);
            return self.connect(socket).await;
        };
        if let Err(refusal) = self.take_user_slot(socket) {
            self.release(claim);
            return self.refuse(socket, refusal.into());
        }
        let elsewhere = matches!(claim.claimed(), Claimed::Elsewhere(_));
        let after = if elsewhere {
            match self.handler.on_connect(self, socket).await {
                Err(refusal) => {
                    self.give_user_slot(socket);
                    self.release(claim);
                    return self.refuse(socket, refusal);
                }
                Ok(after) => after,
            }
        } else {
            None
        };
        let resumed = journal.resume(&claim, |missed| {
            socket.recover_with(claim.pid().clone(), journal.clone(), true, claim.since());
            socket.send_missed(missed);
            if !self.admit(socket) {
                return false;
            }
            self.join(socket, claim.rooms());
            socket.send_connected();
            true
        });
        match resumed {
            Some(true) => {
                tracing::debug!(
                    sid = &**socket.id(),
                    nsp = self.name,
                    elsewhere,
                    "socket recovered"
                );
                if self.settings().presence_events {
                    self.announce_online(socket);
                }
                if let Some(after) = after {
                    after();
                }
                Connected::Accepted
            }
            Some(false) => {
                self.give_user_slot(socket);
                self.release(claim);
                if elsewhere {
                    // Its handler accepted it, so it hears that it left.
                    let reason = socket.left_reason().unwrap_or(DisconnectReason::TransportClose);
                    self.handler.on_disconnect(self, socket, reason).await;
                }
                Connected::Lost
            }
            None => {
                self.give_user_slot(socket);
                self.let_go(claim);
                if elsewhere {
                    self.handler
                        .on_disconnect(self, socket, DisconnectReason::TransportClose)
                        .await;
                }
                self.connect(socket).await
            }
        }
    }

    /// Keeps the session of a socket that left for `reason`, when recovery is on and
    /// `reason` is one a reconnect can mend; false when it is not kept (then its
    /// handler is to hear at once that it left). On a shared stream the session is
    /// stored there too, for any node to resume, even when this server is stopping.
    pub(super) fn keep_if_recoverable(
        self: &Arc<Self>,
        socket: &Socket,
        reason: DisconnectReason,
        rooms: Vec<crate::router::Room>,
    ) -> bool {
        let (Some(journal), Some(pid)) = (self.adapter.journal(), socket.pid()) else {
            return false;
        };
        if let Some(shared) = journal.shared()
            && recoverable(reason)
        {
            let stored = StoredSession {
                sid: socket.id().clone(),
                pid: pid.clone(),
                rooms: rooms.clone(),
                user: socket.handshake().user.clone(),
            };
            shared.store(&stored, journal.max_disconnection());
        }
        if !journal.keeps(reason) {
            journal.left(pid);
            return false;
        }
        let session = Session {
            socket: socket.clone(),
            pid: pid.clone(),
            rooms,
            reason,
            since: socket.recovery_since(),
        };
        self.keep_session(journal, session);
        true
    }

    /// Keeps `session` until its client claims it or its window ends; then (or when
    /// the server stops first) it is gone for good.
    fn keep_session(self: &Arc<Self>, journal: &Arc<Journal>, session: Session) {
        let pid = session.pid.clone();
        let kept = journal.persist(session);
        for evicted in kept.evicted {
            self.gone_for_good(evicted);
        }
        let ns = Arc::downgrade(self);
        let journal = journal.clone();
        let closing = self.closing.clone();
        let window = journal.max_disconnection();
        self.spawn(async move {
            tokio::select! {
                () = kept.ended.cancelled() => {}
                () = closing.cancelled() => {}
                () = tokio::time::sleep(window) => {}
            }
            // Claimed or pushed out meanwhile: no longer this task's.
            if let (Some(ns), Some(session)) = (ns.upgrade(), journal.expire(&pid, kept.left)) {
                ns.handler
                    .on_disconnect(&ns, &session.socket, session.reason)
                    .await;
            }
        });
    }

    /// Tells the handler that a session's socket left for good.
    fn gone_for_good(self: &Arc<Self>, session: Session) {
        let ns = self.clone();
        self.spawn(async move {
            ns.handler
                .on_disconnect(&ns, &session.socket, session.reason)
                .await;
        });
    }
}

/// A claim on a shared stream: of the session stored there, which is taken so that no
/// other node resumes it too. When its socket left from this node, the session kept
/// here is claimed with it (its handler is to hear of it); otherwise this node
/// replays from its own record of the stream, preceded by what it must read from the
/// stream when `offset` is older than that record.
async fn claim_shared(
    journal: &Journal,
    shared: &Arc<dyn SharedJournal>,
    pid: &str,
    offset: Option<&str>,
    owns: &impl Fn(Option<&Value>) -> bool,
) -> Option<Claim> {
    let stored = shared.take(pid).await?;
    if !owns(stored.user.as_ref()) {
        shared.store(&stored, journal.max_disconnection());
        return None;
    }
    if let Some(claim) = journal.claim(pid, offset, |_| true) {
        // What was stored is the latest: the socket may have resumed elsewhere since.
        return Some(claim.with_rooms(stored.rooms));
    }
    let offset = offset?;
    if let Some(from) = journal.replay_from(offset) {
        return Some(Claim::elsewhere(stored, Vec::new(), from));
    }
    // Older than this node's record of the stream: the rest from the stream itself,
    // as Node's adapter replays it.
    let gap = journal.gap(offset)?;
    let earlier = shared
        .range(offset, &gap.until)
        .await?
        .into_iter()
        .map(|(targets, event)| (targets, event.item(Framing::SocketIo)))
        .collect();
    Some(Claim::elsewhere(stored, earlier, gap.from))
}
