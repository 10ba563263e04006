//! The `[cluster]` section: one node, or several sharing a Redis.

use std::time::Duration;

use serde::Deserialize;

use super::ConfigError;

/// The environment variable that turns the Redis adapter on with its URL, whatever
/// the file says: a deployment scales out with no edit.
pub const REDIS_URL_ENV: &str = "PORTICO_REDIS_URL";

/// How this node shares rooms, broadcasts and presence with others.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterConfig {
    /// `local` (one node, nothing to install), `redis` or `redis-streams`. Defaults
    /// to `local`, or to `redis` when `PORTICO_REDIS_URL` is set.
    pub adapter: AdapterKind,
    /// The Redis server, `redis://[user:password@]host[:port][/db]`. Required with
    /// either Redis adapter.
    pub redis_url: Option<String>,
    /// The channel prefix, Node's `key` option. Defaults to `socket.io`, as Node's
    /// `@socket.io/redis-adapter` and `@socket.io/redis-emitter` have it.
    pub key: String,
    /// How long a request to the other nodes (`fetchSockets`, …) waits for their
    /// answers, in milliseconds. Defaults to 5000, Node's `requestsTimeout`.
    pub requests_timeout_ms: u64,
    /// Messages waiting to be published; beyond that (Redis slow or away) new ones are
    /// dropped and counted, never buffered without bound. Defaults to 10 000.
    pub publish_queue: usize,
    /// Largest message read from Redis, in bytes; a larger one is logged and dropped.
    /// Defaults to 4 000 000.
    pub max_message_bytes: usize,
    /// With `redis-streams`: the stream every node appends to and reads, Node's
    /// `streamName`. Defaults to `socket.io`.
    pub stream_name: String,
    /// With `redis-streams`: about how many entries the stream keeps (`MAXLEN ~`),
    /// Node's `maxLen`. Defaults to 10 000.
    pub stream_max_len: usize,
}

/// Which adapter a node uses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AdapterKind {
    /// This node only.
    #[default]
    Local,
    /// Redis pub/sub, wire-compatible with Node's `@socket.io/redis-adapter`.
    Redis,
    /// One Redis stream, wire-compatible with Node's
    /// `@socket.io/redis-streams-adapter`: every node reads every broadcast in one
    /// order, and a disconnected client's session can resume on any node.
    #[serde(rename = "redis-streams")]
    RedisStreams,
}

impl Default for ClusterConfig {
    fn default() -> ClusterConfig {
        ClusterConfig {
            adapter: AdapterKind::Local,
            redis_url: None,
            key: portico_protocol::cluster::DEFAULT_PREFIX.to_owned(),
            requests_timeout_ms: 5000,
            publish_queue: 10_000,
            max_message_bytes: 4_000_000,
            stream_name: portico_protocol::cluster::streams::STREAM.to_owned(),
            stream_max_len: portico_protocol::cluster::streams::MAX_LEN,
        }
    }
}

impl ClusterConfig {
    /// `PORTICO_REDIS_URL`, when set and not empty, selects Redis at that URL (the
    /// file's Redis adapter, or `redis` when it has none).
    pub(super) fn apply_env(&mut self, url: Option<String>) {
        if let Some(url) = url.filter(|u| !u.is_empty()) {
            if self.adapter == AdapterKind::Local {
                self.adapter = AdapterKind::Redis;
            }
            self.redis_url = Some(url);
        }
    }

    /// How long requests to other nodes wait.
    pub fn requests_timeout(&self) -> Duration {
        Duration::from_millis(self.requests_timeout_ms)
    }

    /// The Redis URL, when the Redis adapter is selected.
    pub fn redis(&self) -> Option<&str> {
        match self.adapter {
            AdapterKind::Local => None,
            AdapterKind::Redis | AdapterKind::RedisStreams => self.redis_url.as_deref(),
        }
    }

    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key: &str, reason: String| ConfigError::Invalid {
            key: format!("cluster.{key}"),
            reason,
        };
        if self.adapter != AdapterKind::Local && self.redis_url.as_deref().is_none_or(str::is_empty) {
            // Whether it parses as a Redis URL is the host's to check (it has the client).
            return Err(invalid(
                "redis_url",
                format!("required with a Redis adapter (or set {REDIS_URL_ENV})"),
            ));
        }
        if self.stream_name.is_empty() {
            return Err(invalid("stream_name", "must be non-empty".into()));
        }
        if self.stream_max_len == 0 {
            return Err(invalid("stream_max_len", "must be at least 1".into()));
        }
        if self.key.is_empty() || self.key.contains('#') {
            return Err(invalid("key", "must be non-empty and contain no `#`".into()));
        }
        if self.requests_timeout_ms == 0 {
            return Err(invalid("requests_timeout_ms", "must be at least 1".into()));
        }
        if self.publish_queue == 0 {
            return Err(invalid("publish_queue", "must be at least 1".into()));
        }
        if self.max_message_bytes < 1024 {
            return Err(invalid("max_message_bytes", "must be at least 1024".into()));
        }
        Ok(())
    }
}
