//! A namespace's adapter in a cluster: this node's sockets and rooms (a
//! [`LocalAdapter`]), plus publishing what it is asked to do so the other nodes do it
//! too, and doing what they publish.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use tokio::sync::oneshot;

use super::Cluster;
use super::presence::{NODE_TIMEOUT, PresenceMessage, PresenceView, SnapshotUser};
use crate::metrics::{METRICS, inc};
use crate::protocol::cluster::{
    Channels, RemoteSocket, Request, RequestMessage, Response, ResponseBody, SocketOp, decode_broadcast,
    decode_request, decode_response, encode_broadcast, encode_request, encode_response,
};
use crate::reason::DisconnectReason;
use crate::router::adapter::{Adapter, AdapterError, LocalAdapter};
use crate::router::broadcast::OutgoingEvent;
use crate::router::handler::BoxFuture;
use crate::router::presence::{LocalPresence, OnlineUser, Presence, PresenceUser, Transition};
use crate::router::{Framing, Room, Socket, SocketId, Targets};

/// The Redis adapter of one namespace: a cheap handle.
#[derive(Clone)]
pub struct RedisAdapter(Arc<Link>);

/// What the handle shares with the subscriber, which holds it weakly.
pub(super) struct Link {
    cluster: Cluster,
    nsp: String,
    channels: Channels,
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
}

/// A `fetchSockets` waiting for the other nodes.
struct Pending {
    expected: usize,
    answered: usize,
    sockets: Vec<RemoteSocket>,
    done: Option<oneshot::Sender<Vec<RemoteSocket>>>,
}

impl RedisAdapter {
    pub(super) fn new(cluster: Cluster, nsp: &str, announce_offline: bool) -> RedisAdapter {
        let channels = Channels::new(cluster.key(), nsp);
        let presence_channel = format!("{}-portico-presence#{nsp}#", cluster.key());
        let view = Mutex::new(PresenceView::new(cluster.uid()));
        RedisAdapter(Arc::new(Link {
            cluster,
            nsp: nsp.to_owned(),
            channels,
            local: LocalAdapter::default(),
            pending: Mutex::new(HashMap::new()),
            presence_channel,
            local_presence: LocalPresence::default(),
            view,
            announce_offline,
        }))
    }

    pub(super) fn link(&self) -> Weak<Link> {
        Arc::downgrade(&self.0)
    }

    /// The namespace's presence, across the cluster.
    pub fn presence(&self) -> ClusterPresence {
        ClusterPresence(self.0.clone())
    }
}

/// A namespace's presence across every node (see [`super::presence`]).
pub struct ClusterPresence(Arc<Link>);

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
    /// The channels it subscribes to (besides the broadcast pattern).
    pub(super) fn channels(&self) -> &Channels {
        &self.channels
    }

    /// Its presence channel.
    pub(super) fn presence_channel(&self) -> &str {
        &self.presence_channel
    }

    fn view(&self) -> std::sync::MutexGuard<'_, PresenceView> {
        self.view.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn publish_presence(&self, message: &PresenceMessage) {
        match serde_json::to_vec(message) {
            Ok(bytes) => self.cluster.publish(self.presence_channel.clone(), bytes),
            Err(e) => tracing::error!("cluster: cannot encode a presence message: {e}"),
        }
    }

    fn publish_snapshot(&self) {
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
    pub(super) fn on_subscribed(&self) {
        self.view().touch_all(std::time::Instant::now());
        self.publish_snapshot();
        self.publish_presence(&PresenceMessage::Sync {
            node: self.cluster.uid().to_owned(),
        });
    }

    /// Every [`super::presence::HEARTBEAT`] while subscribed: say this node is alive,
    /// and declare dead the nodes that have been silent too long.
    pub(super) fn tick(&self) {
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

    fn on_presence(&self, channel: &str, payload: &[u8]) {
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

    /// Delivers to this node's sockets and publishes for the others'.
    fn broadcast(&self, targets: &Targets, event: &OutgoingEvent) {
        self.local.broadcast(targets, event);
        let bytes = encode_broadcast(
            self.cluster.uid(),
            &self.nsp,
            event.name(),
            event.payload(),
            targets,
        );
        self.cluster.publish(self.channels.for_targets(targets), bytes);
    }

    /// Takes a message if it came on one of this namespace's channels.
    pub(super) fn receive(self: &Arc<Self>, channel: &str, payload: &[u8], from_pattern: bool) -> bool {
        if from_pattern {
            let Some(room) = self.channels.room_of(channel) else {
                return false;
            };
            self.on_broadcast(channel, room, payload);
        } else if channel == self.channels.request {
            self.on_request(channel, payload);
        } else if channel == self.channels.response {
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
        inc(&METRICS.cluster_received);
        let event = OutgoingEvent::new(&self.nsp, &broadcast.event, broadcast.payload);
        self.local.broadcast(&broadcast.targets, &event);
    }

    fn on_request(self: &Arc<Self>, channel: &str, payload: &[u8]) {
        let RequestMessage { uid, request } = match decode_request(payload) {
            Ok(message) => message,
            Err(e) => return self.cluster.malformed(channel, &e),
        };
        // Its own requests this node has already applied, or is waiting on.
        if uid.as_deref() == Some(self.cluster.uid()) {
            return;
        }
        inc(&METRICS.cluster_received);
        match request {
            Request::Join { targets, rooms } => self.local.add_sockets(&targets, &rooms),
            Request::Leave { targets, rooms } => self.local.del_sockets(&targets, &rooms),
            Request::Disconnect { targets, close } => {
                self.local.disconnect_sockets(&targets, close);
            }
            Request::OneSocket { request_id, sid, op } => {
                let Some(socket) = self.local.socket(&sid) else {
                    return;
                };
                match op {
                    SocketOp::Join(room) => socket.join(&[room]),
                    SocketOp::Leave(room) => socket.leave(&room),
                    SocketOp::Disconnect(true) => {
                        socket.close_connection(DisconnectReason::ServerNamespaceDisconnect)
                    }
                    SocketOp::Disconnect(false) => socket.disconnect(),
                }
                if let Some(request_id) = request_id {
                    self.respond(request_id, ResponseBody::Done);
                }
            }
            Request::Fetch { request_id, targets } => {
                self.respond(request_id, ResponseBody::Sockets(self.local.describe(&targets)));
            }
            Request::AllRooms { request_id } => {
                let rooms = self.local.room_names();
                self.respond(request_id, ResponseBody::Rooms(rooms));
            }
            Request::Sockets { request_id, rooms } => {
                let targets = Targets {
                    rooms,
                    except: Vec::new(),
                };
                let ids = self
                    .local
                    .local_sockets(&targets)
                    .iter()
                    .map(|s| s.id().to_string())
                    .collect();
                self.respond(request_id, ResponseBody::SocketIds(ids));
            }
            Request::ServerSideEmit { data, .. } => {
                // Portico's handlers have no server-side listeners: like a Node server
                // without one, it neither acts nor answers.
                tracing::debug!(nsp = %self.nsp, event = ?data.first(), "cluster: server-side emit with no listener");
            }
            Request::BroadcastWithAck {
                request_id,
                event,
                payload,
                targets,
                timeout_ms,
            } => self.broadcast_with_ack(request_id, &event, payload, &targets, timeout_ms),
        }
    }

    /// Another node's `io.timeout(t).emit(…, ack)`: tells it how many clients here get
    /// the event, then sends it each one's acknowledgement. Native clients get the
    /// event but have no acknowledgements, so they are not counted.
    fn broadcast_with_ack(
        self: &Arc<Self>,
        request_id: String,
        event: &str,
        payload: crate::protocol::socketio::Payload,
        targets: &Targets,
        timeout_ms: Option<u64>,
    ) {
        let sockets = self.local.local_sockets(targets);
        let (acking, native): (Vec<Socket>, Vec<Socket>) = sockets
            .into_iter()
            .partition(|s| s.framing() == Framing::SocketIo);
        self.respond(request_id.clone(), ResponseBody::ClientCount(acking.len() as u64));
        let outgoing = OutgoingEvent::new(&self.nsp, event, payload.clone());
        for socket in &native {
            let _ = socket.emit(outgoing.name(), outgoing.payload().clone());
        }
        let timeout = timeout_ms.map_or(self.cluster.0.requests_timeout, std::time::Duration::from_millis);
        for socket in acking {
            let link = self.clone();
            let (event, payload, request_id) = (event.to_owned(), payload.clone(), request_id.clone());
            self.cluster.spawn(async move {
                if let Ok(answer) = socket.emit_with_ack(&event, payload, timeout).await {
                    let first = answer.args.into_iter().next().unwrap_or_default();
                    link.respond(request_id, ResponseBody::BroadcastAck(first));
                }
            });
        }
    }

    fn on_response(&self, channel: &str, payload: &[u8]) {
        let Response { request_id, body } = match decode_response(payload) {
            Ok(response) => response,
            Err(e) => return self.cluster.malformed(channel, &e),
        };
        let ResponseBody::Sockets(sockets) = body else {
            return;
        };
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        let Some(request) = pending.get_mut(&request_id) else {
            return;
        };
        request.answered += 1;
        request.sockets.extend(sockets);
        if request.answered >= request.expected
            && let Some(request) = pending.remove(&request_id)
            && let Some(done) = request.done
        {
            let _ = done.send(request.sockets);
        }
    }

    fn respond(&self, request_id: String, body: ResponseBody) {
        let response = encode_response(&Response { request_id, body });
        self.cluster.publish(self.channels.response.clone(), response);
    }

    fn request(&self, request: &Request) {
        let bytes = encode_request(self.cluster.uid(), request, &self.nsp);
        self.cluster.publish(self.channels.request.clone(), bytes);
    }

    /// `PUBSUB NUMSUB` of the request channel: every node subscribes to it once.
    async fn server_count(&self) -> Result<usize, AdapterError> {
        let mut commands = self
            .cluster
            .commands()
            .ok_or_else(|| AdapterError::Unavailable("not connected to Redis".to_owned()))?;
        let (_, count): (String, usize) = redis::cmd("PUBSUB")
            .arg("NUMSUB")
            .arg(&self.channels.request)
            .query_async(&mut commands)
            .await
            .map_err(|e| AdapterError::Unavailable(e.to_string()))?;
        Ok(count)
    }

    async fn fetch_sockets(&self, targets: &Targets) -> Result<Vec<RemoteSocket>, AdapterError> {
        let mut sockets = self.local.describe(targets);
        let servers = self.server_count().await?;
        if servers <= 1 {
            return Ok(sockets);
        }
        let request_id = crate::id::random_id();
        let (done, answered) = oneshot::channel();
        let expected = servers - 1;
        self.pending.lock().unwrap_or_else(|p| p.into_inner()).insert(
            request_id.clone(),
            Pending {
                expected,
                answered: 0,
                sockets: Vec::new(),
                done: Some(done),
            },
        );
        self.request(&Request::Fetch {
            request_id: request_id.clone(),
            targets: targets.clone(),
        });
        match tokio::time::timeout(self.cluster.0.requests_timeout, answered).await {
            Ok(Ok(remote)) => {
                sockets.extend(remote);
                Ok(sockets)
            }
            _ => {
                let missing = self
                    .pending
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&request_id)
                    .map_or(expected, |p| expected.saturating_sub(p.answered));
                Err(AdapterError::Timeout {
                    asked: expected,
                    missing,
                })
            }
        }
    }
}

impl Adapter for RedisAdapter {
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

    fn join(&self, sid: &SocketId, rooms: &[Room]) {
        self.0.local.join(sid, rooms);
    }

    fn leave(&self, sid: &SocketId, room: &str) {
        self.0.local.leave(sid, room);
    }

    fn rooms_of(&self, sid: &str) -> Vec<Room> {
        self.0.local.rooms_of(sid)
    }

    fn broadcast(&self, targets: &Targets, event: &OutgoingEvent) {
        self.0.broadcast(targets, event);
    }

    fn add_sockets(&self, targets: &Targets, rooms: &[Room]) {
        self.0.local.add_sockets(targets, rooms);
        self.0.request(&Request::Join {
            targets: targets.clone(),
            rooms: rooms.to_vec(),
        });
    }

    fn del_sockets(&self, targets: &Targets, rooms: &[Room]) {
        self.0.local.del_sockets(targets, rooms);
        self.0.request(&Request::Leave {
            targets: targets.clone(),
            rooms: rooms.to_vec(),
        });
    }

    fn disconnect_sockets(&self, targets: &Targets, close: bool) -> usize {
        let here = self.0.local.disconnect_sockets(targets, close);
        self.0.request(&Request::Disconnect {
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
}
