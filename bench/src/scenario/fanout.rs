//! Fan-out: every client joins one room; a few of them also send `bcast` to the room as
//! fast as the room takes them. A message is on its way until every member has received
//! it, and each sender keeps at most `window` of its messages on their way: the load is
//! as high as the server can deliver to the whole room, and no queue on any server
//! holds more than `senders × window` messages for a member, so nobody is a slow
//! consumer and every message must arrive.
//!
//! Each message carries its sender, sequence number and send time, so every delivery
//! gives a latency, and at the end `lost = sent × members − received`.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::io::Write as _;
use std::rc::Rc;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::Notify;

use super::{
    Errors, Latencies, Report, Target, Window, connect_many, now_ns, padding, text_padding, wait_until,
};
use crate::client::{Client, Incoming, IntField};

/// How the fan-out scenario runs.
#[derive(Debug, Clone, Serialize, clap::Args)]
pub struct Params {
    /// Room members (senders included).
    #[arg(long, default_value_t = 1000)]
    pub members: usize,
    /// Members that also send.
    #[arg(long, default_value_t = 4)]
    pub senders: usize,
    /// Messages a sender may have on their way (sent, not yet received by every member).
    #[arg(long, default_value_t = 16)]
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
    /// Pad with chat-like text, a different stretch in every message, instead of one
    /// repeated letter: what compression sees in real messages.
    #[arg(long)]
    pub text: bool,
    /// Seconds to wait, after the senders stop, for the last deliveries.
    #[arg(long, default_value_t = 10.0)]
    pub drain: f64,
}

const ROOM: &str = "bench";

/// A sender's messages on their way: how many members have yet to receive each.
#[derive(Default)]
struct Outstanding {
    /// Sequence number of the oldest message in `remaining`.
    first: Cell<u64>,
    /// Members still to receive each message, oldest first.
    remaining: RefCell<VecDeque<usize>>,
    /// Told when the oldest messages complete and the window has room again.
    room: Notify,
}

impl Outstanding {
    /// A new message to `members` members; returns its sequence number.
    fn sent(&self, members: usize) -> u64 {
        let mut remaining = self.remaining.borrow_mut();
        remaining.push_back(members);
        self.first.get() + remaining.len() as u64 - 1
    }

    /// One member received message `seq`. Each member receives a sender's messages in
    /// order, so messages complete in order too.
    fn delivered(&self, seq: u64) {
        let mut remaining = self.remaining.borrow_mut();
        let Some(index) = seq.checked_sub(self.first.get()) else {
            return;
        };
        if let Some(left) = remaining.get_mut(index as usize) {
            *left = left.saturating_sub(1);
        }
        let mut freed = false;
        while remaining.front() == Some(&0) {
            remaining.pop_front();
            self.first.set(self.first.get() + 1);
            freed = true;
        }
        if freed {
            self.room.notify_one();
        }
    }

    fn in_flight(&self) -> usize {
        self.remaining.borrow().len()
    }
}

/// The fields of a delivery: sender, sequence number, send time.
struct Fields {
    sender: IntField,
    seq: IntField,
    sent_at: IntField,
}

impl Default for Fields {
    fn default() -> Fields {
        Fields {
            sender: IntField::new(b"\"s\":"),
            seq: IntField::new(b"\"q\":"),
            sent_at: IntField::new(b"\"t\":"),
        }
    }
}

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
    /// Bytes every member read off the wire while measuring.
    wire_bytes_in_window: Cell<u64>,
    disconnected: Cell<u64>,
    hist: RefCell<Latencies>,
    /// Per sender, its messages on their way.
    outstanding: Vec<Outstanding>,
    fields: Fields,
}

/// Runs the scenario against `target`.
pub async fn run(target: &Target, params: &Params) -> Report {
    let mut report = Report::new("fanout", params);
    let errors = Rc::new(Errors::default());
    let (senders, window) = (params.senders.min(params.members), params.window.max(1));
    let shared = Rc::new(Shared {
        outstanding: (0..senders).map(|_| Outstanding::default()).collect(),
        ..Shared::default()
    });
    let pad = Rc::new(if params.text {
        Padding::text(params.payload)
    } else {
        Padding::fixed(params.payload)
    });
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
    let window = Window::start(target);
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
    if delivered > 0 {
        report.set(
            "wire_bytes_per_delivery",
            shared.wire_bytes_in_window.get() as f64 / delivered as f64,
        );
    }
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

/// What pads each message: one run of a letter, or a stretch of a long chat-like text
/// that differs from message to message (so a compressor that keeps its context
/// between messages finds the vocabulary again, not the same message).
struct Padding {
    source: String,
    len: usize,
}

impl Padding {
    fn fixed(len: usize) -> Padding {
        Padding {
            source: padding(len),
            len,
        }
    }

    fn text(len: usize) -> Padding {
        // Far longer than deflate's 32 KiB window.
        Padding {
            source: text_padding(len.max(1) * 512),
            len,
        }
    }

    /// The padding of `sender`'s message `seq`.
    fn of(&self, sender: usize, seq: u64) -> &str {
        let span = self.source.len() - self.len;
        if span == 0 {
            return &self.source;
        }
        let at = (seq
            .wrapping_mul(2_654_435_761)
            .wrapping_add(sender as u64 * 40_503)
            % span as u64) as usize;
        // ASCII text: every offset is a character boundary.
        &self.source[at..at + self.len]
    }
}

#[derive(Debug, Clone, Copy)]
enum Role {
    Receiver,
    Sender { id: usize, window: usize },
}

async fn member(mut client: Client, role: Role, shared: Rc<Shared>, errors: Rc<Errors>, pad: Rc<Padding>) {
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
    pad: &Padding,
) -> Result<(), crate::client::ClientError> {
    let mut frame = Vec::with_capacity(pad.len + 96);
    let mine = match role {
        Role::Sender { id, window } => shared.outstanding.get(id).map(|o| (id, window, o)),
        Role::Receiver => None,
    };
    if mine.is_some() && !shared.started.get() {
        shared.start.notified().await;
    }
    let members = shared.joined.get();
    let mut wire = client.wire_bytes();
    loop {
        let incoming = match mine {
            Some((id, window, outstanding)) => {
                while outstanding.in_flight() < window && !shared.stop_sending.get() {
                    let seq = outstanding.sent(members);
                    frame.clear();
                    let _ = write!(
                        frame,
                        "42[\"bcast\",{{\"room\":\"{ROOM}\",\"payload\":{{\"s\":{id},\"q\":{seq},\"t\":{},\"p\":\"{}\"}}}}]",
                        now_ns(),
                        pad.of(id, seq)
                    );
                    client.send(&frame).await?;
                    shared.sent.set(shared.sent.get() + 1);
                }
                // The last copy of this sender's message may reach another member: wait
                // for either (`recv` is cancel-safe).
                tokio::select! {
                    incoming = client.recv() => incoming?,
                    () = outstanding.room.notified() => continue,
                }
            }
            None => client.recv().await?,
        };
        let read = client.wire_bytes();
        if shared.measuring.get() {
            shared
                .wire_bytes_in_window
                .set(shared.wire_bytes_in_window.get() + (read - wire));
        }
        wire = read;
        let Incoming::Event(text) = incoming else {
            continue;
        };
        let now = now_ns();
        let fields = &shared.fields;
        let (Some(from), Some(seq), Some(sent_at)) = (
            fields.sender.get(&text),
            fields.seq.get(&text),
            fields.sent_at.get(&text),
        ) else {
            continue;
        };
        shared.received.set(shared.received.get() + 1);
        if shared.measuring.get() {
            shared.received_in_window.set(shared.received_in_window.get() + 1);
            if sent_at >= shared.measuring_since.get() {
                shared.hist.borrow_mut().record(now.saturating_sub(sent_at));
            }
        }
        if let Some(outstanding) = shared.outstanding.get(from as usize) {
            outstanding.delivered(seq);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_completes_once_every_member_has_it_and_in_order() {
        let outstanding = Outstanding::default();
        assert_eq!(outstanding.sent(2), 0);
        assert_eq!(outstanding.sent(2), 1);
        assert_eq!(outstanding.in_flight(), 2);
        // The second message completes first on one member: nothing is freed yet.
        outstanding.delivered(0);
        outstanding.delivered(1);
        assert_eq!(outstanding.in_flight(), 2);
        outstanding.delivered(0);
        assert_eq!(outstanding.in_flight(), 1);
        outstanding.delivered(1);
        assert_eq!(outstanding.in_flight(), 0);
        // Numbering goes on after completed messages; stale or unknown ones are ignored.
        assert_eq!(outstanding.sent(1), 2);
        outstanding.delivered(0);
        outstanding.delivered(7);
        assert_eq!(outstanding.in_flight(), 1);
        outstanding.delivered(2);
        assert_eq!(outstanding.in_flight(), 0);
    }
}
