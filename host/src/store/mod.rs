//! The small store plugins use to stay stateless between calls: key/value with TTL,
//! counters, and per-room history. In memory on one node; in Redis when the node is in
//! a cluster, so every node's plugins share it.
//!
//! # Layout
//! - [`memory`]: the in-memory implementation.
//! - [`redis`]: the Redis one, on the cluster's connection.

pub mod memory;
pub mod redis;

use std::time::Duration;

pub use memory::MemoryStore;
pub use redis::RedisStore;

/// Why the store refused a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StoreRefusal {
    /// The write would create a key past the scope's `plugins.limits.kv_max_keys`.
    #[error("the plugin holds {0} keys in the store, its limit (plugins.limits.kv_max_keys)")]
    TooManyKeys(usize),
}

/// A store operation in flight.
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// Storage for plugins. Keys arrive already scoped by the caller: `SCOPE:key`, the
/// scope a plugin name (which holds no `:`), each scope's keys counted on their own. An
/// operation that cannot reach the storage answers as if the key were unset (and the
/// store logs and counts it): a plugin call never fails because of it.
pub trait Store: Send + Sync + 'static {
    /// The value of `key`, if set and not expired.
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Option<String>>;
    /// Sets `key`, expiring after `ttl` when given; refused when it is a new key and
    /// its scope holds its most keys already.
    fn set<'a>(
        &'a self,
        key: &'a str,
        value: String,
        ttl: Option<Duration>,
    ) -> BoxFuture<'a, Result<(), StoreRefusal>>;
    /// Deletes `key`; true if it existed (and had not expired).
    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, bool>;
    /// Adds `delta` to the integer at `key` (0 when unset or not an integer); returns
    /// the result. Refused as [`Store::set`] is, for a new key.
    fn incr<'a>(&'a self, key: &'a str, delta: i64) -> BoxFuture<'a, Result<i64, StoreRefusal>>;
    /// Appends to a history list, keeping the newest `max_len` entries.
    fn append<'a>(&'a self, list: &'a str, entry: String, max_len: usize) -> BoxFuture<'a, ()>;
    /// The newest `limit` entries of a history list, oldest first.
    fn range<'a>(&'a self, list: &'a str, limit: usize) -> BoxFuture<'a, Vec<String>>;
    /// Lets each scope hold `max_keys` from now on (a reloaded
    /// `plugins.limits.kv_max_keys`); a scope holding more keeps them but creates no
    /// new key. Stores that leave counting to their backend ignore it.
    fn set_max_keys(&self, max_keys: usize) {
        let _ = max_keys;
    }
}
