//! A namespace's adapter in a cluster: this node's sockets and rooms (a
//! [`LocalAdapter`]), plus publishing what it is asked to do so the other nodes do it
//! too, and doing what they publish.
//!
//! - This module: the handle, the [`Adapter`] impl, what arrives on which channel.
//! - `requests`: what other nodes ask of this one (joins, fetches, broadcasts with
//!   acks) and what it asks of them (`fetchSockets`, the server count).
//! - `streams`: the same in `@socket.io/redis-streams-adapter`'s format, where what
//!   every node must apply in order is an entry of the stream.
//! - `presence`: [`ClusterPresence`], fed by and feeding the presence channel.

mod presence;
mod requests;
mod streams;

use std::collections::HashMap;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex, Weak};

use tokio::sync::oneshot;

pub use presence::ClusterPresence;

use super::Cluster;
use super::presence::PresenceView;
use crate::metrics::CLUSTER_RECEIVED;
use crate::protocol::cluster::streams::StreamChannels;
use crate::protocol::cluster::{Channels, RemoteSocket, Request, decode_broadcast, encode_broadcast};
use crate::router::adapter::{Adapter, AdapterError, LocalAdapter};
use crate::router::broadcast::OutgoingEvent;
use crate::router::handler::BoxFuture;
use crate::router::presence::LocalPresence;
use crate::router::recovery::Journal;
use crate::router::{Namespace, Room, Socket, SocketId, Targets};

/// The Redis adapter of one namespace: a cheap handle.
#[derive(Clone)]
pub struct RedisAdapter(Arc<Link>);

/// How a namespace's messages travel.
enum Wire {
    /// `@socket.io/redis-adapter`: a channel per room for broadcasts, one for
    /// requests and one for responses.
    PubSub(Channels),
    /// `@socket.io/redis-streams-adapter`: the stream for what every node applies in
    /// order, a public channel for requests and a private one per node for answers.
    Streams(StreamChannels),
}

/// What the handle shares with the subscriber, which holds it weakly.
pub(super) struct Link {
    cluster: Cluster,
    nsp: String,
    wire: Wire,
    local: LocalAdapter,
    /// Requests this node waits on, by request id.
    pending: Mutex<HashMap<String, Pending>>,
    /// `<key>-portico-presence#<nsp>#`.
    presence_channel: String,
    /// This node's users, first hand.
    local_presence: LocalPresence,
    /// Every node's, as their messages told.
    view: Mutex<PresenceView>,
    /// Whether the namespace announces `user_offline`.
    announce_offline: bool,
    /// Server events run one after another, in the order they arrived: each waits for
    /// this, the end of the one before, and leaves its own end here for the next.
    server_events: Mutex<oneshot::Receiver<()>>,
    /// Server events waiting or running.
    server_events_pending: Arc<AtomicUsize>,
}

/// A `fetchSockets` waiting for the other nodes.
struct Pending {
    expected: usize,
    answered: usize,
    sockets: Vec<RemoteSocket>,
    done: Option<oneshot::Sender<Vec<RemoteSocket>>>,
}

impl RedisAdapter {
    pub(super) fn new(
        cluster: Cluster,
        nsp: &str,
        announce_offline: bool,
        journal: Option<Arc<Journal>>,
    ) -> RedisAdapter {
        let wire = if cluster.streams() {
            Wire::Streams(StreamChannels::new(cluster.key(), nsp, cluster.uid()))
        } else {
            Wire::PubSub(Channels::new(cluster.key(), nsp))
        };
        let presence_channel = format!("{}-portico-presence#{nsp}#", cluster.key());
        let view = Mutex::new(PresenceView::new(cluster.uid()));
        let shared_journal = journal.clone().filter(|_| matches!(wire, Wire::Streams(_)));
        let link = Arc::new(Link {
            cluster,
            nsp: nsp.to_owned(),
            wire,
            local: LocalAdapter::with_journal(journal),
            pending: Mutex::new(HashMap::new()),
            presence_channel,
            local_presence: LocalPresence::default(),
            view,
            announce_offline,
            server_events: Mutex::new(oneshot::channel().1),
            server_events_pending: Arc::new(AtomicUsize::new(0)),
        });
        // On the streams wire the journal's offsets are entry ids and its sessions
        // live in Redis, for any node to resume.
        if let Some(journal) = shared_journal {
            journal.share(Arc::new(streams::StreamJournal(Arc::downgrade(&link))));
        }
        RedisAdapter(link)
    }

    pub(super) fn link(&self) -> Weak<Link> {
        Arc::downgrade(&self.0)
    }

    /// The namespace's presence, across the cluster.
    pub fn presence(&self) -> ClusterPresence {
        ClusterPresence(self.0.clone())
    }
}

impl Link {
    /// Its namespace.
    pub(in crate::cluster) fn nsp(&self) -> &str {
        &self.nsp
    }

    /// Notes where this node starts reading the stream, for its recovery journal.
    pub(in crate::cluster) fn reads_after(&self, id: &str) {
        if let Some(journal) = self.local.journal() {
            journal.reads_after(id);
        }
    }

    /// What it subscribes to: a pattern (the broadcast channels of the pub/sub wire)
    /// and channels.
    pub(in crate::cluster) fn subscriptions(&self) -> (Option<String>, Vec<&str>) {
        match &self.wire {
            Wire::PubSub(channels) => (
                Some(channels.pattern()),
                vec![&channels.request, &channels.response, &self.presence_channel],
            ),
            Wire::Streams(channels) => (
                None,
                vec![&channels.public, &channels.private, &self.presence_channel],
            ),
        }
    }

    /// Delivers to this node's sockets and publishes for the others' (on the streams
    /// wire: appends, and delivers here when it is read back).
    fn broadcast(self: &Arc<Self>, targets: &Targets, event: &OutgoingEvent) -> usize {
        let Wire::PubSub(channels) = &self.wire else {
            self.append_broadcast(targets, event);
            return 0;
        };
        let here = self.local.broadcast(targets, event);
        let bytes = encode_broadcast(
            self.cluster.uid(),
            &self.nsp,
            event.name(),
            event.payload(),
            targets,
        );
        self.cluster.publish(channels.for_targets(targets), bytes);
        here
    }

    /// Takes a message if it came on one of this namespace's channels.
    pub(super) fn receive(self: &Arc<Self>, channel: &str, payload: &[u8], from_pattern: bool) -> bool {
        let channels = match &self.wire {
            Wire::Streams(channels) => {
                if channel == channels.public || channel == channels.private {
                    self.on_published(channel, payload);
                } else if channel == self.presence_channel {
                    self.on_presence(channel, payload);
                } else {
                    return false;
                }
                return true;
            }
            Wire::PubSub(channels) => channels,
        };
        if from_pattern {
            let Some(room) = channels.room_of(channel) else {
                return false;
            };
            self.on_broadcast(channel, room, payload);
        } else if channel == channels.request {
            self.on_request(channel, payload);
        } else if channel == channels.response {
            self.on_response(channel, payload);
        } else if channel == self.presence_channel {
            self.on_presence(channel, payload);
        } else {
            return false;
        }
        true
    }

    fn on_broadcast(&self, channel: &str, room: Option<&str>, payload: &[u8]) {
        // A room with no member here: nothing to decode (as Node's adapter skips it).
        if room.is_some_and(|room| !self.local.has_room(room)) {
            return;
        }
        let broadcast = match decode_broadcast(payload) {
            Ok(broadcast) => broadcast,
            Err(e) => return self.cluster.malformed(channel, &e),
        };
        if broadcast.uid == self.cluster.uid() || broadcast.nsp != self.nsp {
            return;
        }
        CLUSTER_RECEIVED.increment(1);
        let event = OutgoingEvent::new(&self.nsp, &broadcast.event, broadcast.payload);
        let recipients = self.local.broadcast(&broadcast.targets, &event);
        if let Some(ns) = self.local.namespace() {
            ns.metrics().broadcast(recipients);
        }
    }
}

impl Adapter for RedisAdapter {
    fn attach(&self, ns: Weak<Namespace>) {
        self.0.local.attach(ns);
    }

    fn add(&self, socket: &Socket) {
        self.0.local.add(socket);
    }

    fn remove(&self, sid: &SocketId) {
        self.0.local.remove(sid);
    }

    fn socket(&self, sid: &str) -> Option<Socket> {
        self.0.local.socket(sid)
    }

    fn len(&self) -> usize {
        self.0.local.len()
    }

    fn join(&self, sid: &SocketId, rooms: &[Room], cap: usize) -> bool {
        self.0.local.join(sid, rooms, cap)
    }

    fn leave(&self, sid: &SocketId, room: &str) {
        self.0.local.leave(sid, room);
    }

    fn rooms_of(&self, sid: &str) -> Vec<Room> {
        self.0.local.rooms_of(sid)
    }

    fn broadcast(&self, targets: &Targets, event: &OutgoingEvent) -> usize {
        self.0.broadcast(targets, event)
    }

    fn add_sockets(&self, targets: &Targets, rooms: &[Room]) {
        self.0.local.add_sockets(targets, rooms);
        self.0.share(&Request::Join {
            targets: targets.clone(),
            rooms: rooms.to_vec(),
        });
    }

    fn del_sockets(&self, targets: &Targets, rooms: &[Room]) {
        self.0.local.del_sockets(targets, rooms);
        self.0.share(&Request::Leave {
            targets: targets.clone(),
            rooms: rooms.to_vec(),
        });
    }

    fn disconnect_sockets(&self, targets: &Targets, close: bool) -> usize {
        let here = self.0.local.disconnect_sockets(targets, close);
        self.0.share(&Request::Disconnect {
            targets: targets.clone(),
            close,
        });
        here
    }

    fn local_sockets(&self, targets: &Targets) -> Vec<Socket> {
        self.0.local.local_sockets(targets)
    }

    fn fetch_sockets<'a>(
        &'a self,
        targets: &'a Targets,
    ) -> BoxFuture<'a, Result<Vec<RemoteSocket>, AdapterError>> {
        Box::pin(self.0.fetch_sockets(targets))
    }

    fn server_count(&self) -> BoxFuture<'_, Result<usize, AdapterError>> {
        Box::pin(self.0.server_count())
    }

    fn journal(&self) -> Option<&Arc<Journal>> {
        self.0.local.journal()
    }
}
