//! What a namespace's limits refuse: a socket past its user's share, an event past
//! its socket's budget, a join past its rooms (see [`crate::limits`]).

use std::sync::Arc;

use super::Namespace;
use crate::limits::{Refusal, Verdict};
use crate::protocol::socketio::Payload;
use crate::router::handler::IncomingEvent;
use crate::router::{Room, Socket};

impl Namespace {
    /// Counts a connecting socket against its user's `per_user` limit, or refuses it.
    pub(super) fn take_user_slot(&self, socket: &Socket) -> Result<(), Refusal> {
        match self.counted_user(socket) {
            Some(user) => self.users.take(&user),
            None => Ok(()),
        }
    }

    /// Gives back the place [`Namespace::take_user_slot`] took for `socket`.
    pub(super) fn give_user_slot(&self, socket: &Socket) {
        if let Some(user) = self.counted_user(socket) {
            self.users.give(&user);
        }
    }

    /// The user a socket is counted under: its token's `sub`.
    fn counted_user(&self, socket: &Socket) -> Option<String> {
        let sub = crate::auth::subject(socket.handshake().user.as_ref()?)?;
        Some(sub.to_string())
    }

    /// Tells a socket its event was over its budget; disconnects it when it keeps on.
    pub(super) fn refuse_event(
        self: &Arc<Self>,
        socket: &Socket,
        event: &IncomingEvent,
        verdict: Verdict,
    ) -> Option<Payload> {
        let refusal = Refusal::RateLimited;
        refusal.count();
        let _ = socket.emit("error", Payload::json(vec![refusal.body()]));
        if verdict == Verdict::Abusive {
            tracing::info!(
                sid = &**socket.id(),
                nsp = self.name,
                "socket disconnected: events over its rate limit"
            );
            self.disconnect(socket);
            return None;
        }
        (self.settings().ack_errors && event.wants_ack)
            .then(|| Payload::json(vec![serde_json::json!({ "error": refusal.body() })]))
    }

    /// Puts a socket in rooms on its client's behalf (its event asked for it): all
    /// of them, or none when that would put it in more than `rooms_per_socket`.
    pub fn client_join(&self, socket: &Socket, rooms: &[Room]) -> Result<(), Refusal> {
        if self.join_within(socket, rooms, self.settings().limits.rooms) {
            Ok(())
        } else {
            Refusal::RoomLimit.count();
            Err(Refusal::RoomLimit)
        }
    }

    /// Whether a socket may still join `rooms` on its client's behalf (rooms it is in
    /// already cost nothing); a refusal is counted.
    pub fn may_join<'r>(
        &self,
        socket: &Socket,
        rooms: impl IntoIterator<Item = &'r str>,
    ) -> Result<(), Refusal> {
        let current: std::collections::HashSet<Room> =
            self.adapter.rooms_of(socket.id()).into_iter().collect();
        let new: std::collections::HashSet<&str> =
            rooms.into_iter().filter(|r| !current.contains(*r)).collect();
        if current.len().saturating_add(new.len()) <= self.settings().limits.rooms {
            Ok(())
        } else {
            Refusal::RoomLimit.count();
            Err(Refusal::RoomLimit)
        }
    }

    /// Joins `rooms` unless that puts the socket in more than `cap`; whether it did.
    pub(super) fn join_within(&self, socket: &Socket, rooms: &[Room], cap: usize) -> bool {
        let before = self.observer().map(|_| self.adapter.rooms_of(socket.id()));
        let joined = self.adapter.join(socket.id(), rooms, cap);
        if let (Some(observer), Some(before), true) = (self.observer(), before, joined) {
            let mut new: Vec<Room> = rooms.iter().filter(|r| !before.contains(r)).cloned().collect();
            new.dedup();
            if !new.is_empty() && socket.connected() {
                observer.rooms_joined(self, socket, &new);
            }
        }
        // `remove` marks it gone, then sweeps every room: seen here after the join, a
        // socket that left (now or before) may have missed that sweep.
        if !socket.connected() {
            self.adapter.remove(socket.id());
        }
        joined
    }
}
