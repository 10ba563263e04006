//! The plugins' store in Redis, shared by every node of a cluster: keys are strings
//! (`SET … PX`), counters `INCRBY`, histories lists trimmed to their newest entries.
//! Everything lives under `<cluster key>-portico-store:`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use redis::AsyncCommands as _;
use redis::aio::ConnectionManager;

use super::{BoxFuture, Store, StoreRefusal};
use crate::cluster::Cluster;
use crate::metrics::STORE_ERRORS;

/// The store on the cluster's Redis.
pub struct RedisStore {
    cluster: Cluster,
    prefix: String,
    /// Failures seen: the first and then every power of two is logged.
    failures: AtomicU64,
}

impl RedisStore {
    /// The store of `cluster`'s nodes.
    pub fn new(cluster: Cluster) -> RedisStore {
        let prefix = format!("{}-portico-store:", cluster.key());
        RedisStore {
            cluster,
            prefix,
            failures: AtomicU64::new(0),
        }
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    /// Runs `op` on the command connection; on failure (or none), logs, counts and
    /// answers `fallback`.
    async fn run<T, F>(&self, what: &str, fallback: T, op: impl FnOnce(ConnectionManager) -> F) -> T
    where
        F: std::future::Future<Output = redis::RedisResult<T>>,
    {
        let result = match self.cluster.commands() {
            Some(conn) => op(conn).await,
            None => Err(redis::RedisError::from((
                redis::ErrorKind::IoError,
                "not connected to Redis",
            ))),
        };
        result.unwrap_or_else(|e| {
            STORE_ERRORS.increment(1);
            let n = self.failures.fetch_add(1, Ordering::Relaxed) + 1;
            if n.is_power_of_two() {
                tracing::warn!(seen = n, "store: {what} failed: {e}");
            }
            fallback
        })
    }
}

impl Store for RedisStore {
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Option<String>> {
        let key = self.key(key);
        Box::pin(self.run("get", None, move |mut c| async move { c.get(key).await }))
    }

    fn set<'a>(
        &'a self,
        key: &'a str,
        value: String,
        ttl: Option<Duration>,
    ) -> BoxFuture<'a, Result<(), StoreRefusal>> {
        let key = self.key(key);
        Box::pin(async move {
            self.run("set", (), move |mut c| async move {
                match ttl {
                    Some(ttl) => {
                        let ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
                        c.pset_ex(key, value, ms).await
                    }
                    None => c.set(key, value).await,
                }
            })
            .await;
            Ok(())
        })
    }

    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, bool> {
        let key = self.key(key);
        Box::pin(self.run("delete", false, move |mut c| async move {
            let n: u64 = c.del(key).await?;
            Ok(n > 0)
        }))
    }

    fn incr<'a>(&'a self, key: &'a str, delta: i64) -> BoxFuture<'a, Result<i64, StoreRefusal>> {
        let key = self.key(key);
        let counted = self.run("incr", 0, move |mut c| async move {
            match c.incr(&key, delta).await {
                Ok(n) => Ok(n),
                // Not an integer: counted from 0, as the memory store does (its TTL,
                // if any, is kept).
                Err(e) if e.kind() == redis::ErrorKind::ResponseError => {
                    let () = redis::cmd("SET")
                        .arg(&key)
                        .arg(delta)
                        .arg("KEEPTTL")
                        .query_async(&mut c)
                        .await?;
                    Ok(delta)
                }
                Err(e) => Err(e),
            }
        });
        Box::pin(async move { Ok(counted.await) })
    }

    fn append<'a>(&'a self, list: &'a str, entry: String, max_len: usize) -> BoxFuture<'a, ()> {
        let list = self.key(list);
        Box::pin(self.run("append", (), move |mut c| async move {
            if max_len == 0 {
                let () = c.del(&list).await?;
                return Ok(());
            }
            let keep = -isize::try_from(max_len).unwrap_or(isize::MAX);
            redis::pipe()
                .atomic()
                .rpush(&list, entry)
                .ignore()
                .ltrim(&list, keep, -1)
                .ignore()
                .query_async(&mut c)
                .await
        }))
    }

    fn range<'a>(&'a self, list: &'a str, limit: usize) -> BoxFuture<'a, Vec<String>> {
        let list = self.key(list);
        Box::pin(self.run("range", Vec::new(), move |mut c| async move {
            if limit == 0 {
                return Ok(Vec::new());
            }
            let from = -isize::try_from(limit).unwrap_or(isize::MAX);
            c.lrange(&list, from, -1).await
        }))
    }
}
