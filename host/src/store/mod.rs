//! The small store plugins use to stay stateless between calls: key/value with TTL,
//! counters, and per-room history. In memory on one node; a Redis implementation
//! will sit behind the same [`Store`] trait once clustering lands.
//!
//! # Layout
//! - [`memory`]: the in-memory implementation.

pub mod memory;

use std::time::Duration;

pub use memory::MemoryStore;

/// Storage for plugins. Keys arrive already scoped by the caller (plugin name).
pub trait Store: Send + Sync + 'static {
    /// The value of `key`, if set and not expired.
    fn get(&self, key: &str) -> Option<String>;
    /// Sets `key`, expiring after `ttl` when given.
    fn set(&self, key: &str, value: String, ttl: Option<Duration>);
    /// Deletes `key`; true if it existed (and had not expired).
    fn delete(&self, key: &str) -> bool;
    /// Adds `delta` to the integer at `key` (0 when unset or not an integer); returns the result.
    fn incr(&self, key: &str, delta: i64) -> i64;
    /// Appends to a history list, keeping the newest `max_len` entries.
    fn append(&self, list: &str, entry: String, max_len: usize);
    /// The newest `limit` entries of a history list, oldest first.
    fn range(&self, list: &str, limit: usize) -> Vec<String>;
}
