//! The streams wire (`@socket.io/redis-streams-adapter` 0.3): broadcasts without
//! acks, `socketsJoin`, `socketsLeave` and `disconnectSockets` are entries of the one
//! stream, which every node reads in the same order; requests go to the namespace's
//! public channel and answers to the asker's private one.
//!
//! A broadcast is delivered to this node's sockets when the reader reads it back, as
//! every other node delivers it: one order everywhere. Joins, leaves and disconnects
//! apply here at once (as Node's `ClusterAdapter` does) and are skipped on read-back.

use std::sync::{Arc, Weak};
use std::time::Duration;

use serde_json::json;

use super::Link;
use crate::metrics::CLUSTER_RECEIVED;
use crate::protocol::cluster::streams::{
    Envelope, Flags, Message, SessionRecord, StreamChannels, decode_entry, decode_published, decode_session,
    encode_entry, encode_published, encode_session, session_key,
};
use crate::protocol::cluster::{Request, ResponseBody};
use crate::router::Targets;
use crate::router::adapter::Adapter as _;
use crate::router::broadcast::OutgoingEvent;
use crate::router::handler::BoxFuture;
use crate::router::recovery::{SharedJournal, StoredSession};

impl Link {
    /// Appends `event` for `targets` to the stream; when it cannot be (Redis away,
    /// the queue full, the reader not started yet) it is delivered here only.
    pub(super) fn append_broadcast(self: &Arc<Self>, targets: &Targets, event: &OutgoingEvent) {
        let message = Message::Broadcast {
            request_id: None,
            event: event.name().to_owned(),
            payload: event.payload().clone(),
            targets: targets.clone(),
            flags: Flags::default(),
        };
        let fields = encode_entry(self.cluster.uid(), &self.nsp, &message);
        let link = self.clone();
        let (targets, name, payload) = (targets.clone(), event.name().to_owned(), event.payload().clone());
        self.cluster.append(
            fields,
            Box::new(move || {
                let event = OutgoingEvent::new(&link.nsp, &name, payload);
                let recipients = link.local.broadcast(&targets, &event);
                if let Some(ns) = link.local.namespace() {
                    ns.metrics().delivered(recipients);
                }
            }),
        );
    }

    /// An entry of the stream, with its id, for this namespace.
    pub(in crate::cluster) fn on_entry(self: &Arc<Self>, id: &str, envelope: Envelope) {
        let own = envelope.uid == self.cluster.uid();
        if !own {
            CLUSTER_RECEIVED.increment(1);
        }
        match envelope.message {
            Message::Broadcast {
                request_id: None,
                event,
                payload,
                targets,
                flags,
            } => {
                let event = OutgoingEvent::new(&self.nsp, &event, payload);
                // Its id is its recovery offset (a volatile one gets none, as in Node).
                let offset = (!flags.volatile).then_some(id);
                let recipients = self.local.broadcast_at(offset, &targets, &event);
                if let Some(ns) = self.local.namespace() {
                    // This node's own was counted as a broadcast when it was sent.
                    match own {
                        true => ns.metrics().delivered(recipients),
                        false => ns.metrics().broadcast(recipients),
                    }
                }
            }
            // This node applied its own when it sent them.
            _ if own => {}
            Message::SocketsJoin { targets, rooms } => self.local.add_sockets(&targets, &rooms),
            Message::SocketsLeave { targets, rooms } => self.local.del_sockets(&targets, &rooms),
            Message::DisconnectSockets { targets, close } => {
                self.local.disconnect_sockets(&targets, close);
            }
            // Requests and answers travel on pub/sub; other types are not ours.
            _ => {}
        }
    }

    /// A request on the public channel, or an answer on this node's private one.
    pub(super) fn on_published(self: &Arc<Self>, channel: &str, payload: &[u8]) {
        let Envelope { uid, nsp, message } = match decode_published(payload) {
            Ok(envelope) => envelope,
            Err(e) => return self.cluster.malformed(channel, &e),
        };
        // Its own requests come back on the public channel: already applied.
        if uid == self.cluster.uid() || nsp != self.nsp {
            return;
        }
        CLUSTER_RECEIVED.increment(1);
        match message {
            Message::FetchSockets { request_id, targets } => {
                let sockets = self.local.describe(&targets);
                self.respond(&uid, request_id, ResponseBody::Sockets(sockets));
            }
            Message::ServerSideEmit { request_id, data } => {
                self.server_event(channel, &uid, request_id, data)
            }
            Message::Broadcast {
                request_id: Some(request_id),
                event,
                payload,
                targets,
                flags,
            } => self.broadcast_with_ack(&uid, request_id, &event, payload, &targets, flags.timeout_ms),
            Message::FetchSocketsResponse { request_id, sockets } => self.fetched(request_id, sockets),
            // This node asks nothing that these answer; a broadcast without acks
            // belongs on the stream.
            _ => {}
        }
    }

    /// Publishes the answer to `asker`'s request `request_id` on its private channel.
    pub(super) fn answer(
        &self,
        channels: &StreamChannels,
        asker: &str,
        request_id: String,
        body: ResponseBody,
    ) {
        let message = match body {
            ResponseBody::Sockets(sockets) => Message::FetchSocketsResponse { request_id, sockets },
            ResponseBody::ServerSideEmitAck(packet) => Message::ServerSideEmitResponse { request_id, packet },
            ResponseBody::ClientCount(client_count) => Message::BroadcastClientCount {
                request_id,
                client_count,
            },
            ResponseBody::BroadcastAck(packet) => Message::BroadcastAck { request_id, packet },
            // Requests of the pub/sub wire only.
            ResponseBody::SocketIds(_) | ResponseBody::Rooms(_) | ResponseBody::Done => return,
        };
        let bytes = encode_published(self.cluster.uid(), &self.nsp, &message);
        self.cluster.publish(channels.private_of(asker), bytes);
    }

    /// What this node did, for the others: joins, leaves and disconnects as entries
    /// of the stream (in order with the broadcasts), a fetch as a request.
    pub(super) fn share_on_stream(&self, channels: &StreamChannels, request: &Request) {
        let message = match request {
            Request::Join { targets, rooms } => Message::SocketsJoin {
                targets: targets.clone(),
                rooms: rooms.clone(),
            },
            Request::Leave { targets, rooms } => Message::SocketsLeave {
                targets: targets.clone(),
                rooms: rooms.clone(),
            },
            Request::Disconnect { targets, close } => Message::DisconnectSockets {
                targets: targets.clone(),
                close: *close,
            },
            Request::Fetch { request_id, targets } => {
                let message = Message::FetchSockets {
                    request_id: request_id.clone(),
                    targets: targets.clone(),
                };
                let bytes = encode_published(self.cluster.uid(), &self.nsp, &message);
                return self.cluster.publish(channels.public.clone(), bytes);
            }
            other => {
                debug_assert!(false, "not sent on the streams wire: {other:?}");
                return;
            }
        };
        // Already applied here: nothing to fall back to.
        let fields = encode_entry(self.cluster.uid(), &self.nsp, &message);
        self.cluster.append(fields, Box::new(|| {}));
    }
}

/// The shared half of a namespace's recovery journal on the streams wire: entries
/// appended to the stream, sessions at `sio:session:<pid>` as Node stores them. It
/// holds its link weakly (the link owns the journal).
#[derive(Debug)]
pub(super) struct StreamJournal(pub(super) Weak<Link>);

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Link")
            .field("nsp", &self.nsp)
            .finish_non_exhaustive()
    }
}

impl SharedJournal for StreamJournal {
    fn append(&self, targets: &Targets, event: &OutgoingEvent) {
        if let Some(link) = self.0.upgrade() {
            link.append_broadcast(targets, event);
        }
    }

    fn store(&self, session: &StoredSession, ttl: Duration) {
        let Some(link) = self.0.upgrade() else {
            return;
        };
        let record = SessionRecord {
            sid: session.sid.to_string(),
            pid: session.pid.to_string(),
            rooms: session.rooms.clone(),
            data: match &session.user {
                Some(user) => json!({ "user": user }),
                None => json!({}),
            },
        };
        let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        link.cluster.set(record.key(), encode_session(&record), ttl_ms);
    }

    fn forget(&self, pid: &str) {
        if let Some(link) = self.0.upgrade() {
            link.cluster.del(session_key(pid));
        }
    }

    fn range<'a>(
        &'a self,
        after: &'a str,
        until: &'a str,
    ) -> BoxFuture<'a, Option<Vec<(Targets, OutgoingEvent)>>> {
        Box::pin(async move {
            let link = self.0.upgrade()?;
            let stream = link.cluster.0.stream.as_ref()?;
            let mut commands = link.cluster.commands()?;
            let xrange = |start: String, end: &str| {
                let mut cmd = redis::cmd("XRANGE");
                cmd.arg(&stream.name).arg(start).arg(end);
                cmd
            };
            let read = |reply: redis::RedisResult<redis::Value>| match reply {
                Ok(value) => super::super::reader::entries(&value)
                    .map_err(|why| link.cluster.malformed(&stream.name, &why))
                    .ok(),
                Err(e) => {
                    tracing::warn!(stream = stream.name, "cluster: cannot read the stream back: {e}");
                    None
                }
            };
            // As Node's restore: the offset itself must still be there, or what came
            // right after it may be gone too.
            let found = read(xrange(after.to_owned(), after).query_async(&mut commands).await)?;
            if found.is_empty() {
                return None;
            }
            let entries = read(
                xrange(format!("({after}"), until)
                    .query_async(&mut commands)
                    .await,
            )?;
            let events = entries
                .iter()
                .filter_map(|(id, fields)| {
                    let envelope = decode_entry(fields).ok().filter(|e| e.nsp == link.nsp)?;
                    let Message::Broadcast {
                        request_id: None,
                        event,
                        payload,
                        targets,
                        flags,
                    } = envelope.message
                    else {
                        return None;
                    };
                    if flags.volatile {
                        return None;
                    }
                    let event = OutgoingEvent::new(&link.nsp, &event, payload);
                    event.stamp(id.as_str().into());
                    Some((targets, event))
                })
                .collect();
            Some(events)
        })
    }

    fn take<'a>(&'a self, pid: &'a str) -> BoxFuture<'a, Option<StoredSession>> {
        Box::pin(async move {
            let link = self.0.upgrade()?;
            let mut commands = link.cluster.commands()?;
            let key = session_key(pid);
            let stored: Option<Vec<u8>> = redis::cmd("GETDEL")
                .arg(&key)
                .query_async(&mut commands)
                .await
                .map_err(|e| tracing::warn!(key, "cluster: cannot take a session: {e}"))
                .ok()?;
            let record = match decode_session(&stored?) {
                Ok(record) => record,
                Err(e) => {
                    link.cluster.malformed(&key, &e);
                    return None;
                }
            };
            // A session is stored under its own pid.
            (record.pid == pid).then(|| StoredSession {
                sid: record.sid.into(),
                pid: record.pid.into(),
                rooms: record.rooms,
                user: record.data.get("user").cloned(),
            })
        })
    }
}
