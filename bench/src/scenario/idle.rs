//! Idle connections: connect many clients (a few at a time, as a reconnect storm
//! would), hold them, and read what each costs the server in memory.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use serde::Serialize;

use super::{Errors, Report, Target, Window, connect_many};
use crate::client::Client;
use crate::procfs;

/// How the idle scenario runs.
#[derive(Debug, Clone, Serialize, clap::Args)]
pub struct Params {
    /// Connections to open and hold.
    #[arg(long, default_value_t = 19_000)]
    pub connections: usize,
    /// Connections being opened at any time.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// Seconds to let the server settle before reading its memory.
    #[arg(long, default_value_t = 2.0)]
    pub settle: f64,
}

#[derive(Default)]
struct Shared {
    held: Cell<u64>,
    dropped: Cell<u64>,
}

/// Runs the scenario against `target`.
pub async fn run(target: &Target, params: &Params) -> Report {
    let mut report = Report::new("idle", params);
    let errors = Rc::new(Errors::default());
    let shared = Rc::new(Shared::default());
    let before = target.pid().and_then(|pid| procfs::sample(Some(pid)).ok());
    let spawn = {
        let (shared, errors) = (shared.clone(), errors.clone());
        move |_, client| {
            shared.held.set(shared.held.get() + 1);
            tokio::task::spawn_local(hold(client, shared.clone(), errors.clone()));
        }
    };
    let window = Window::start(target);
    let (hist, elapsed) = connect_many(target, params.connections, params.concurrency, &errors, spawn).await;
    let connected = shared.held.get();
    report.window(&window.finish(), connected, "connect");
    report.set("connected", connected as f64);
    report.set("connects_per_s", connected as f64 / elapsed.as_secs_f64());
    report.latencies("connect", &hist, &[("p50", 0.5), ("p99", 0.99)]);

    tokio::time::sleep(Duration::from_secs_f64(params.settle)).await;
    let held = connected - shared.dropped.get();
    report.set("held", held as f64);
    if let (Some(before), Some(pid)) = (before, target.pid())
        && let Ok(after) = procfs::sample(Some(pid))
    {
        report.set("server_rss_before_kib", before.rss_kib as f64);
        report.set("server_rss_kib", after.rss_kib as f64);
        report.set("server_peak_rss_kib", after.hwm_kib as f64);
        if held > 0 {
            let per = after.rss_kib.saturating_sub(before.rss_kib) as f64 / held as f64;
            report.set("rss_per_conn_kib", per);
        }
    }
    if held < params.connections as u64 {
        report
            .errors
            .push(format!("held {held} of {} connections", params.connections));
    }
    errors.add_to(&mut report);
    report
}

/// Keeps a connection open, answering pings, until the scenario ends.
async fn hold(mut client: Client, shared: Rc<Shared>, errors: Rc<Errors>) {
    loop {
        if let Err(err) = client.recv().await {
            errors.push("held connection", &err);
            shared.dropped.set(shared.dropped.get() + 1);
            return;
        }
    }
}
