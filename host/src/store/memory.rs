//! In-memory [`Store`]: one map for values, one for history lists, each behind a std
//! mutex held for a few map operations only. Expired keys are dropped when read and
//! swept when the map grows.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::{BoxFuture, Store};

/// Sweep expired keys once this many writes happened since the last sweep.
const SWEEP_EVERY: usize = 1024;

/// The in-memory store.
#[derive(Debug, Default)]
pub struct MemoryStore {
    values: Mutex<Values>,
    lists: Mutex<HashMap<String, VecDeque<String>>>,
}

#[derive(Debug, Default)]
struct Values {
    map: HashMap<String, (String, Option<Instant>)>,
    writes: usize,
}

impl Values {
    fn live(&mut self, key: &str, now: Instant) -> Option<&mut (String, Option<Instant>)> {
        if self
            .map
            .get(key)
            .is_some_and(|(_, exp)| exp.is_some_and(|e| e <= now))
        {
            self.map.remove(key);
        }
        self.map.get_mut(key)
    }

    fn wrote(&mut self, now: Instant) {
        self.writes += 1;
        if self.writes >= SWEEP_EVERY {
            self.writes = 0;
            self.map.retain(|_, (_, exp)| exp.is_none_or(|e| e > now));
        }
    }
}

impl MemoryStore {
    fn values(&self) -> std::sync::MutexGuard<'_, Values> {
        self.values
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn lists(&self) -> std::sync::MutexGuard<'_, HashMap<String, VecDeque<String>>> {
        self.lists.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl MemoryStore {
    /// The value of `key`, if set and not expired.
    pub fn get(&self, key: &str) -> Option<String> {
        self.values().live(key, Instant::now()).map(|(v, _)| v.clone())
    }

    /// See [`Store::set`].
    pub fn set(&self, key: &str, value: String, ttl: Option<Duration>) {
        let now = Instant::now();
        let mut values = self.values();
        values.map.insert(key.to_owned(), (value, ttl.map(|t| now + t)));
        values.wrote(now);
    }

    /// See [`Store::delete`].
    pub fn delete(&self, key: &str) -> bool {
        let mut values = self.values();
        values.live(key, Instant::now()).is_some() && values.map.remove(key).is_some()
    }

    /// See [`Store::incr`].
    pub fn incr(&self, key: &str, delta: i64) -> i64 {
        let now = Instant::now();
        let mut values = self.values();
        let (current, expiry) = match values.live(key, now) {
            Some((v, exp)) => (v.parse::<i64>().unwrap_or(0), *exp),
            None => (0, None),
        };
        let next = current.saturating_add(delta);
        values.map.insert(key.to_owned(), (next.to_string(), expiry));
        values.wrote(now);
        next
    }

    /// See [`Store::append`].
    pub fn append(&self, list: &str, entry: String, max_len: usize) {
        let mut lists = self.lists();
        let items = lists.entry(list.to_owned()).or_default();
        items.push_back(entry);
        while items.len() > max_len {
            items.pop_front();
        }
        if items.is_empty() {
            lists.remove(list);
        }
    }

    /// See [`Store::range`].
    pub fn range(&self, list: &str, limit: usize) -> Vec<String> {
        let lists = self.lists();
        let Some(items) = lists.get(list) else {
            return Vec::new();
        };
        items
            .iter()
            .skip(items.len().saturating_sub(limit))
            .cloned()
            .collect()
    }
}

impl Store for MemoryStore {
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Option<String>> {
        Box::pin(std::future::ready(MemoryStore::get(self, key)))
    }

    fn set<'a>(&'a self, key: &'a str, value: String, ttl: Option<Duration>) -> BoxFuture<'a, ()> {
        MemoryStore::set(self, key, value, ttl);
        Box::pin(std::future::ready(()))
    }

    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, bool> {
        Box::pin(std::future::ready(MemoryStore::delete(self, key)))
    }

    fn incr<'a>(&'a self, key: &'a str, delta: i64) -> BoxFuture<'a, i64> {
        Box::pin(std::future::ready(MemoryStore::incr(self, key, delta)))
    }

    fn append<'a>(&'a self, list: &'a str, entry: String, max_len: usize) -> BoxFuture<'a, ()> {
        MemoryStore::append(self, list, entry, max_len);
        Box::pin(std::future::ready(()))
    }

    fn range<'a>(&'a self, list: &'a str, limit: usize) -> BoxFuture<'a, Vec<String>> {
        Box::pin(std::future::ready(MemoryStore::range(self, list, limit)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_get_delete() {
        let store = MemoryStore::default();
        assert_eq!(store.get("a"), None);
        store.set("a", "1".into(), None);
        assert_eq!(store.get("a").as_deref(), Some("1"));
        assert!(store.delete("a"));
        assert!(!store.delete("a"));
        assert_eq!(store.get("a"), None);
    }

    #[test]
    fn values_expire() {
        let store = MemoryStore::default();
        store.set("t", "x".into(), Some(Duration::ZERO));
        assert_eq!(store.get("t"), None, "a zero TTL is already expired");
        assert!(!store.delete("t"));
        store.set("t", "x".into(), Some(Duration::from_secs(60)));
        assert_eq!(store.get("t").as_deref(), Some("x"));
    }

    #[test]
    fn sweeping_drops_only_expired_keys() {
        let store = MemoryStore::default();
        store.set("keep", "k".into(), None);
        for i in 0..SWEEP_EVERY {
            store.set(&format!("gone{i}"), "g".into(), Some(Duration::ZERO));
        }
        assert!(store.values().map.len() < SWEEP_EVERY / 2);
        assert_eq!(store.get("keep").as_deref(), Some("k"));
    }

    #[test]
    fn incr_counts_from_zero_and_keeps_ttl() {
        let store = MemoryStore::default();
        assert_eq!(store.incr("n", 1), 1);
        assert_eq!(store.incr("n", 5), 6);
        assert_eq!(store.incr("n", -10), -4);
        store.set("s", "not a number".into(), None);
        assert_eq!(store.incr("s", 2), 2);
        store.set("e", "7".into(), Some(Duration::ZERO));
        assert_eq!(store.incr("e", 1), 1, "an expired counter restarts");
        assert_eq!(store.incr("max", i64::MAX), i64::MAX);
        assert_eq!(store.incr("max", 1), i64::MAX, "saturates");
    }

    #[test]
    fn history_keeps_the_newest_and_reads_oldest_first() {
        let store = MemoryStore::default();
        for i in 0..60 {
            store.append("room", i.to_string(), 50);
        }
        let last = store.range("room", 50);
        assert_eq!(last.len(), 50);
        assert_eq!(last.first().map(String::as_str), Some("10"));
        assert_eq!(last.last().map(String::as_str), Some("59"));
        assert_eq!(store.range("room", 2), ["58", "59"]);
        assert!(store.range("other", 5).is_empty());
        store.append("zero", "x".into(), 0);
        assert!(store.range("zero", 5).is_empty());
    }
}
