//! Echo: each client emits `echo` with an ack and, once acked, the next (closed loop),
//! or at most `--rate` a second. With `--flood`, one more client emits plain `echo`
//! events (no ack) at that rate the whole time, and reads and drops whatever comes
//! back: the others' latency shows what a flooding client costs them.

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
    /// Events per second each client sends at most (0: as fast as its acks come back).
    #[arg(long, default_value_t = 0.0)]
    pub rate: f64,
    /// Events per second one extra client floods with, unacknowledged (0: none).
    #[arg(long, default_value_t = 0)]
    pub flood: u32,
}

/// How often the flooder sends its batch.
const FLOOD_TICK: Duration = Duration::from_millis(1);

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
    /// Events the flooder sent, and whether it is still connected.
    flooded: Cell<u64>,
    flooding: Cell<bool>,
}

/// Runs the scenario against `target`.
pub async fn run(target: &Target, params: &Params) -> Report {
    let mut report = Report::new("echo", params);
    let errors = Rc::new(Errors::default());
    let shared = Rc::new(Shared::default());
    let pad = Rc::new(padding(params.payload));
    let interval = (params.rate > 0.0).then(|| Duration::from_secs_f64(1.0 / params.rate));
    let spawn = {
        let (shared, errors, pad) = (shared.clone(), errors.clone(), pad.clone());
        move |_, client| {
            shared.running.set(shared.running.get() + 1);
            tokio::task::spawn_local(echo_loop(
                client,
                shared.clone(),
                errors.clone(),
                pad.clone(),
                interval,
            ));
        }
    };
    let (_, connect_time) = connect_many(target, params.clients, 32, &errors, spawn).await;
    report.set("connect_s", connect_time.as_secs_f64());
    report.set("clients", shared.running.get() as f64);
    if params.flood > 0 {
        let source = crate::client::loopback_source(target.addr(params.clients), params.clients);
        match Client::connect(target.addr(params.clients), source, &target.path, target.deflate).await {
            Ok(client) => {
                shared.running.set(shared.running.get() + 1);
                shared.flooding.set(true);
                tokio::task::spawn_local(flood_loop(client, shared.clone(), pad.clone(), params.flood));
            }
            Err(err) => errors.push("connect", &err),
        }
    }

    tokio::time::sleep(Duration::from_secs_f64(params.warmup)).await;
    shared.measuring_since.set(Some(Instant::now()));
    let flooded_before = shared.flooded.get();
    let window = Window::start(target);
    tokio::time::sleep(Duration::from_secs_f64(params.duration)).await;
    shared.stop.set(true);
    let stats = window.finish();
    wait_until(Duration::from_secs(5), || shared.running.get() == 0).await;

    let acks = shared.acks.get();
    report.set("acks", acks as f64);
    report.set("acks_total", shared.acks_total.get() as f64);
    report.set("acks_per_s", acks as f64 / stats.elapsed.as_secs_f64());
    if params.flood > 0 {
        let flooded = shared.flooded.get() - flooded_before;
        report.set("flooded_per_s", flooded as f64 / stats.elapsed.as_secs_f64());
        // Whether the server kept the flooder connected to the end (it may cut it off).
        report.set("flooder_connected", f64::from(u8::from(shared.flooding.get())));
    }
    report.latencies(
        "latency",
        &shared.hist.borrow().0,
        &[("p50", 0.5), ("p99", 0.99), ("p999", 0.999)],
    );
    report.window(&stats, acks, "ack");
    errors.add_to(&mut report);
    report
}

async fn echo_loop(
    mut client: Client,
    shared: Rc<Shared>,
    errors: Rc<Errors>,
    pad: Rc<String>,
    interval: Option<Duration>,
) {
    let mut frame = Vec::with_capacity(pad.len() + 64);
    // What every ack must end with: the payload, unchanged.
    let echoed = format!("{{\"p\":\"{pad}\"}}]");
    let mut id: u64 = 0;
    let mut ticks = interval.map(|every| {
        let mut ticks = tokio::time::interval(every);
        // A late ack delays the next event; it does not make the client catch up in a burst.
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks
    });
    while !shared.stop.get() {
        if let Some(ticks) = &mut ticks {
            ticks.tick().await;
        }
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

/// Sends `rate` unacknowledged events a second in batches every [`FLOOD_TICK`], and
/// drops what the server sends back, until the run stops or the server closes it.
async fn flood_loop(mut client: Client, shared: Rc<Shared>, pad: Rc<String>, rate: u32) {
    let frame = format!("42[\"echo\",{{\"p\":\"{pad}\"}}]").into_bytes();
    let per_tick = (f64::from(rate) * FLOOD_TICK.as_secs_f64()).max(1.0);
    let mut ticks = tokio::time::interval(FLOOD_TICK);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let started = Instant::now();
    while !shared.stop.get() {
        tokio::select! {
            _ = ticks.tick() => {
                // Whole events owed since the start, so a late tick catches up exactly.
                let due = (started.elapsed().as_secs_f64() * f64::from(rate)) as u64;
                let owed = due.saturating_sub(shared.flooded.get()).min(per_tick as u64 * 10);
                for _ in 0..owed {
                    if client.send(&frame).await.is_err() {
                        shared.flooding.set(false);
                        shared.running.set(shared.running.get() - 1);
                        return;
                    }
                    shared.flooded.set(shared.flooded.get() + 1);
                }
            }
            got = client.recv() => {
                if got.is_err() {
                    shared.flooding.set(false);
                    break;
                }
            }
        }
    }
    shared.running.set(shared.running.get() - 1);
}
