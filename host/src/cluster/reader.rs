//! The stream reader of `adapter = "redis-streams"`: one task on its own connection
//! (an `XREAD BLOCK` holds it), handing every entry to its namespace's adapter in the
//! stream's order. It starts from the stream's newest entry when it first connects,
//! and after a lost connection reads on from the last entry it saw, so nothing
//! appended meanwhile is skipped.

use std::time::Duration;

use redis::Value;
use tokio_util::sync::CancellationToken;

use super::link::{Backoff, CONNECT_TIMEOUT, live_links, pause};
use super::{Cluster, Stream};
use crate::protocol::cluster::streams::decode_entry;

/// Entries read per `XREAD` (Node's `readCount`).
const READ_COUNT: usize = 100;
/// How long one `XREAD` blocks when nothing comes (Node's `blockTimeInMs`).
const BLOCK: Duration = Duration::from_secs(5);

/// One entry: its id and its field-value pairs.
type Entry = (String, Vec<(Vec<u8>, Vec<u8>)>);

/// Reads the stream until `shutdown`, reconnecting with backoff.
pub(super) async fn read(cluster: Cluster, shutdown: CancellationToken) {
    let Some(stream) = cluster.0.stream.clone() else {
        return;
    };
    let shared = &cluster.0;
    let config = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(CONNECT_TIMEOUT)
        .set_response_timeout(BLOCK + CONNECT_TIMEOUT);
    let mut backoff = Backoff::new();
    let mut last: Option<String> = None;
    loop {
        let connect = shared
            .client
            .get_multiplexed_async_connection_with_config(&config);
        let problem = tokio::select! {
            () = shutdown.cancelled() => return,
            connected = connect => match connected {
                Ok(mut conn) => {
                    let read = read_on(&cluster, &stream, &mut conn, &mut last, &mut backoff);
                    tokio::select! {
                        () = shutdown.cancelled() => return,
                        problem = read => problem,
                    }
                }
                Err(e) => format!("cannot connect to Redis: {e}"),
            },
        };
        shared.health.set(&shared.health.reading, false, Some(problem));
        if !pause(backoff.next(), &shutdown).await {
            return;
        }
    }
}

/// Reads on one connection until it fails; returns why.
async fn read_on(
    cluster: &Cluster,
    stream: &Stream,
    conn: &mut redis::aio::MultiplexedConnection,
    last: &mut Option<String>,
    backoff: &mut Backoff,
) -> String {
    let shared = &cluster.0;
    if last.is_none() {
        // Where this node starts: after the newest entry there is now. Until then its
        // broadcasts were delivered here directly; from now on they are read back.
        let newest: Result<Value, _> = redis::cmd("XREVRANGE")
            .arg(&stream.name)
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(1)
            .query_async(conn)
            .await;
        match newest {
            Ok(value) => {
                let newest = entries(&value).ok().and_then(|e| e.into_iter().next());
                let start = newest.map_or_else(|| "0-0".to_owned(), |(id, _)| id);
                // Every namespace's journal records every entry after this one.
                for link in live_links(cluster) {
                    link.reads_after(&start);
                }
                *last = Some(start);
            }
            Err(e) => return format!("cannot read the Redis stream: {e}"),
        }
    }
    shared.health.set(&shared.health.reading, true, None);
    shared
        .health
        .started
        .store(true, std::sync::atomic::Ordering::Release);
    backoff.reset();
    tracing::info!(uid = %shared.uid, stream = stream.name, "cluster: reading the stream");
    loop {
        let from = last.clone().unwrap_or_else(|| "0-0".to_owned());
        let reply: Result<Value, _> = redis::cmd("XREAD")
            .arg("COUNT")
            .arg(READ_COUNT)
            .arg("BLOCK")
            .arg(BLOCK.as_millis() as u64)
            .arg("STREAMS")
            .arg(&stream.name)
            .arg(&from)
            .query_async(conn)
            .await;
        let reply = match reply {
            Ok(reply) => reply,
            Err(e) => return format!("reading the Redis stream failed: {e}"),
        };
        let read = match streams_entries(&reply) {
            Ok(read) => read,
            Err(why) => {
                cluster.malformed(&stream.name, &why);
                return format!("reading the Redis stream failed: {why}");
            }
        };
        for (id, fields) in read {
            deliver(cluster, &stream.name, &id, &fields);
            *last = Some(id);
        }
    }
}

/// Hands one entry to its namespace's adapter.
fn deliver(cluster: &Cluster, stream: &str, id: &str, fields: &[(Vec<u8>, Vec<u8>)]) {
    let size: usize = fields.iter().map(|(k, v)| k.len() + v.len()).sum();
    if size > cluster.0.max_message_bytes {
        return cluster.malformed(
            stream,
            &format_args!("{size} bytes, over cluster.max_message_bytes"),
        );
    }
    let envelope = match decode_entry(fields) {
        Ok(envelope) => envelope,
        Err(e) => return cluster.malformed(stream, &e),
    };
    // Found under the lock, used after it: a delivery never holds it.
    let link = cluster
        .0
        .adapters
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .filter_map(std::sync::Weak::upgrade)
        .find(|link| link.nsp() == envelope.nsp);
    if let Some(link) = link {
        link.on_entry(id, envelope);
    }
}

/// The entries of an `XREAD` reply for one stream (nil: none came).
fn streams_entries(reply: &Value) -> Result<Vec<Entry>, &'static str> {
    match reply {
        Value::Nil => Ok(Vec::new()),
        // RESP2: [[name, entries]]; RESP3: {name: entries}.
        Value::Array(streams) => match streams.first() {
            Some(Value::Array(pair)) if pair.len() == 2 => entries(&pair[1]),
            None => Ok(Vec::new()),
            _ => Err("an XREAD reply is [[stream, entries]]"),
        },
        Value::Map(streams) => streams.first().map_or(Ok(Vec::new()), |(_, e)| entries(e)),
        _ => Err("an XREAD reply is [[stream, entries]]"),
    }
}

/// `[[id, [field, value, …]], …]`: an `XRANGE` reply, or one stream's in `XREAD`'s.
pub(super) fn entries(value: &Value) -> Result<Vec<Entry>, &'static str> {
    const SHAPE: &str = "a stream entry is [id, [field, value, …]]";
    let Value::Array(items) = value else {
        return Err(SHAPE);
    };
    items
        .iter()
        .map(|item| {
            let Value::Array(pair) = item else {
                return Err(SHAPE);
            };
            let [id, Value::Array(flat)] = pair.as_slice() else {
                return Err(SHAPE);
            };
            let id = text(id).ok_or(SHAPE)?;
            let fields = flat
                .chunks(2)
                .map(|kv| match kv {
                    [k, v] => Some((bytes(k)?, bytes(v)?)),
                    _ => None,
                })
                .collect::<Option<Vec<_>>>()
                .ok_or(SHAPE)?;
            Ok((id, fields))
        })
        .collect()
}

fn bytes(value: &Value) -> Option<Vec<u8>> {
    match value {
        Value::BulkString(b) => Some(b.clone()),
        Value::SimpleString(s) => Some(s.clone().into_bytes()),
        _ => None,
    }
}

fn text(value: &Value) -> Option<String> {
    String::from_utf8(bytes(value)?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Value {
        Value::BulkString(s.as_bytes().to_vec())
    }

    #[test]
    fn an_xread_reply_yields_its_entries_in_order() {
        let reply = Value::Array(vec![Value::Array(vec![
            bulk("socket.io"),
            Value::Array(vec![
                Value::Array(vec![
                    bulk("1-0"),
                    Value::Array(vec![bulk("uid"), bulk("a"), bulk("type"), bulk("4")]),
                ]),
                Value::Array(vec![bulk("1-1"), Value::Array(vec![bulk("nsp"), bulk("/")])]),
            ]),
        ])]);
        let read = streams_entries(&reply).expect("well formed");
        assert_eq!(read.len(), 2);
        assert_eq!(read[0].0, "1-0");
        assert_eq!(read[0].1[1], (b"type".to_vec(), b"4".to_vec()));
        assert_eq!(read[1].0, "1-1");
        assert!(streams_entries(&Value::Nil).expect("none").is_empty());
    }

    #[test]
    fn a_malformed_reply_is_an_error_not_a_panic() {
        for reply in [
            Value::Int(3),
            Value::Array(vec![bulk("x")]),
            Value::Array(vec![Value::Array(vec![bulk("s"), Value::Int(1)])]),
            Value::Array(vec![Value::Array(vec![
                bulk("s"),
                Value::Array(vec![Value::Array(vec![
                    bulk("1-0"),
                    Value::Array(vec![bulk("odd")]),
                ])]),
            ])]),
        ] {
            assert!(streams_entries(&reply).is_err(), "{reply:?}");
        }
    }
}
