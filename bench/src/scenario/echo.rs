//! Closed-loop echo: each client emits `echo` with an ack and, once acked, the next.

use std::cell::{Cell, RefCell};
use std::io::Write as _;
use std::rc::Rc;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::{Errors, Latencies, Report, Target, Window, connect_many, padding, wait_until};
use crate::client::{Client, ClientError, Incoming};

/// How the echo scenario runs.
#[derive(Debug, Clone, Serialize, clap::Args)]
pub struct Params {
    /// Connections, each with one ack outstanding.
    #[arg(long, default_value_t = 100)]
    pub clients: usize,
    /// Seconds of load before measuring.
    #[arg(long, default_value_t = 2.0)]
    pub warmup: f64,
    /// Seconds measured.
    #[arg(long, default_value_t = 5.0)]
    pub duration: f64,
    /// Bytes of padding in each payload.
    #[arg(long, default_value_t = 64)]
    pub payload: usize,
}

#[derive(Default)]
struct Shared {
    /// When measuring started; `None` during warm-up.
    measuring_since: Cell<Option<Instant>>,
    stop: Cell<bool>,
    /// Acks in the measured window.
    acks: Cell<u64>,
    /// Every ack, warm-up included (for instruction counts, which cover the whole run).
    acks_total: Cell<u64>,
    running: Cell<usize>,
    hist: RefCell<Latencies>,
}

/// Runs the scenario against `target`.
pub async fn run(target: &Target, params: &Params) -> Report {
    let mut report = Report::new("echo", params);
    let errors = Rc::new(Errors::default());
    let shared = Rc::new(Shared::default());
    let pad = Rc::new(padding(params.payload));
    let spawn = {
        let (shared, errors, pad) = (shared.clone(), errors.clone(), pad.clone());
        move |_, client| {
            shared.running.set(shared.running.get() + 1);
            tokio::task::spawn_local(echo_loop(client, shared.clone(), errors.clone(), pad.clone()));
        }
    };
    let (_, connect_time) = connect_many(target, params.clients, 32, &errors, spawn).await;
    report.set("connect_s", connect_time.as_secs_f64());
    report.set("clients", shared.running.get() as f64);

    tokio::time::sleep(Duration::from_secs_f64(params.warmup)).await;
    shared.measuring_since.set(Some(Instant::now()));
    let window = Window::start(target);
    tokio::time::sleep(Duration::from_secs_f64(params.duration)).await;
    shared.stop.set(true);
    let stats = window.finish();
    wait_until(Duration::from_secs(5), || shared.running.get() == 0).await;

    let acks = shared.acks.get();
    report.set("acks", acks as f64);
    report.set("acks_total", shared.acks_total.get() as f64);
    report.set("acks_per_s", acks as f64 / stats.elapsed.as_secs_f64());
    report.latencies(
        "latency",
        &shared.hist.borrow().0,
        &[("p50", 0.5), ("p99", 0.99), ("p999", 0.999)],
    );
    report.window(&stats, acks, "ack");
    errors.add_to(&mut report);
    report
}

async fn echo_loop(mut client: Client, shared: Rc<Shared>, errors: Rc<Errors>, pad: Rc<String>) {
    let mut frame = Vec::with_capacity(pad.len() + 64);
    // What every ack must end with: the payload, unchanged.
    let echoed = format!("{{\"p\":\"{pad}\"}}]");
    let mut id: u64 = 0;
    while !shared.stop.get() {
        id += 1;
        frame.clear();
        let _ = write!(frame, "42{id}[\"echo\",{{\"p\":\"{pad}\"}}]");
        let sent = Instant::now();
        if let Err(err) = client.send(&frame).await {
            errors.push("send", &err);
            break;
        }
        let acked = loop {
            match client.recv().await {
                Ok(Incoming::Ack(got, text)) if got == id => {
                    if !text.ends_with(echoed.as_bytes()) {
                        let body = String::from_utf8_lossy(&text).into_owned();
                        errors.push(
                            "ack",
                            &ClientError::Protocol(format!("ack changed the payload: {body}")),
                        );
                    }
                    break true;
                }
                Ok(_) => continue,
                Err(err) => {
                    errors.push("recv", &err);
                    break false;
                }
            }
        };
        if !acked {
            break;
        }
        shared.acks_total.set(shared.acks_total.get() + 1);
        let done = Instant::now();
        if let Some(since) = shared.measuring_since.get()
            && sent >= since
            && !shared.stop.get()
        {
            shared.acks.set(shared.acks.get() + 1);
            shared.hist.borrow_mut().record((done - sent).as_nanos() as u64);
        }
    }
    shared.running.set(shared.running.get() - 1);
}
