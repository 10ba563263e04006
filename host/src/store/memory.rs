//! In-memory [`Store`]: one map for values, one for history lists, each behind a std
//! mutex held for a few map operations only. Expired keys are dropped when read and
//! swept when the map grows. Each scope's keys are counted, and bounded.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::{BoxFuture, Store, StoreRefusal};

/// Sweep expired keys once this many writes happened since the last sweep.
const SWEEP_EVERY: usize = 1024;

/// The in-memory store.
#[derive(Debug)]
pub struct MemoryStore {
    values: Mutex<Values>,
    lists: Mutex<HashMap<String, VecDeque<String>>>,
    /// Most keys one scope may hold; an atomic, so a reload can change it.
    max_keys: AtomicUsize,
}

impl Default for MemoryStore {
    /// A store whose scopes may each hold any number of keys.
    fn default() -> MemoryStore {
        MemoryStore::new(usize::MAX)
    }
}

#[derive(Debug, Default)]
struct Values {
    map: HashMap<String, (String, Option<Instant>)>,
    /// Keys in `map` by scope (what precedes the first `:`).
    scopes: HashMap<String, usize>,
    writes: usize,
    /// When a full scope last made the whole map be swept (at most every
    /// [`FULL_SWEEP_PAUSE`], so a plugin writing at its limit cannot make every write
    /// walk the map).
    full_sweep: Option<Instant>,
}

/// Least time between two sweeps asked for by a full scope.
const FULL_SWEEP_PAUSE: Duration = Duration::from_millis(100);

/// The scope of a key: the plugin that owns it.
fn scope(key: &str) -> &str {
    key.split_once(':').map_or(key, |(scope, _)| scope)
}

/// Counts a key out of its scope.
fn forget(scopes: &mut HashMap<String, usize>, key: &str) {
    let scope = scope(key);
    if let Some(n) = scopes.get_mut(scope) {
        *n -= 1;
        if *n == 0 {
            scopes.remove(scope);
        }
    }
}

impl Values {
    fn live(&mut self, key: &str, now: Instant) -> Option<&mut (String, Option<Instant>)> {
        if self
            .map
            .get(key)
            .is_some_and(|(_, exp)| exp.is_some_and(|e| e <= now))
        {
            self.remove(key);
        }
        self.map.get_mut(key)
    }

    fn remove(&mut self, key: &str) -> bool {
        let removed = self.map.remove(key).is_some();
        if removed {
            forget(&mut self.scopes, key);
        }
        removed
    }

    /// Writes `key` (live or not: [`Values::live`] was asked first), unless it is new
    /// and its scope is full.
    fn insert(
        &mut self,
        key: &str,
        entry: (String, Option<Instant>),
        max_keys: usize,
        now: Instant,
    ) -> Result<(), StoreRefusal> {
        if let Some(slot) = self.map.get_mut(key) {
            *slot = entry;
            return Ok(());
        }
        let full = self.scopes.get(scope(key)).is_some_and(|n| *n >= max_keys);
        if full
            && self
                .full_sweep
                .is_none_or(|at| now.duration_since(at) >= FULL_SWEEP_PAUSE)
        {
            // Expired keys still hold places until a sweep: sweep before refusing.
            self.full_sweep = Some(now);
            self.sweep(now);
        }
        let count = self.scopes.entry(scope(key).to_owned()).or_default();
        if *count >= max_keys {
            let full = *count;
            return Err(StoreRefusal::TooManyKeys(full));
        }
        *count += 1;
        self.map.insert(key.to_owned(), entry);
        Ok(())
    }

    fn wrote(&mut self, now: Instant) {
        self.writes += 1;
        if self.writes >= SWEEP_EVERY {
            self.sweep(now);
        }
    }

    /// Drops every expired key.
    fn sweep(&mut self, now: Instant) {
        self.writes = 0;
        let scopes = &mut self.scopes;
        self.map.retain(|key, (_, exp)| {
            let keep = exp.is_none_or(|e| e > now);
            if !keep {
                forget(scopes, key);
            }
            keep
        });
    }
}

impl MemoryStore {
    /// A store in which each scope may hold at most `max_keys` keys.
    pub fn new(max_keys: usize) -> MemoryStore {
        MemoryStore {
            values: Mutex::default(),
            lists: Mutex::default(),
            max_keys: AtomicUsize::new(max_keys),
        }
    }

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
    pub fn set(&self, key: &str, value: String, ttl: Option<Duration>) -> Result<(), StoreRefusal> {
        let now = Instant::now();
        let mut values = self.values();
        values.live(key, now);
        values.insert(
            key,
            (value, ttl.map(|t| now + t)),
            self.max_keys.load(Ordering::Relaxed),
            now,
        )?;
        values.wrote(now);
        Ok(())
    }

    /// See [`Store::delete`].
    pub fn delete(&self, key: &str) -> bool {
        let mut values = self.values();
        values.live(key, Instant::now()).is_some() && values.remove(key)
    }

    /// See [`Store::incr`].
    pub fn incr(&self, key: &str, delta: i64) -> Result<i64, StoreRefusal> {
        let now = Instant::now();
        let mut values = self.values();
        let (current, expiry) = match values.live(key, now) {
            Some((v, exp)) => (v.parse::<i64>().unwrap_or(0), *exp),
            None => (0, None),
        };
        let next = current.saturating_add(delta);
        values.insert(
            key,
            (next.to_string(), expiry),
            self.max_keys.load(Ordering::Relaxed),
            now,
        )?;
        values.wrote(now);
        Ok(next)
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
    fn set_max_keys(&self, max_keys: usize) {
        self.max_keys.store(max_keys, Ordering::Relaxed);
    }

    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Option<String>> {
        Box::pin(std::future::ready(MemoryStore::get(self, key)))
    }

    fn set<'a>(
        &'a self,
        key: &'a str,
        value: String,
        ttl: Option<Duration>,
    ) -> BoxFuture<'a, Result<(), StoreRefusal>> {
        Box::pin(std::future::ready(MemoryStore::set(self, key, value, ttl)))
    }

    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, bool> {
        Box::pin(std::future::ready(MemoryStore::delete(self, key)))
    }

    fn incr<'a>(&'a self, key: &'a str, delta: i64) -> BoxFuture<'a, Result<i64, StoreRefusal>> {
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
        store.set("a", "1".into(), None).expect("room");
        assert_eq!(store.get("a").as_deref(), Some("1"));
        assert!(store.delete("a"));
        assert!(!store.delete("a"));
        assert_eq!(store.get("a"), None);
    }

    #[test]
    fn values_expire() {
        let store = MemoryStore::default();
        store.set("t", "x".into(), Some(Duration::ZERO)).expect("room");
        assert_eq!(store.get("t"), None, "a zero TTL is already expired");
        assert!(!store.delete("t"));
        store
            .set("t", "x".into(), Some(Duration::from_secs(60)))
            .expect("room");
        assert_eq!(store.get("t").as_deref(), Some("x"));
    }

    #[test]
    fn sweeping_drops_only_expired_keys() {
        let store = MemoryStore::default();
        store.set("keep", "k".into(), None).expect("room");
        for i in 0..SWEEP_EVERY {
            store
                .set(&format!("gone{i}"), "g".into(), Some(Duration::ZERO))
                .expect("room");
        }
        assert!(store.values().map.len() < SWEEP_EVERY / 2);
        assert_eq!(store.get("keep").as_deref(), Some("k"));
    }

    #[test]
    fn incr_counts_from_zero_and_keeps_ttl() {
        let store = MemoryStore::default();
        assert_eq!(store.incr("n", 1).expect("room"), 1);
        assert_eq!(store.incr("n", 5).expect("room"), 6);
        assert_eq!(store.incr("n", -10).expect("room"), -4);
        store.set("s", "not a number".into(), None).expect("room");
        assert_eq!(store.incr("s", 2).expect("room"), 2);
        store.set("e", "7".into(), Some(Duration::ZERO)).expect("room");
        assert_eq!(
            store.incr("e", 1).expect("room"),
            1,
            "an expired counter restarts"
        );
        assert_eq!(store.incr("max", i64::MAX).expect("room"), i64::MAX);
        assert_eq!(store.incr("max", 1).expect("room"), i64::MAX, "saturates");
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

    #[test]
    fn each_scope_holds_at_most_its_keys_and_freed_keys_make_room() {
        let store = MemoryStore::new(2);
        store.set("a:1", "x".into(), None).expect("first");
        store.incr("a:2", 1).expect("second");
        assert_eq!(
            store.set("a:3", "x".into(), None),
            Err(StoreRefusal::TooManyKeys(2))
        );
        assert_eq!(store.incr("a:3", 1), Err(StoreRefusal::TooManyKeys(2)));
        store
            .set("a:1", "overwritten".into(), None)
            .expect("an existing key costs nothing");
        store
            .set("b:1", "x".into(), None)
            .expect("another scope has its own count");
        assert!(store.delete("a:1"));
        store
            .set("a:3", "x".into(), None)
            .expect("a deleted key made room");
        assert_eq!(
            store.set("a:4", "x".into(), Some(Duration::ZERO)),
            Err(StoreRefusal::TooManyKeys(2))
        );
        // An expired key gives its place back once the store notices.
        let store = MemoryStore::new(1);
        store.set("c:1", "x".into(), Some(Duration::ZERO)).expect("room");
        store
            .set("c:2", "x".into(), None)
            .expect("the expired key was dropped first");
        let store = MemoryStore::new(1);
        for i in 0..SWEEP_EVERY {
            store
                .set(&format!("d:{i}"), "x".into(), Some(Duration::ZERO))
                .ok();
            store
                .set(&format!("e:{i}"), "x".into(), Some(Duration::ZERO))
                .ok();
        }
        assert!(
            store.values().scopes.values().all(|n| *n <= 1),
            "swept keys are counted out"
        );
    }
}
