//! The load scenarios. Each runs in this process against one server, on a
//! single-threaded runtime (the generator gets one core), and returns a [`Report`].
//!
//! # Layout
//! - [`echo`]: closed-loop emit-with-ack → acks/s and latency;
//! - [`fanout`]: one room, senders at the rate the room can take → deliveries/s,
//!   delivery latency and loss;
//! - [`idle`]: many held connections → connect rate and server memory per connection;
//! - [`soak`]: connections churning for many minutes → whether memory and descriptors
//!   stop growing (`cargo xtask soak`).

pub mod echo;
pub mod fanout;
pub mod idle;
pub mod soak;

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::client::{self, Client, ClientError};
use crate::procfs::{self, Sample};

/// The server under load: one node, or the nodes of a cluster.
#[derive(Debug, Clone)]
pub struct Target {
    /// Where its nodes listen (at least one); client `i` connects to node `i % n`.
    pub addrs: Vec<SocketAddr>,
    /// Its Socket.IO path, like `/socket.io/`.
    pub path: String,
    /// Its processes (the nodes, and a cluster's Redis), for CPU readings, summed; the
    /// first is the one whose memory is read. None: those metrics are left out.
    pub pids: Vec<u32>,
    /// Whether clients offer permessage-deflate (and insist on it).
    pub deflate: bool,
}

impl Target {
    /// The node client `i` connects to.
    pub fn addr(&self, i: usize) -> SocketAddr {
        self.addrs[i % self.addrs.len()]
    }

    /// The first process, whose memory is read.
    pub fn pid(&self) -> Option<u32> {
        self.pids.first().copied()
    }
}

/// What one scenario run measured.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Report {
    /// `echo`, `fanout` or `idle`.
    pub scenario: String,
    /// The parameters it ran with.
    pub params: serde_json::Value,
    /// Named figures; names end in their unit (`_per_s`, `_us`, `_kib`, `_pct`, ...).
    pub metrics: BTreeMap<String, f64>,
    /// Failures seen during the run (a few, with a count in `metrics`).
    pub errors: Vec<String>,
}

impl Report {
    fn new(scenario: &str, params: impl Serialize) -> Report {
        Report {
            scenario: scenario.to_owned(),
            params: serde_json::to_value(params).unwrap_or_default(),
            ..Report::default()
        }
    }

    fn set(&mut self, name: &str, value: f64) {
        self.metrics.insert(name.to_owned(), value);
    }

    /// Records the latency percentiles of `hist` (nanoseconds) as `{prefix}_p50_us`, ...
    fn latencies(&mut self, prefix: &str, hist: &Histogram<u64>, quantiles: &[(&str, f64)]) {
        for (name, q) in quantiles {
            let us = hist.value_at_quantile(*q) as f64 / 1_000.0;
            self.set(&format!("{prefix}_{name}_us"), us);
        }
    }

    /// Records CPU use over a measured window.
    fn window(&mut self, window: &WindowStats, ops: u64, op: &str) {
        let secs = window.elapsed.as_secs_f64();
        self.set("window_s", secs);
        self.set("loadgen_cpu_pct", 100.0 * window.own_cpu.as_secs_f64() / secs);
        if let Some(server) = window.server_cpu {
            self.set("server_cpu_pct", 100.0 * server.as_secs_f64() / secs);
            if ops > 0 {
                self.set(
                    &format!("server_cpu_us_per_{op}"),
                    server.as_secs_f64() * 1e6 / ops as f64,
                );
            }
        }
    }
}

/// Keeps the first few errors and counts all of them.
#[derive(Debug, Default)]
pub(crate) struct Errors {
    count: Cell<u64>,
    first: RefCell<Vec<String>>,
}

impl Errors {
    const KEEP: usize = 5;

    pub(crate) fn push(&self, what: &str, err: &ClientError) {
        self.count.set(self.count.get() + 1);
        let mut first = self.first.borrow_mut();
        if first.len() < Self::KEEP {
            first.push(format!("{what}: {err}"));
        }
    }

    /// Errors so far.
    pub(crate) fn count(&self) -> u64 {
        self.count.get()
    }

    fn add_to(&self, report: &mut Report) {
        report.set("errors", self.count.get() as f64);
        report.errors.extend(self.first.borrow().iter().cloned());
    }
}

/// Nanoseconds since this process's first call: timestamps that every task of the
/// generator can compare.
pub(crate) fn now_ns() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    EPOCH.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

/// Latencies in nanoseconds, 1 µs to 60 s at 3 significant digits.
pub(crate) struct Latencies(pub Histogram<u64>);

impl Default for Latencies {
    fn default() -> Latencies {
        Latencies(Histogram::new_with_bounds(1_000, 60_000_000_000, 3).expect("constant, valid bounds"))
    }
}

impl Latencies {
    /// Records `ns`, clamped into the range.
    pub(crate) fn record(&mut self, ns: u64) {
        self.0.saturating_record(ns.max(1_000));
    }
}

/// CPU use over a measured window: the server's and the generator's own.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WindowStats {
    pub elapsed: Duration,
    pub server_cpu: Option<Duration>,
    pub own_cpu: Duration,
}

/// The start of a measured window.
pub(crate) struct Window {
    started: Instant,
    /// Each server process with its sample at the start.
    servers: Vec<(u32, Sample)>,
    own: Sample,
}

impl Window {
    pub(crate) fn start(target: &Target) -> Window {
        Window {
            started: Instant::now(),
            servers: target
                .pids
                .iter()
                .filter_map(|&pid| procfs::sample(Some(pid)).ok().map(|s| (pid, s)))
                .collect(),
            own: procfs::sample(None).unwrap_or_default(),
        }
    }

    pub(crate) fn finish(&self) -> WindowStats {
        let own = procfs::sample(None).unwrap_or_default();
        let server_cpu = self
            .servers
            .iter()
            .map(|(pid, before)| {
                procfs::sample(Some(*pid))
                    .ok()
                    .map(|now| now.cpu.saturating_sub(before.cpu))
            })
            .sum::<Option<Duration>>()
            .filter(|_| !self.servers.is_empty());
        WindowStats {
            elapsed: self.started.elapsed(),
            server_cpu,
            own_cpu: own.cpu.saturating_sub(self.own.cpu),
        }
    }
}

/// Connects `n` clients, at most `concurrency` at a time; each connected client is given
/// to `spawn` (which starts its task). Returns connect latencies and the wall time.
pub(crate) async fn connect_many(
    target: &Target,
    n: usize,
    concurrency: usize,
    errors: &Rc<Errors>,
    spawn: impl Fn(usize, Client) + Clone + 'static,
) -> (Histogram<u64>, Duration) {
    let next = Rc::new(Cell::new(0usize));
    let hist = Rc::new(RefCell::new(Latencies::default()));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency.clamp(1, n.max(1)) {
        let (next, hist, errors, spawn, target) = (
            next.clone(),
            hist.clone(),
            errors.clone(),
            spawn.clone(),
            target.clone(),
        );
        workers.push(tokio::task::spawn_local(async move {
            loop {
                let i = next.get();
                if i >= n {
                    break;
                }
                next.set(i + 1);
                let t0 = Instant::now();
                let addr = target.addr(i);
                let source = client::loopback_source(addr, i);
                match Client::connect(addr, source, &target.path, target.deflate).await {
                    Ok(client) => {
                        hist.borrow_mut().record(t0.elapsed().as_nanos() as u64);
                        spawn(i, client);
                    }
                    Err(err) => errors.push("connect", &err),
                }
            }
        }));
    }
    for worker in workers {
        let _ = worker.await;
    }
    let elapsed = started.elapsed();
    let hist = hist.borrow().0.clone();
    (hist, elapsed)
}

/// Waits until `done()` holds, checking every few milliseconds, for at most `limit`.
/// Returns whether it held.
pub(crate) async fn wait_until(limit: Duration, done: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while !done() {
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    true
}

/// `{"p":"xxx…"}`-style padding of about `bytes` bytes.
pub(crate) fn padding(bytes: usize) -> String {
    "x".repeat(bytes)
}

/// About `bytes` bytes of chat-like text, as a JSON string's content: words drawn from
/// a small vocabulary by a fixed pseudo-random sequence, with numbers, so it compresses
/// as real messages do, not as a run of one letter.
pub(crate) fn text_padding(bytes: usize) -> String {
    const WORDS: [&str; 32] = [
        "the", "room", "message", "alice", "bob", "order", "shipped", "today", "price", "update", "ready",
        "meeting", "at", "noon", "please", "review", "status", "of", "ticket", "done", "thanks", "see",
        "you", "later", "new", "version", "deploy", "build", "passed", "failed", "user", "online",
    ];
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let mut out = String::with_capacity(bytes + 16);
    while out.len() < bytes {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        if x.is_multiple_of(7) {
            out.push_str(&(x % 100_000).to_string());
        } else {
            out.push_str(WORDS[(x % 32) as usize]);
        }
        out.push(' ');
    }
    out.truncate(bytes);
    out
}
