//! A namespace's side of connection state recovery (see [`crate::router::recovery`]):
//! a socket that left keeps its session, a reconnecting client claims it and resumes
//! as the same socket.
//!
//! The handler sees one socket for the whole of it: no second `on_connect` when it
//! resumes, and its `on_disconnect` only once the session is gone for good (expired,
//! pushed out, or the server stopping).

use std::sync::Arc;

use super::{Connected, Namespace};
use crate::reason::DisconnectReason;
use crate::router::Socket;
use crate::router::recovery::{Claim, Journal, Session};

impl Namespace {
    /// Claims the session `pid` for a reconnecting client whose last packet was
    /// `offset` (none: it received nothing): `None` (a new session) unless recovery is
    /// on, the session is kept and not expired, the packets it missed are all still
    /// kept, and `owns` its socket (the asking client is its user). A socket still
    /// connected under `pid`, and owned, is one whose client came back before its old
    /// connection was seen to die: that connection is closed and its session claimed.
    /// A client that does not own it touches nothing.
    pub fn claim(
        self: &Arc<Self>,
        pid: &str,
        offset: Option<&str>,
        owns: impl Fn(&Socket) -> bool,
    ) -> Option<Claim> {
        let journal = self.adapter.journal()?;
        let live = journal.live(pid).and_then(|sid| self.adapter.socket(&sid));
        if let Some(old) = live.filter(|old| owns(old)) {
            tracing::debug!(
                sid = &**old.id(),
                nsp = self.name,
                "client back before its connection closed"
            );
            old.close_connection(DisconnectReason::TransportClose);
            self.remove(&old, DisconnectReason::TransportClose);
        }
        let claim = journal.claim(pid, offset, owns);
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
        match self.adapter.journal() {
            Some(journal) => self.keep_session(journal, claim.into_session()),
            None => self.gone_for_good(claim.into_session()),
        }
    }

    /// Admits `socket`, made with the claimed session's id, as that session's socket:
    /// sends it what it missed, in order, puts it back in its rooms and replies
    /// CONNECT with the same `pid`, all under the journal's lock (so every later packet
    /// reaches it live), then announces it online. Its handler is not asked again.
    /// When packets it missed were dropped since the claim, it connects as a new
    /// socket instead (with that id, a new `pid` and `recovered` false).
    pub async fn resume(self: &Arc<Self>, socket: &Socket, claim: Claim) -> Connected {
        let Some(journal) = self.adapter.journal().cloned() else {
            self.gone_for_good(claim.into_session());
            return self.connect(socket).await;
        };
        if let Err(refusal) = self.take_user_slot(socket) {
            self.release(claim);
            return self.refuse(socket, refusal.into());
        }
        let resumed = journal.resume(&claim, |missed| {
            socket.recover_with(
                claim.session().pid.clone(),
                journal.clone(),
                true,
                claim.session().since,
            );
            socket.send_missed(missed);
            if !self.admit(socket) {
                return false;
            }
            self.join(socket, &claim.session().rooms);
            socket.send_connected();
            true
        });
        match resumed {
            Some(true) => {
                tracing::debug!(sid = &**socket.id(), nsp = self.name, "socket recovered");
                if self.settings().presence_events {
                    self.announce_online(socket);
                }
                Connected::Accepted
            }
            Some(false) => {
                self.give_user_slot(socket);
                self.release(claim);
                Connected::Lost
            }
            None => {
                self.give_user_slot(socket);
                self.gone_for_good(claim.into_session());
                self.connect(socket).await
            }
        }
    }

    /// Keeps the session of a socket that left for `reason`, when recovery is on and
    /// `reason` is one a reconnect can mend; false when it is not kept (then its
    /// handler is to hear at once that it left).
    pub(super) fn keep_if_recoverable(
        self: &Arc<Self>,
        socket: &Socket,
        reason: DisconnectReason,
        rooms: Vec<crate::router::Room>,
    ) -> bool {
        let (Some(journal), Some(pid)) = (self.adapter.journal(), socket.pid()) else {
            return false;
        };
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
