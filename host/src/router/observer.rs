//! What a namespace tells an observer beyond its handler: sockets arriving and
//! leaving, rooms joined and left, events received and sent. The Admin UI's live
//! view is one (see `crate::admin`). Only what happens on this node through the
//! namespace (or its sockets) is seen; the calls come after the change, never under
//! a lock.

use super::{Namespace, Room, Socket, SocketId};
use crate::protocol::socketio::Payload;
use crate::reason::DisconnectReason;

/// Told of the changes in the namespaces it observes.
pub trait Observer: Send + Sync + 'static {
    /// `socket` was admitted to `ns` (it is in its own room already).
    fn socket_connected(&self, ns: &Namespace, socket: &Socket);
    /// `socket`'s connection changed transport (an upgrade to WebSocket).
    fn socket_updated(&self, ns: &Namespace, socket: &Socket);
    /// `socket` left `ns` for `reason`; it was in `rooms` until then.
    fn socket_disconnected(&self, ns: &Namespace, socket: &Socket, reason: DisconnectReason, rooms: &[Room]);
    /// `socket` joined `rooms` (only those it was not in before).
    fn rooms_joined(&self, ns: &Namespace, socket: &Socket, rooms: &[Room]);
    /// `socket` left `room`.
    fn room_left(&self, ns: &Namespace, socket: &Socket, room: &str);
    /// The socket `id` of namespace `nsp` sent the event `name` with `payload`.
    fn event_received(&self, nsp: &str, id: &SocketId, name: &str, payload: &Payload);
    /// The event `name` with `payload` was queued to each of `ids` (sockets of this
    /// node in namespace `nsp`).
    fn event_sent(&self, nsp: &str, ids: &[&SocketId], name: &str, payload: &Payload);
}
