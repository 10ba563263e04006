//! Soak: `clients` connections churning for `seconds`. Each connects, joins one of
//! `rooms` rooms, emits `echo` with an ack every 200 ms and `bcast` to its room every
//! second (plugin calls, joins, broadcasts through the `bench` handler), then drops
//! its TCP connection after a lifetime of 2–8 s and connects again. Every
//! `sample_every` seconds the server's resident memory and open file descriptors are
//! recorded; after the warm-up (the first quarter) neither may grow: the report
//! gives both at the end of the warm-up and at the end, and each sample as a row of
//! `--csv`.

use std::cell::{Cell, RefCell};
use std::io::Write as _;
use std::rc::Rc;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::{Errors, Report, Target};
use crate::client::{Client, Incoming, loopback_source};
use crate::procfs;

/// How the soak runs.
#[derive(Debug, Clone, Serialize, clap::Args)]
pub struct Params {
    /// Connections open at once, each churning.
    #[arg(long, default_value_t = 2000)]
    pub clients: usize,
    /// Rooms the clients spread over.
    #[arg(long, default_value_t = 50)]
    pub rooms: usize,
    /// Seconds it runs.
    #[arg(long, default_value_t = 1200.0)]
    pub seconds: f64,
    /// Seconds between samples of the server.
    #[arg(long, default_value_t = 10.0)]
    pub sample_every: f64,
    /// Where the samples go, as CSV (`t_s,rss_kib,fds,connects,acks,deliveries,errors`).
    #[arg(long)]
    pub csv: Option<std::path::PathBuf>,
}

/// How often a client emits `echo`, and `bcast`.
const ECHO_EVERY: Duration = Duration::from_millis(200);
const BCAST_EVERY: Duration = Duration::from_secs(1);

#[derive(Default)]
struct Counts {
    stop: Cell<bool>,
    connects: Cell<u64>,
    acks: Cell<u64>,
    deliveries: Cell<u64>,
    running: Cell<usize>,
}

/// One sample of the server.
#[derive(Debug, Clone, Copy, Serialize)]
struct Row {
    t_s: f64,
    rss_kib: u64,
    fds: u64,
    connects: u64,
    acks: u64,
    deliveries: u64,
    errors: u64,
}

/// Runs the scenario against `target` (its first process is sampled).
pub async fn run(target: &Target, params: &Params) -> Report {
    let mut report = Report::new("soak", params);
    let errors = Rc::new(Errors::default());
    let counts = Rc::new(Counts::default());
    let started = Instant::now();
    for slot in 0..params.clients {
        let (target, counts, errors) = (target.clone(), counts.clone(), errors.clone());
        let room = format!("soak-{}", slot % params.rooms.max(1));
        counts.running.set(counts.running.get() + 1);
        tokio::task::spawn_local(async move {
            churn(&target, slot, &room, &counts, &errors).await;
            counts.running.set(counts.running.get() - 1);
        });
        // Spread the first connections over the first second.
        if slot % 100 == 99 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let rows = Rc::new(RefCell::new(Vec::<Row>::new()));
    let every = Duration::from_secs_f64(params.sample_every.max(0.5));
    let deadline = started + Duration::from_secs_f64(params.seconds);
    while Instant::now() < deadline {
        tokio::time::sleep(every.min(deadline.saturating_duration_since(Instant::now()))).await;
        if let Some(pid) = target.pid() {
            let rss = procfs::sample(Some(pid)).map(|s| s.rss_kib).unwrap_or(0);
            let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count() as u64);
            let row = Row {
                t_s: started.elapsed().as_secs_f64(),
                rss_kib: rss,
                fds,
                connects: counts.connects.get(),
                acks: counts.acks.get(),
                deliveries: counts.deliveries.get(),
                errors: errors.count(),
            };
            eprintln!(
                "soak: {:>6.0} s  rss {:>7} KiB  fds {:>5}  connects {:>8}  acks {:>9}  deliveries {:>10}  errors {}",
                row.t_s, row.rss_kib, row.fds, row.connects, row.acks, row.deliveries, row.errors
            );
            rows.borrow_mut().push(row);
        }
    }
    counts.stop.set(true);
    super::wait_until(Duration::from_secs(10), || counts.running.get() == 0).await;

    let rows = rows.borrow();
    if let Some(path) = &params.csv
        && let Ok(mut file) = std::fs::File::create(path)
    {
        let _ = writeln!(file, "t_s,rss_kib,fds,connects,acks,deliveries,errors");
        for r in rows.iter() {
            let _ = writeln!(
                file,
                "{:.1},{},{},{},{},{},{}",
                r.t_s, r.rss_kib, r.fds, r.connects, r.acks, r.deliveries, r.errors
            );
        }
    }
    // The warm-up is the first quarter; its last sample is the baseline.
    let warm = rows
        .iter()
        .rev()
        .find(|r| r.t_s <= params.seconds / 4.0)
        .or(rows.first());
    if let (Some(warm), Some(last)) = (warm, rows.last()) {
        let peak_after = rows
            .iter()
            .filter(|r| r.t_s > warm.t_s)
            .map(|r| r.rss_kib)
            .max()
            .unwrap_or(last.rss_kib);
        report.set("rss_warm_kib", warm.rss_kib as f64);
        report.set("rss_end_kib", last.rss_kib as f64);
        report.set("rss_peak_after_warm_kib", peak_after as f64);
        report.set(
            "rss_growth_pct",
            (last.rss_kib as f64 - warm.rss_kib as f64) * 100.0 / (warm.rss_kib.max(1) as f64),
        );
        report.set("fds_warm", warm.fds as f64);
        report.set("fds_end", last.fds as f64);
    }
    let elapsed = started.elapsed().as_secs_f64();
    report.set("seconds", elapsed);
    report.set("connects", counts.connects.get() as f64);
    report.set("connects_per_s", counts.connects.get() as f64 / elapsed);
    report.set("acks_per_s", counts.acks.get() as f64 / elapsed);
    report.set("deliveries_per_s", counts.deliveries.get() as f64 / elapsed);
    errors.add_to(&mut report);
    report
}

/// One slot: connect, live a while, drop the connection, again, until stopped.
async fn churn(target: &Target, slot: usize, room: &str, counts: &Counts, errors: &Errors) {
    let join = format!("42[\"join\",{{\"room\":\"{room}\"}}]");
    let bcast = format!("42[\"bcast\",{{\"room\":\"{room}\",\"payload\":{{\"s\":{slot}}}}}]");
    let mut generation = 0usize;
    while !counts.stop.get() {
        generation += 1;
        let addr = target.addr(slot);
        // A new source address each time: churn leaves TIME_WAIT sockets behind.
        let source = loopback_source(addr, slot.wrapping_mul(31).wrapping_add(generation));
        let mut client = match Client::connect(addr, source, &target.path, target.deflate).await {
            Ok(client) => client,
            Err(err) => {
                errors.push("connect", &err);
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        counts.connects.set(counts.connects.get() + 1);
        if let Err(err) = client.send(join.as_bytes()).await {
            errors.push("join", &err);
            continue;
        }
        // 2–8 s, different per slot and generation.
        let lifetime = Duration::from_millis(2000 + ((slot * 7919 + generation * 104_729) % 6000) as u64);
        let until = Instant::now() + lifetime;
        let mut echo = tokio::time::interval(ECHO_EVERY);
        let mut broadcast = tokio::time::interval(BCAST_EVERY);
        let mut id = 0u64;
        loop {
            if counts.stop.get() || Instant::now() >= until {
                break;
            }
            let sent = tokio::select! {
                _ = echo.tick() => {
                    id += 1;
                    client.send(format!("42{id}[\"echo\",{{\"p\":\"soak\"}}]").as_bytes()).await
                }
                _ = broadcast.tick() => client.send(bcast.as_bytes()).await,
                got = client.recv() => match got {
                    Ok(Incoming::Ack(..)) => {
                        counts.acks.set(counts.acks.get() + 1);
                        Ok(())
                    }
                    Ok(_) => {
                        counts.deliveries.set(counts.deliveries.get() + 1);
                        Ok(())
                    }
                    Err(err) => Err(err),
                },
                () = tokio::time::sleep_until(until.into()) => break,
            };
            if let Err(err) = sent {
                errors.push("run", &err);
                break;
            }
        }
        // Dropped, not closed: the server must clean up after a vanished client too.
        drop(client);
    }
}
