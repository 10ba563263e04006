//! Several nodes sharing one Redis, in the wire format of Node's
//! `@socket.io/redis-adapter` (see [`crate::protocol::cluster`]): a Portico node can
//! join a cluster of Node `socket.io` servers, and `@socket.io/redis-emitter` reaches
//! both.
//!
//! # Layout
//! - This module: [`Cluster`], the node's link to Redis: its uid, the publish queue,
//!   the routing of what Redis delivers to each namespace's adapter, and its health.
//! - [`link`]: the tasks that talk to Redis, each reconnecting with backoff: one
//!   publishes (a bounded queue, batched into pipelines), one subscribes, one
//!   heartbeats presence.
//! - [`reader`]: with `adapter = "redis-streams"`, the task that reads the stream
//!   every node appends to (Node's `@socket.io/redis-streams-adapter`) and hands each
//!   entry, in the stream's order, to its namespace: this node's own broadcasts too,
//!   so every node delivers in one order and each entry's id is its recovery offset.
//! - [`adapter`]: [`RedisAdapter`], a namespace's adapter: local delivery plus
//!   publishing, and what other nodes ask of it; and its presence across the cluster.
//! - [`presence`]: the presence view every node computes alike from Redis's one order,
//!   so `user_offline` is decided once for the cluster.
//!
//! When Redis is away the node goes on serving its own clients: what it would publish
//! is dropped and counted (`portico_cluster_dropped_total`), `/readyz` says why it is
//! not ready, and both tasks reconnect.

pub mod adapter;
mod link;
pub mod presence;
mod reader;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;

use arc_swap::ArcSwapOption;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use adapter::{ClusterPresence, RedisAdapter};

use crate::config::{AdapterKind, ClusterConfig};
use crate::metrics::{CLUSTER_DROPPED, CLUSTER_MALFORMED};

/// Why the cluster link could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// The Redis URL is not one.
    #[error("cluster.redis_url: {0}")]
    Url(#[from] redis::RedisError),
}

/// One message for Redis.
enum Publish {
    /// `PUBLISH channel payload`.
    Message { channel: String, payload: Vec<u8> },
    /// `XADD stream MAXLEN ~ n * fields…`: read back by every node, this one
    /// included, which delivers it then. When it cannot be appended (the queue is
    /// full, or Redis failed it) `fallback` delivers it to this node's sockets.
    Append {
        fields: Vec<(&'static str, String)>,
        fallback: Option<Fallback>,
    },
    /// `SET key value PX ttl_ms`: a disconnected socket's session.
    Set { key: String, value: String, ttl_ms: u64 },
    /// `DEL key`: a session claimed.
    Del { key: String },
}

/// Delivers an entry that never reached the stream to this node's sockets alone.
type Fallback = Box<dyn FnOnce() + Send>;

impl Publish {
    /// Gives up on it: counted, and an entry's fallback run.
    fn drop_counted(self) {
        CLUSTER_DROPPED.increment(1);
        if let Publish::Append {
            fallback: Some(fallback),
            ..
        } = self
        {
            fallback();
        }
    }
}

/// The one stream of `adapter = "redis-streams"`.
#[derive(Debug, Clone)]
struct Stream {
    name: String,
    max_len: usize,
}

/// This node's link to Redis: a cheap handle.
#[derive(Clone)]
pub struct Cluster(Arc<Shared>);

struct Shared {
    /// This node's id on the wire; messages carrying it are its own.
    uid: String,
    key: String,
    requests_timeout: Duration,
    max_message_bytes: usize,
    /// Set with `adapter = "redis-streams"`.
    stream: Option<Stream>,
    client: redis::Client,
    /// The command connection, once the publisher has made it.
    commands: ArcSwapOption<redis::aio::ConnectionManager>,
    outbox: mpsc::Sender<Publish>,
    /// Taken by [`Cluster::start`].
    inbox: Mutex<Option<mpsc::Receiver<Publish>>>,
    /// Each namespace's adapter, to route what Redis delivers.
    adapters: RwLock<Vec<Weak<adapter::Link>>>,
    health: Health,
    tasks: TaskTracker,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("uid", &self.0.uid)
            .finish_non_exhaustive()
    }
}

/// Whether each half of the link is up, and the last reason one was not.
#[derive(Debug, Default)]
struct Health {
    subscribed: AtomicBool,
    publishing: AtomicBool,
    /// With a stream: its reader is connected and reading.
    reading: AtomicBool,
    /// With a stream: its reader has known where it starts (until then broadcasts
    /// are delivered here only: none could be read back). It reads on from there
    /// after a lost connection, so this stays set.
    started: AtomicBool,
    problem: Mutex<Option<String>>,
    /// Malformed messages seen: the first and then every power of two is logged.
    malformed: AtomicU64,
}

impl Health {
    fn set(&self, flag: &AtomicBool, up: bool, problem: Option<String>) {
        flag.store(up, Ordering::Release);
        if let Some(problem) = problem {
            *self.problem.lock().unwrap_or_else(|p| p.into_inner()) = Some(problem);
        }
        crate::metrics::cluster_connected(self.up());
    }

    /// Every half of the link up (the reader counts only with a stream, which
    /// starts it up).
    fn up(&self) -> bool {
        self.subscribed.load(Ordering::Acquire)
            && self.publishing.load(Ordering::Acquire)
            && self.reading.load(Ordering::Acquire)
    }
}

impl Cluster {
    /// A link to the Redis of `config` (not connected until [`Cluster::start`]).
    pub fn new(config: &ClusterConfig, url: &str) -> Result<Cluster, ClusterError> {
        let client = redis::Client::open(url)?;
        let (outbox, inbox) = mpsc::channel(config.publish_queue);
        let stream = (config.adapter == AdapterKind::RedisStreams).then(|| Stream {
            name: config.stream_name.clone(),
            max_len: config.stream_max_len,
        });
        let health = Health {
            // Without a stream there is no reader to wait for.
            reading: AtomicBool::new(stream.is_none()),
            ..Health::default()
        };
        Ok(Cluster(Arc::new(Shared {
            uid: crate::id::random_id(),
            key: config.key.clone(),
            requests_timeout: config.requests_timeout(),
            max_message_bytes: config.max_message_bytes,
            stream,
            client,
            commands: ArcSwapOption::empty(),
            outbox,
            inbox: Mutex::new(Some(inbox)),
            adapters: RwLock::new(Vec::new()),
            health,
            tasks: TaskTracker::new(),
        })))
    }

    /// The adapter of namespace `nsp` (which announces `user_offline` when
    /// `announce_offline`, and keeps what it delivers on this node in `journal`);
    /// every namespace gets its own before [`Cluster::start`], which subscribes to
    /// their channels.
    pub fn adapter(
        &self,
        nsp: &str,
        announce_offline: bool,
        journal: Option<Arc<crate::router::recovery::Journal>>,
    ) -> RedisAdapter {
        let adapter = RedisAdapter::new(self.clone(), nsp, announce_offline, journal);
        self.0
            .adapters
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .push(adapter.link());
        adapter
    }

    /// Starts publishing, subscribing and the presence heartbeat; the tasks end when
    /// `shutdown` is cancelled.
    pub fn start(&self, shutdown: &CancellationToken) {
        let Some(inbox) = self.0.inbox.lock().unwrap_or_else(|p| p.into_inner()).take() else {
            return;
        };
        self.0
            .tasks
            .spawn(link::publisher(self.clone(), inbox, shutdown.clone()));
        self.0
            .tasks
            .spawn(link::subscriber(self.clone(), shutdown.clone()));
        self.0
            .tasks
            .spawn(link::heartbeat(self.clone(), shutdown.clone()));
        if self.0.stream.is_some() {
            self.0.tasks.spawn(reader::read(self.clone(), shutdown.clone()));
        }
    }

    /// Waits for the link's tasks (after the shutdown token is cancelled).
    pub async fn wait_tasks(&self) {
        self.0.tasks.close();
        self.0.tasks.wait().await;
    }

    /// This node's uid on the wire.
    pub fn uid(&self) -> &str {
        &self.0.uid
    }

    /// The channel prefix.
    pub fn key(&self) -> &str {
        &self.0.key
    }

    /// Whether namespaces share one stream (`adapter = "redis-streams"`).
    pub fn streams(&self) -> bool {
        self.0.stream.is_some()
    }

    /// `Ok` while every half of the link is up; else why not.
    pub fn ready(&self) -> Result<(), String> {
        let health = &self.0.health;
        if health.up() {
            return Ok(());
        }
        let problem = health.problem.lock().unwrap_or_else(|p| p.into_inner()).clone();
        Err(problem.unwrap_or_else(|| "connecting to Redis".to_owned()))
    }

    /// Queues a message for Redis; when the queue is full (Redis away or slow) it is
    /// dropped and counted instead.
    fn publish(&self, channel: String, payload: Vec<u8>) {
        self.queue(Publish::Message { channel, payload });
    }

    /// Appends an entry to the stream, which every node (this one too) reads back and
    /// delivers; until the reader reads, or when it cannot be appended, `fallback`
    /// delivers it here only (and the other nodes miss it, counted as dropped).
    fn append(&self, fields: Vec<(&'static str, String)>, fallback: Fallback) {
        if !self.0.health.started.load(Ordering::Acquire) {
            CLUSTER_DROPPED.increment(1);
            return fallback();
        }
        self.queue(Publish::Append {
            fields,
            fallback: Some(fallback),
        });
    }

    /// Stores `value` at `key` for `ttl_ms`, in order with what is published.
    fn set(&self, key: String, value: String, ttl_ms: u64) {
        self.queue(Publish::Set { key, value, ttl_ms });
    }

    /// Deletes `key`, in order with what is published.
    fn del(&self, key: String) {
        self.queue(Publish::Del { key });
    }

    fn queue(&self, publish: Publish) {
        if let Err(full) = self.0.outbox.try_send(publish) {
            full.into_inner().drop_counted();
        }
    }

    /// The command connection, once the link has made it (it reconnects by itself).
    pub(crate) fn commands(&self) -> Option<redis::aio::ConnectionManager> {
        self.0.commands.load_full().map(|c| (*c).clone())
    }

    /// Tracks a task working for the cluster (a client's ack to a remote broadcast).
    fn spawn(&self, task: impl std::future::Future<Output = ()> + Send + 'static) {
        self.0.tasks.spawn(task);
    }

    /// Counts a malformed or oversized message and logs the first, then every power
    /// of two: a flood of bad messages cannot flood the log.
    fn malformed(&self, channel: &str, why: &dyn std::fmt::Display) {
        CLUSTER_MALFORMED.increment(1);
        let n = self.0.health.malformed.fetch_add(1, Ordering::Relaxed) + 1;
        if n.is_power_of_two() {
            tracing::warn!(channel, seen = n, "dropped a message from Redis: {why}");
        }
    }
}
