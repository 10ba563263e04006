//! The namespace's presence across the cluster: this node's users first hand, the
//! others' from the presence view (see [`crate::cluster::presence`]).

use std::sync::Arc;

use super::Link;
use crate::cluster::presence::{NODE_TIMEOUT, PresenceMessage, PresenceView, SnapshotUser};
use crate::router::broadcast::OutgoingEvent;
use crate::router::presence::{OnlineUser, Presence, PresenceUser, Transition};
use crate::router::{SocketId, Targets};

/// A namespace's presence across every node (see [`super::presence`]).
pub struct ClusterPresence(pub(super) Arc<Link>);

impl Presence for ClusterPresence {
    fn arrive(&self, user: &PresenceUser, sid: &SocketId) {
        let link = &self.0;
        link.local_presence.arrive(user, sid);
        link.publish_presence(&PresenceMessage::Arrive {
            node: link.cluster.uid().to_owned(),
            user: user.user_id.clone(),
            username: user.username.clone(),
            body: user.announcement.clone(),
            sid: sid.to_string(),
        });
    }

    fn leave(&self, user_id: &str, sid: &SocketId) -> Transition {
        let link = &self.0;
        link.local_presence.leave(user_id, sid);
        link.publish_presence(&PresenceMessage::Leave {
            node: link.cluster.uid().to_owned(),
            user: user_id.to_owned(),
            sid: sid.to_string(),
        });
        // Whether that was the last socket anywhere is decided when this message
        // comes back through Redis, in the cluster's one order ([`Link::on_presence`]).
        Transition::Unchanged
    }

    fn online(&self) -> Vec<OnlineUser> {
        self.0.view().online(&self.0.local_presence)
    }

    fn sockets_of(&self, user_id: &str) -> Vec<SocketId> {
        let mut sockets = self.0.local_presence.sockets_of(user_id);
        sockets.extend(self.0.view().sockets_elsewhere(user_id));
        sockets
    }
}

impl Link {
    pub(super) fn view(&self) -> std::sync::MutexGuard<'_, PresenceView> {
        self.view.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn publish_presence(&self, message: &PresenceMessage) {
        match serde_json::to_vec(message) {
            Ok(bytes) => self.cluster.publish(self.presence_channel.clone(), bytes),
            Err(e) => tracing::error!("cluster: cannot encode a presence message: {e}"),
        }
    }

    pub(super) fn publish_snapshot(&self) {
        let users = self
            .local_presence
            .entries()
            .into_iter()
            .map(|(user, sids)| SnapshotUser {
                user: user.user_id,
                username: user.username,
                body: user.announcement,
                sids: sids.iter().map(|s| s.to_string()).collect(),
            })
            .collect();
        self.publish_presence(&PresenceMessage::Snapshot {
            node: self.cluster.uid().to_owned(),
            users,
        });
    }

    /// Just (re)subscribed: what an outage lost is repaired by snapshots, ours and
    /// everyone's; nobody is declared dead for the silence the outage caused.
    pub(in crate::cluster) fn on_subscribed(&self) {
        self.view().touch_all(std::time::Instant::now());
        self.publish_snapshot();
        self.publish_presence(&PresenceMessage::Sync {
            node: self.cluster.uid().to_owned(),
        });
    }

    /// Every [`super::presence::HEARTBEAT`] while subscribed: say this node is alive,
    /// and declare dead the nodes that have been silent too long.
    pub(in crate::cluster) fn tick(&self) {
        let node = self.cluster.uid().to_owned();
        self.publish_presence(&PresenceMessage::Heartbeat { node: node.clone() });
        let silent = self.view().silent(std::time::Instant::now(), NODE_TIMEOUT);
        for dead in silent {
            tracing::warn!(nsp = %self.nsp, node = %dead, "cluster: a node went silent; its users are offline");
            self.publish_presence(&PresenceMessage::Dead {
                node: node.clone(),
                dead,
            });
        }
    }

    pub(super) fn on_presence(self: &Arc<Self>, channel: &str, payload: &[u8]) {
        let message: PresenceMessage = match serde_json::from_slice(payload) {
            Ok(message) => message,
            Err(e) => return self.cluster.malformed(channel, &e),
        };
        let outcome = self.view().apply(message, std::time::Instant::now());
        if outcome.send_snapshot {
            self.publish_snapshot();
        }
        if self.announce_offline {
            for body in outcome.announce {
                let event = OutgoingEvent::new(
                    &self.nsp,
                    "user_offline",
                    crate::protocol::socketio::Payload::json(vec![body]),
                );
                self.broadcast(&Targets::default(), &event);
            }
        }
    }
}
