//! Fan-out: every client joins one room; a few of them also send `bcast` to the room as
//! fast as it takes them. A sender is a member, so it receives its own messages, and
//! it keeps at most `window` of its messages on their way: the load is as high as the
//! server can deliver without any queue growing without bound.
//!
//! Each message carries its sender and send time, so every delivery gives a latency,
//! and at the end `lost = sent × members − received`.

use std::cell::{Cell, RefCell};
use std::io::Write as _;
use std::rc::Rc;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::Notify;

use super::{Errors, Latencies, Report, Target, Window, connect_many, now_ns, padding, wait_until};
use crate::client::{Client, Incoming, int_field};

/// How the fan-out scenario runs.
#[derive(Debug, Clone, Serialize, clap::Args)]
pub struct Params {
    /// Room members (senders included).
    #[arg(long, default_value_t = 1000)]
    pub members: usize,
    /// Members that also send.
    #[arg(long, default_value_t = 4)]
    pub senders: usize,
    /// Messages a sender may have on their way (sent, not yet received back).
    #[arg(long, default_value_t = 8)]
    pub window: usize,
    /// Seconds of load before measuring.
    #[arg(long, default_value_t = 2.0)]
    pub warmup: f64,
    /// Seconds measured.
    #[arg(long, default_value_t = 5.0)]
    pub duration: f64,
    /// Bytes of padding in each message.
    #[arg(long, default_value_t = 64)]
    pub payload: usize,
    /// Seconds to wait, after the senders stop, for the last deliveries.
    #[arg(long, default_value_t = 10.0)]
    pub drain: f64,
}

const ROOM: &str = "bench";

#[derive(Default)]
struct Shared {
    joined: Cell<usize>,
    start: Notify,
    started: Cell<bool>,
    stop_sending: Cell<bool>,
    /// `now_ns()` when measuring started; 0 during warm-up.
    measuring_since: Cell<u64>,
    measuring: Cell<bool>,
    sent: Cell<u64>,
    received: Cell<u64>,
    received_in_window: Cell<u64>,
    disconnected: Cell<u64>,
    hist: RefCell<Latencies>,
}

/// Runs the scenario against `target`.
pub async fn run(target: &Target, params: &Params) -> Report {
    let mut report = Report::new("fanout", params);
    let errors = Rc::new(Errors::default());
    let shared = Rc::new(Shared::default());
    let pad = Rc::new(padding(params.payload));
    let (senders, window) = (params.senders.min(params.members), params.window.max(1));
    let spawn = {
        let (shared, errors, pad) = (shared.clone(), errors.clone(), pad.clone());
        move |i, client| {
            let role = if i < senders {
                Role::Sender { id: i, window }
            } else {
                Role::Receiver
            };
            tokio::task::spawn_local(member(client, role, shared.clone(), errors.clone(), pad.clone()));
        }
    };
    let (_, connect_time) = connect_many(target, params.members, 32, &errors, spawn).await;
    report.set("connect_s", connect_time.as_secs_f64());
    let all_joined = wait_until(Duration::from_secs(30), || {
        shared.joined.get() + shared.disconnected.get() as usize >= params.members
    })
    .await;
    report.set("members", shared.joined.get() as f64);
    if !all_joined || shared.joined.get() < params.members {
        report.errors.push(format!(
            "only {} of {} members joined",
            shared.joined.get(),
            params.members
        ));
    }

    shared.started.set(true);
    shared.start.notify_waiters();
    tokio::time::sleep(Duration::from_secs_f64(params.warmup)).await;
    shared.measuring_since.set(now_ns());
    shared.measuring.set(true);
    let window = Window::start(target.pid);
    tokio::time::sleep(Duration::from_secs_f64(params.duration)).await;
    shared.stop_sending.set(true);
    shared.measuring.set(false);
    let stats = window.finish();
    let delivered = shared.received_in_window.get();

    let members = shared.joined.get() as u64;
    let drained = wait_until(Duration::from_secs_f64(params.drain), || {
        shared.received.get() >= shared.sent.get() * members
    })
    .await;
    let (sent, received) = (shared.sent.get(), shared.received.get());
    report.set("sent", sent as f64);
    report.set("received", received as f64);
    report.set("lost", (sent * members).saturating_sub(received) as f64);
    report.set("disconnected", shared.disconnected.get() as f64);
    report.set("deliveries_per_s", delivered as f64 / stats.elapsed.as_secs_f64());
    report.latencies("latency", &shared.hist.borrow().0, &[("p50", 0.5), ("p99", 0.99)]);
    report.window(&stats, delivered, "delivery");
    if !drained {
        report
            .errors
            .push(format!("not drained within {} s", params.drain));
    }
    errors.add_to(&mut report);
    report
}

#[derive(Debug, Clone, Copy)]
enum Role {
    Receiver,
    Sender { id: usize, window: usize },
}

async fn member(mut client: Client, role: Role, shared: Rc<Shared>, errors: Rc<Errors>, pad: Rc<String>) {
    let frame = format!("420[\"join\",{{\"room\":\"{ROOM}\"}}]").into_bytes();
    let joined = async {
        client.send(&frame).await?;
        loop {
            if let Incoming::Ack(0, _) = client.recv().await? {
                return Ok(());
            }
        }
    };
    if let Err(err) = joined.await {
        errors.push("join", &err);
        shared.disconnected.set(shared.disconnected.get() + 1);
        return;
    }
    shared.joined.set(shared.joined.get() + 1);
    if let Err(err) = deliveries(&mut client, role, &shared, &pad).await {
        errors.push("member", &err);
        shared.disconnected.set(shared.disconnected.get() + 1);
    }
}

/// Reads deliveries until the connection ends (the scenario ends by dropping the task);
/// a sender also keeps its window of messages on their way.
async fn deliveries(
    client: &mut Client,
    role: Role,
    shared: &Shared,
    pad: &str,
) -> Result<(), crate::client::ClientError> {
    let mut frame = Vec::with_capacity(pad.len() + 96);
    let mut in_flight = 0usize;
    let me = match role {
        Role::Sender { id, .. } => Some(id as u64),
        Role::Receiver => None,
    };
    if me.is_some() && !shared.started.get() {
        shared.start.notified().await;
    }
    loop {
        if let Role::Sender { id, window } = role {
            while in_flight < window && !shared.stop_sending.get() {
                frame.clear();
                let _ = write!(
                    frame,
                    "42[\"bcast\",{{\"room\":\"{ROOM}\",\"payload\":{{\"s\":{id},\"t\":{},\"p\":\"{pad}\"}}}}]",
                    now_ns()
                );
                client.send(&frame).await?;
                shared.sent.set(shared.sent.get() + 1);
                in_flight += 1;
            }
        }
        let Incoming::Event(text) = client.recv().await? else {
            continue;
        };
        let now = now_ns();
        let (Some(from), Some(sent_at)) = (int_field(&text, b"\"s\":"), int_field(&text, b"\"t\":")) else {
            continue;
        };
        shared.received.set(shared.received.get() + 1);
        if shared.measuring.get() {
            shared.received_in_window.set(shared.received_in_window.get() + 1);
            if sent_at >= shared.measuring_since.get() {
                shared.hist.borrow_mut().record(now.saturating_sub(sent_at));
            }
        }
        if Some(from) == me {
            in_flight = in_flight.saturating_sub(1);
        }
    }
}
