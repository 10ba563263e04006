//! The `cluster` scenario: two nodes of one server on one `redis-server`, the fan-out
//! room's members (and senders) alternating between them, so half of every message's
//! deliveries cross nodes through Redis. Portico (its Redis adapter) and Node socket.io
//! (`@socket.io/redis-adapter`) only: the others have no cluster mode that speaks it.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context, bail};

use super::servers::{self, ServerSpec};
use crate::scenario::Report;

/// Nodes per cluster.
const NODES: usize = 2;

/// The environment that puts `spec` in a cluster on `url`, if it has a cluster mode.
pub fn cluster_env(spec: &ServerSpec, url: &str) -> Option<(&'static str, String)> {
    match spec.name {
        "portico" => Some(("PORTICO_REDIS_URL", url.to_owned())),
        "node" => Some(("REDIS_URL", url.to_owned())),
        _ => None,
    }
}

/// A running `redis-server`; killed when dropped.
struct Redis {
    child: Child,
    url: String,
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `redis-server` on a free loopback port, pinned to `core`; a port taken
/// between choosing and binding is retried with another.
fn start_redis(core: Option<usize>) -> anyhow::Result<Redis> {
    let mut last = None;
    for _ in 0..5 {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let mut child = servers::pinned(core, Path::new("redis-server"))
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("starting redis-server (cargo xtask bench installs it)")?;
        let stdout = child.stdout.take().context("redis-server stdout")?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.contains("Ready to accept connections") {
                    let _ = tx.send(());
                }
            }
        });
        let redis = Redis {
            child,
            url: format!("redis://127.0.0.1:{port}"),
        };
        match rx.recv_timeout(Duration::from_secs(10)) {
            Ok(()) => return Ok(redis),
            Err(e) => last = Some(e),
        }
    }
    bail!("redis-server did not start: {last:?}")
}

/// Starts Redis and two nodes of `spec` on it, all pinned to the server core, runs the
/// load generator (pinned to the other) against both nodes, and stops everything.
pub fn measure(
    spec: &ServerSpec,
    load: &[&str],
    me: &Path,
    (server_core, loadgen_core): (Option<usize>, Option<usize>),
    log: &Path,
) -> anyhow::Result<Report> {
    let redis = start_redis(server_core)?;
    let (key, value) = cluster_env(spec, &redis.url).context("this server has no cluster mode")?;
    let mut node_spec = spec.clone();
    node_spec.env.push((key.into(), value.into()));
    let mut nodes = Vec::new();
    for i in 0..NODES {
        let log = log.with_extension(format!("node{i}.log"));
        nodes.push(servers::start(
            &node_spec,
            server_core,
            &log,
            Duration::from_secs(60),
        )?);
    }
    // Let both subscribe and settle before the load.
    std::thread::sleep(Duration::from_millis(1000));
    let mut command = servers::pinned(loadgen_core, me);
    command.arg("run");
    for node in &nodes {
        command.arg("--addr").arg(node.addr.to_string());
    }
    for node in &nodes {
        command.arg("--pid").arg(node.pid().to_string());
    }
    command
        .arg("--pid")
        .arg(redis.child.id().to_string())
        .args(load)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .stdout(Stdio::piped());
    let child = command.spawn().context("starting the load generator")?;
    let (status, stdout) = super::wait_with_deadline(child, Duration::from_secs(120))?;
    drop(nodes);
    drop(redis);
    super::report_of(status, &stdout)
}
