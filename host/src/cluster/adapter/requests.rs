//! What other nodes ask of this one, and what it asks of them.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use serde_json::Value;
use tokio::sync::oneshot;

use super::{Link, Pending, Wire};
use crate::metrics::{CLUSTER_DROPPED, CLUSTER_RECEIVED};
use crate::protocol::cluster::{
    RemoteSocket, Request, RequestMessage, Response, ResponseBody, SocketOp, decode_request, decode_response,
    encode_request, encode_response,
};
use crate::reason::DisconnectReason;
use crate::router::adapter::{Adapter as _, AdapterError};
use crate::router::broadcast::OutgoingEvent;
use crate::router::handler::ServerEvent;
use crate::router::{Framing, Socket, Targets};

/// Server events waiting for their turn, per namespace, beyond which more are dropped
/// (and counted) rather than queued without bound.
const MAX_PENDING_SERVER_EVENTS: usize = 1024;

impl Link {
    pub(super) fn on_request(self: &Arc<Self>, channel: &str, payload: &[u8]) {
        let RequestMessage { uid, request } = match decode_request(payload) {
            Ok(message) => message,
            Err(e) => return self.cluster.malformed(channel, &e),
        };
        // Its own requests this node has already applied, or is waiting on.
        if uid.as_deref() == Some(self.cluster.uid()) {
            return;
        }
        // Answers all go to one channel on this wire: the asker is not needed.
        let asker = uid.as_deref().unwrap_or_default();
        CLUSTER_RECEIVED.increment(1);
        match request {
            Request::Join { targets, rooms } => self.local.add_sockets(&targets, &rooms),
            Request::Leave { targets, rooms } => self.local.del_sockets(&targets, &rooms),
            Request::Disconnect { targets, close } => {
                self.local.disconnect_sockets(&targets, close);
            }
            Request::OneSocket { request_id, sid, op } => {
                let (Some(ns), Some(socket)) = (self.local.namespace(), self.local.socket(&sid)) else {
                    return;
                };
                match op {
                    SocketOp::Join(room) => ns.join(&socket, &[room]),
                    SocketOp::Leave(room) => ns.leave(&socket, &room),
                    SocketOp::Disconnect(true) => {
                        socket.close_connection(DisconnectReason::ServerNamespaceDisconnect)
                    }
                    SocketOp::Disconnect(false) => ns.disconnect(&socket),
                }
                if let Some(request_id) = request_id {
                    self.respond(asker, request_id, ResponseBody::Done);
                }
            }
            Request::Fetch { request_id, targets } => {
                self.respond(
                    asker,
                    request_id,
                    ResponseBody::Sockets(self.local.describe(&targets)),
                );
            }
            Request::AllRooms { request_id } => {
                let rooms = self.local.room_names();
                self.respond(asker, request_id, ResponseBody::Rooms(rooms));
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
                self.respond(asker, request_id, ResponseBody::SocketIds(ids));
            }
            Request::ServerSideEmit { request_id, data } => {
                self.server_event(channel, asker, request_id, data)
            }
            Request::BroadcastWithAck {
                request_id,
                event,
                payload,
                targets,
                timeout_ms,
            } => self.broadcast_with_ack(asker, request_id, &event, payload, &targets, timeout_ms),
        }
    }

    /// Another node's `serverSideEmit(name, ...args)`: the namespace's handler runs it
    /// (after any that came before it), and its answer goes back when the sender
    /// asked for acknowledgements. No answer, no response: as a Node server with no
    /// listener, the sender then counts this node as missing.
    pub(super) fn server_event(
        self: &Arc<Self>,
        channel: &str,
        asker: &str,
        request_id: Option<String>,
        mut data: Vec<Value>,
    ) {
        let Some(Value::String(name)) = data.first().cloned() else {
            return self
                .cluster
                .malformed(channel, &"a server-side emit without an event name");
        };
        data.remove(0);
        let Some(ns) = self.local.namespace() else {
            return;
        };
        if self.server_events_pending.fetch_add(1, Ordering::AcqRel) >= MAX_PENDING_SERVER_EVENTS {
            self.server_events_pending.fetch_sub(1, Ordering::AcqRel);
            CLUSTER_DROPPED.increment(1);
            tracing::warn!(nsp = %self.nsp, event = name, "cluster: too many server events waiting; dropped");
            return;
        }
        let (done, next) = oneshot::channel::<()>();
        let before = std::mem::replace(
            &mut *self.server_events.lock().unwrap_or_else(|p| p.into_inner()),
            next,
        );
        let link = self.clone();
        let task_ns = ns.clone();
        let asker = asker.to_owned();
        ns.spawn(async move {
            // Ends (Ok or Err) once the one before is done, whichever way it ended.
            let _ = before.await;
            let event = ServerEvent { name, args: data };
            let answer = task_ns.server_event(event).await;
            if let (Some(request_id), Some(answer)) = (request_id, answer) {
                link.respond(&asker, request_id, ResponseBody::ServerSideEmitAck(answer));
            }
            link.server_events_pending.fetch_sub(1, Ordering::AcqRel);
            drop(done);
        });
    }

    /// Another node's `io.timeout(t).emit(…, ack)`: tells it how many clients here get
    /// the event, then sends it each one's acknowledgement. Native clients get the
    /// event but have no acknowledgements, so they are not counted.
    pub(super) fn broadcast_with_ack(
        self: &Arc<Self>,
        asker: &str,
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
        self.respond(
            asker,
            request_id.clone(),
            ResponseBody::ClientCount(acking.len() as u64),
        );
        let outgoing = OutgoingEvent::new(&self.nsp, event, payload.clone());
        for socket in &native {
            let _ = socket.emit(outgoing.name(), outgoing.payload().clone());
        }
        let timeout = timeout_ms.map_or(self.cluster.0.requests_timeout, std::time::Duration::from_millis);
        for socket in acking {
            let link = self.clone();
            let (event, payload, request_id) = (event.to_owned(), payload.clone(), request_id.clone());
            let asker = asker.to_owned();
            self.cluster.spawn(async move {
                if let Ok(answer) = socket.emit_with_ack(&event, payload, timeout).await {
                    let first = answer.args.first().map_or(serde_json::Value::Null, |a| a.value());
                    link.respond(&asker, request_id, ResponseBody::BroadcastAck(first));
                }
            });
        }
    }

    pub(super) fn on_response(&self, channel: &str, payload: &[u8]) {
        let Response { request_id, body } = match decode_response(payload) {
            Ok(response) => response,
            Err(e) => return self.cluster.malformed(channel, &e),
        };
        if let ResponseBody::Sockets(sockets) = body {
            self.fetched(request_id, sockets);
        }
    }

    /// One node's answer to this node's `fetchSockets` `request_id`.
    pub(super) fn fetched(&self, request_id: String, sockets: Vec<RemoteSocket>) {
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

    /// Answers node `asker`'s request.
    pub(super) fn respond(&self, asker: &str, request_id: String, body: ResponseBody) {
        match &self.wire {
            Wire::PubSub(channels) => {
                let response = encode_response(&Response { request_id, body });
                self.cluster.publish(channels.response.clone(), response);
            }
            Wire::Streams(channels) => self.answer(channels, asker, request_id, body),
        }
    }

    /// Tells every other node to do what this one did (or, for a fetch, asks them).
    pub(super) fn share(&self, request: &Request) {
        match &self.wire {
            Wire::PubSub(channels) => {
                let bytes = encode_request(self.cluster.uid(), request, &self.nsp);
                self.cluster.publish(channels.request.clone(), bytes);
            }
            Wire::Streams(channels) => self.share_on_stream(channels, request),
        }
    }

    /// `PUBSUB NUMSUB` of the channel every node subscribes to once for requests.
    pub(super) async fn server_count(&self) -> Result<usize, AdapterError> {
        let channel = match &self.wire {
            Wire::PubSub(channels) => &channels.request,
            Wire::Streams(channels) => &channels.public,
        };
        let mut commands = self
            .cluster
            .commands()
            .ok_or_else(|| AdapterError::Unavailable("not connected to Redis".to_owned()))?;
        let (_, count): (String, usize) = redis::cmd("PUBSUB")
            .arg("NUMSUB")
            .arg(channel)
            .query_async(&mut commands)
            .await
            .map_err(|e| AdapterError::Unavailable(e.to_string()))?;
        Ok(count)
    }

    pub(super) async fn fetch_sockets(&self, targets: &Targets) -> Result<Vec<RemoteSocket>, AdapterError> {
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
        self.share(&Request::Fetch {
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
