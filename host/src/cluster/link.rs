//! The tasks that talk to Redis. Each reconnects with capped exponential backoff and
//! reports its state to the cluster's health, which `/readyz` and
//! `portico_cluster_connected` show.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures_util::StreamExt;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{Cluster, Publish};
use crate::metrics::CLUSTER_PUBLISHED;

/// Messages sent in one pipeline, one round trip.
const BATCH: usize = 256;
/// How long connecting may take before it counts as failed.
pub(super) const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a command may wait for Redis's answer.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);

/// Reconnect delays: 100 ms doubling to 2 s, so a Redis that comes back is used
/// again within about two seconds.
pub(super) struct Backoff(Duration);

impl Backoff {
    const FIRST: Duration = Duration::from_millis(100);
    const MAX: Duration = Duration::from_secs(2);

    pub(super) fn new() -> Backoff {
        Backoff(Backoff::FIRST)
    }

    pub(super) fn next(&mut self) -> Duration {
        let delay = self.0;
        self.0 = (self.0 * 2).min(Backoff::MAX);
        delay
    }

    pub(super) fn reset(&mut self) {
        self.0 = Backoff::FIRST;
    }
}

/// Sleeps `delay`; false when shutdown came first.
pub(super) async fn pause(delay: Duration, shutdown: &CancellationToken) -> bool {
    tokio::select! {
        () = shutdown.cancelled() => false,
        () = tokio::time::sleep(delay) => true,
    }
}

/// Publishes what the adapters queue, a pipeline per batch, in queue order (so each
/// sender's messages stay in order). While Redis is unreachable, what is queued is
/// dropped and counted: the queue never grows beyond its bound.
pub(super) async fn publisher(
    cluster: Cluster,
    mut inbox: mpsc::Receiver<Publish>,
    shutdown: CancellationToken,
) {
    let shared = &cluster.0;
    let mut backoff = Backoff::new();
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(CONNECT_TIMEOUT)
        .set_response_timeout(RESPONSE_TIMEOUT)
        .set_number_of_retries(1)
        .set_max_delay(500);
    let mut manager = loop {
        let connect = ConnectionManager::new_with_config(shared.client.clone(), config.clone());
        let failure = tokio::select! {
            () = shutdown.cancelled() => return,
            result = connect => match result {
                Ok(manager) => break manager,
                Err(e) => e,
            },
        };
        shared.health.set(
            &shared.health.publishing,
            false,
            Some(format!("cannot connect to Redis: {failure}")),
        );
        drop_queued(&mut inbox);
        if !pause(backoff.next(), &shutdown).await {
            return;
        }
    };
    shared.commands.store(Some(Arc::new(manager.clone())));
    shared.health.set(&shared.health.publishing, true, None);
    let mut batch = Vec::with_capacity(BATCH);
    backoff.reset();
    loop {
        // While publishing fails, a PING now and then finds out when Redis is back,
        // even if nothing is published meanwhile.
        let up = shared.health.publishing.load(Ordering::Acquire);
        let probe = async {
            if up {
                std::future::pending::<()>().await;
            }
            tokio::time::sleep(backoff.next()).await;
        };
        tokio::select! {
            biased;
            n = inbox.recv_many(&mut batch, BATCH), if !shutdown.is_cancelled() => if n == 0 { return },
            () = shutdown.cancelled() => {
                // What is queued goes out first (within the shutdown's grace).
                inbox.close();
                while let Ok(message) = inbox.try_recv() {
                    batch.push(message);
                }
                if batch.is_empty() {
                    return;
                }
            }
            () = probe => {
                match redis::cmd("PING").query_async::<()>(&mut manager).await {
                    Ok(()) => {
                        backoff.reset();
                        shared.health.set(&shared.health.publishing, true, None);
                    }
                    Err(e) => shared.health.set(
                        &shared.health.publishing,
                        false,
                        Some(format!("cannot reach Redis: {e}")),
                    ),
                }
                continue;
            }
        }
        let mut pipe = redis::pipe();
        for message in &batch {
            match message {
                Publish::Message { channel, payload } => {
                    pipe.publish(channel, payload).ignore();
                }
                Publish::Set { key, value, ttl_ms } => {
                    pipe.cmd("SET")
                        .arg(key)
                        .arg(value)
                        .arg("PX")
                        .arg(*ttl_ms)
                        .ignore();
                }
                Publish::Del { key } => {
                    pipe.del(key).ignore();
                }
                Publish::Append { fields, .. } => {
                    // Appended only with a stream configured.
                    if let Some(stream) = &shared.stream {
                        pipe.cmd("XADD")
                            .arg(&stream.name)
                            .arg("MAXLEN")
                            .arg("~")
                            .arg(stream.max_len)
                            .arg("*")
                            .arg(fields.as_slice())
                            .ignore();
                    }
                }
            }
        }
        match pipe.query_async::<()>(&mut manager).await {
            Ok(()) => {
                CLUSTER_PUBLISHED.increment(batch.len() as u64);
                batch.clear();
                if !up {
                    backoff.reset();
                    shared.health.set(&shared.health.publishing, true, None);
                }
            }
            Err(e) => {
                // The manager reconnects by itself; what was in flight is lost to the
                // other nodes, and this node's entries are delivered here (one that
                // Redis did append before failing is then read back a second time).
                for message in batch.drain(..) {
                    message.drop_counted();
                }
                shared.health.set(
                    &shared.health.publishing,
                    false,
                    Some(format!("publishing to Redis failed: {e}")),
                );
                drop_queued(&mut inbox);
            }
        }
    }
}

/// Drops (and counts) what waits in the queue: stale by the time Redis is back. An
/// entry for the stream is still delivered to this node's sockets.
fn drop_queued(inbox: &mut mpsc::Receiver<Publish>) {
    while let Ok(message) = inbox.try_recv() {
        message.drop_counted();
    }
}

/// Subscribes to every namespace's channels and hands what arrives to its adapter;
/// reconnects (and subscribes again) whenever the connection drops.
pub(super) async fn subscriber(cluster: Cluster, shutdown: CancellationToken) {
    let shared = &cluster.0;
    let mut backoff = Backoff::new();
    loop {
        let subscribed = tokio::select! {
            () = shutdown.cancelled() => return,
            result = tokio::time::timeout(CONNECT_TIMEOUT * 2, subscribe(&cluster)) => match result {
                Ok(result) => result,
                Err(_) => Err("timed out subscribing".to_owned()),
            },
        };
        match subscribed {
            Ok(pubsub) => {
                backoff.reset();
                shared.health.set(&shared.health.subscribed, true, None);
                for link in live_links(&cluster) {
                    link.on_subscribed();
                }
                tracing::info!(uid = %shared.uid, "cluster: subscribed to Redis");
                let mut messages = pubsub.into_on_message();
                loop {
                    tokio::select! {
                        () = shutdown.cancelled() => return,
                        message = messages.next() => match message {
                            Some(message) => route(&cluster, &message),
                            None => break,
                        },
                    }
                }
                shared.health.set(
                    &shared.health.subscribed,
                    false,
                    Some("lost the connection to Redis".to_owned()),
                );
                tracing::warn!("cluster: lost the Redis subscription; reconnecting");
            }
            Err(problem) => {
                shared.health.set(&shared.health.subscribed, false, Some(problem));
            }
        }
        if !pause(backoff.next(), &shutdown).await {
            return;
        }
    }
}

async fn subscribe(cluster: &Cluster) -> Result<redis::aio::PubSub, String> {
    let shared = &cluster.0;
    let mut pubsub = shared
        .client
        .get_async_pubsub()
        .await
        .map_err(|e| format!("cannot connect to Redis: {e}"))?;
    for link in live_links(cluster) {
        let (pattern, channels) = link.subscriptions();
        if let Some(pattern) = pattern {
            pubsub
                .psubscribe(pattern)
                .await
                .map_err(|e| format!("cannot subscribe: {e}"))?;
        }
        pubsub
            .subscribe(&channels)
            .await
            .map_err(|e| format!("cannot subscribe: {e}"))?;
    }
    Ok(pubsub)
}

/// Hands one message to the adapter whose channel it came on.
fn route(cluster: &Cluster, message: &redis::Msg) {
    let channel = message.get_channel_name();
    let payload = message.get_payload_bytes();
    if payload.len() > cluster.0.max_message_bytes {
        cluster.malformed(
            channel,
            &format_args!("{} bytes, over cluster.max_message_bytes", payload.len()),
        );
        return;
    }
    let adapters = cluster.0.adapters.read().unwrap_or_else(|p| p.into_inner());
    for link in adapters.iter().filter_map(std::sync::Weak::upgrade) {
        if link.receive(channel, payload, message.from_pattern()) {
            return;
        }
    }
}

pub(super) fn live_links(cluster: &Cluster) -> Vec<Arc<super::adapter::Link>> {
    cluster
        .0
        .adapters
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .filter_map(std::sync::Weak::upgrade)
        .collect()
}

/// Presence heartbeats and dead-node checks, while subscribed (while not, every node
/// looks silent, and nothing published would arrive anyway).
pub(super) async fn heartbeat(cluster: Cluster, shutdown: CancellationToken) {
    let mut ticks = tokio::time::interval(super::presence::HEARTBEAT);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = ticks.tick() => {}
        }
        if cluster.0.health.subscribed.load(Ordering::Acquire) {
            for link in live_links(&cluster) {
                link.tick();
            }
        }
    }
}
