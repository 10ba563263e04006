//! Medians, ratios and targets, written as Markdown.

use std::fmt::Write as _;
use std::time::Duration;

use super::Run;
use crate::scenario::Report;

mod plugin;
mod targets;

/// What the report says besides the figures.
pub struct Context {
    /// A `--quick` smoke run.
    pub quick: bool,
    /// Repetitions.
    pub reps: usize,
    /// Wall time of the whole matrix.
    pub elapsed: Duration,
    /// Machine and versions.
    pub machine: Vec<(String, String)>,
    /// Each server: name, what it is, command line.
    pub servers: Vec<(&'static str, &'static str, String)>,
    /// Each scenario: name, load-generator arguments.
    pub loads: Vec<(String, String)>,
    /// Whether server and load generator were pinned to separate cores.
    pub pinned: bool,
    /// Runs that produced no report.
    pub failures: Vec<String>,
}

/// The median of `metric` over the runs of `server` in `scenario`.
pub fn median(runs: &[Run], scenario: &str, server: &str, metric: &str) -> Option<f64> {
    let mut values: Vec<f64> = runs
        .iter()
        .filter(|r| r.server == server && r.report.scenario == scenario)
        .filter_map(|r| r.report.metrics.get(metric).copied())
        .collect();
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    })
}

/// One line about a run, for the console.
pub fn headline(report: &Report) -> String {
    let m = |k: &str| report.metrics.get(k).copied().unwrap_or(f64::NAN);
    let mut line = match report.scenario.as_str() {
        "echo" | "latency" | "unflooded" => format!(
            "{} acks/s, p50 {} µs, p99 {} µs",
            num(m("acks_per_s")),
            num(m("latency_p50_us")),
            num(m("latency_p99_us"))
        ),
        "flood" => format!(
            "{} acks/s, p50 {} µs, p99 {} µs, flooded {}/s, flooder connected {}",
            num(m("acks_per_s")),
            num(m("latency_p50_us")),
            num(m("latency_p99_us")),
            num(m("flooded_per_s")),
            m("flooder_connected")
        ),
        "fanout-2k" | "fanout-2k-deflate" => format!(
            "{} deliveries/s, {} wire B/delivery, {} server CPU µs/delivery, lost {}",
            num(m("deliveries_per_s")),
            num(m("wire_bytes_per_delivery")),
            num(m("server_cpu_us_per_delivery")),
            num(m("lost"))
        ),
        "fanout" | "cluster" => format!(
            "{} deliveries/s, p50 {} µs, lost {}",
            num(m("deliveries_per_s")),
            num(m("latency_p50_us")),
            num(m("lost"))
        ),
        "idle" => format!(
            "{} connects/s, {} held, {} KiB per connection",
            num(m("connects_per_s")),
            num(m("held")),
            num(m("rss_per_conn_kib"))
        ),
        other => other.to_owned(),
    };
    if let Some(cpu) = report.metrics.get("loadgen_cpu_pct") {
        let _ = write!(line, " (load generator {cpu:.0}% CPU)");
    }
    if !report.errors.is_empty() {
        let _ = write!(line, " ERRORS: {}", report.errors.join("; "));
    }
    line
}

/// What a smoke run must not show: errors, losses, connections not held.
pub fn correctness_problems(runs: &[Run]) -> Vec<String> {
    let mut problems = Vec::new();
    for run in runs {
        let r = &run.report;
        let who = format!("{} {} rep {}", run.server, r.scenario, run.rep);
        if !r.errors.is_empty() {
            problems.push(format!("{who}: {}", r.errors.join("; ")));
        }
        if r.metrics.get("lost").is_some_and(|&lost| lost > 0.0) {
            problems.push(format!("{who}: lost {} deliveries", r.metrics["lost"]));
        }
        if r.scenario == "flood" && r.metrics.get("flooded_per_s").is_none_or(|&v| v == 0.0) {
            problems.push(format!("{who}: the flooder sent nothing"));
        }
        let ops = ["acks", "received", "connected"];
        if ops.iter().all(|k| r.metrics.get(*k).is_none_or(|&v| v == 0.0)) {
            problems.push(format!("{who}: measured nothing"));
        }
    }
    problems
}

/// A figure for a table: integers with thin separators, small values with decimals.
pub fn num(v: f64) -> String {
    if !v.is_finite() {
        return "–".into();
    }
    if v.abs() >= 1000.0 {
        let digits = format!("{:.0}", v.abs());
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.push(' ');
            }
            out.push(c);
        }
        if v < 0.0 { format!("-{out}") } else { out }
    } else if v.abs() >= 100.0 || v.fract() == 0.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// A column of a scenario table: header, metric, and whether ratios against the peers
/// are shown (for throughputs).
struct Column {
    header: &'static str,
    metric: &'static str,
    ratios: bool,
}

const fn col(header: &'static str, metric: &'static str) -> Column {
    Column {
        header,
        metric,
        ratios: false,
    }
}

const fn rate(header: &'static str, metric: &'static str) -> Column {
    Column {
        header,
        metric,
        ratios: true,
    }
}

fn columns(scenario: &str) -> Vec<Column> {
    match scenario {
        "echo" | "latency" => vec![
            rate("acks/s", "acks_per_s"),
            col("p50 µs", "latency_p50_us"),
            col("p99 µs", "latency_p99_us"),
            col("p99.9 µs", "latency_p999_us"),
            col("server CPU µs/ack", "server_cpu_us_per_ack"),
            col("server CPU %", "server_cpu_pct"),
            col("load gen CPU %", "loadgen_cpu_pct"),
            col("errors", "errors"),
        ],
        "unflooded" | "flood" => vec![
            col("acks/s", "acks_per_s"),
            col("p50 µs", "latency_p50_us"),
            col("p99 µs", "latency_p99_us"),
            col("p99.9 µs", "latency_p999_us"),
            col("flood events/s", "flooded_per_s"),
            col("flooder connected", "flooder_connected"),
            col("server CPU %", "server_cpu_pct"),
            col("errors", "errors"),
        ],
        "fanout" | "cluster" => vec![
            rate("deliveries/s", "deliveries_per_s"),
            col("p50 µs", "latency_p50_us"),
            col("p99 µs", "latency_p99_us"),
            col("lost", "lost"),
            col("disconnected", "disconnected"),
            col("server CPU µs/delivery", "server_cpu_us_per_delivery"),
            col("server CPU %", "server_cpu_pct"),
            col("load gen CPU %", "loadgen_cpu_pct"),
        ],
        "fanout-2k" | "fanout-2k-deflate" => vec![
            rate("deliveries/s", "deliveries_per_s"),
            col("wire bytes/delivery", "wire_bytes_per_delivery"),
            col("server CPU µs/delivery", "server_cpu_us_per_delivery"),
            col("p50 µs", "latency_p50_us"),
            col("lost", "lost"),
            col("server CPU %", "server_cpu_pct"),
            col("load gen CPU %", "loadgen_cpu_pct"),
        ],
        "idle" => vec![
            rate("connects/s", "connects_per_s"),
            col("connect p50 µs", "connect_p50_us"),
            col("connect p99 µs", "connect_p99_us"),
            col("server CPU µs/connect", "server_cpu_us_per_connect"),
            col("load gen CPU %", "loadgen_cpu_pct"),
            col("held", "held"),
            col("RSS per connection KiB", "rss_per_conn_kib"),
            col("server RSS KiB", "server_rss_kib"),
            col("errors", "errors"),
        ],
        _ => Vec::new(),
    }
}

/// The peer every ratio is taken against.
pub(super) const SOCKETIOXIDE: &str = "socketioxide";
/// Load-generator CPU from which a run's throughput is the generator's, not the server's.
const SATURATED_PCT: f64 = 90.0;
const NODE: &str = "node";

fn scenario_table(out: &mut String, runs: &[Run], scenario: &str, servers: &[&str]) {
    let columns = columns(scenario);
    let mut header = String::from("| server |");
    let mut rule = String::from("|---|");
    for c in &columns {
        let _ = write!(header, " {} |", c.header);
        rule.push_str("---:|");
        if c.ratios {
            header.push_str(" ÷ socketioxide | ÷ node |");
            rule.push_str("---:|---:|");
        }
    }
    let _ = writeln!(out, "{header}\n{rule}");
    for server in servers {
        let _ = write!(out, "| {server} |");
        for c in &columns {
            let v = median(runs, scenario, server, c.metric);
            let _ = write!(out, " {} |", v.map_or("–".into(), num));
            if c.ratios {
                for peer in [SOCKETIOXIDE, NODE] {
                    let ratio = v.zip(median(runs, scenario, peer, c.metric)).map(|(a, b)| a / b);
                    let _ = write!(out, " {} |", ratio.map_or("–".into(), |r| format!("{r:.2}×")));
                }
            }
        }
        out.push('\n');
    }
}

/// The whole `RESULTS.md`.
pub fn markdown(ctx: &Context, runs: &[Run]) -> String {
    let mut out = String::new();
    let servers: Vec<&str> = ctx.servers.iter().map(|(name, ..)| *name).collect();
    let _ = writeln!(
        out,
        "# Benchmark results{}\n",
        if ctx.quick {
            " (quick smoke: loads too small to compare speed)"
        } else {
            ""
        }
    );
    let _ = writeln!(
        out,
        "Written by `cargo xtask bench{}`: {} repetition{} of every scenario against every server, interleaved \
         (each scenario runs on every server in turn before the next repetition), medians shown. \
         The matrix took {:.0} s. {}\n",
        if ctx.quick { " --quick" } else { "" },
        ctx.reps,
        if ctx.reps == 1 { "" } else { "s" },
        ctx.elapsed.as_secs_f64(),
        if ctx.pinned {
            "Each server ran pinned to core 0 and the load generator (`portico-bench run`, Rust, one thread) to core 1, with `taskset`."
        } else {
            "Server and load generator were NOT pinned (no taskset or a single core): the figures mix both."
        }
    );
    out.push_str("| | |\n|---|---|\n");
    for (k, v) in &ctx.machine {
        let _ = writeln!(out, "| {k} | {v} |");
    }
    if !ctx.failures.is_empty() {
        out.push_str("\n**Failed runs** (no report):\n\n");
        for f in &ctx.failures {
            let _ = writeln!(out, "- {f}");
        }
    }

    targets::table(&mut out, runs);
    let saturated: Vec<String> = ctx
        .loads
        .iter()
        .flat_map(|(scenario, _)| servers.iter().map(move |server| (scenario, *server)))
        .filter_map(|(scenario, server)| {
            let cpu = median(runs, scenario, server, "loadgen_cpu_pct")?;
            (cpu >= SATURATED_PCT).then(|| format!("{scenario} on {server} ({cpu:.0}%)"))
        })
        .collect();
    if !saturated.is_empty() {
        let _ = writeln!(
            out,
            "\nThe load generator used {SATURATED_PCT:.0}% or more of its core in: {}. There the \
             throughput is what one generator core could drive, a lower bound for the server; server \
             CPU per operation is the comparison that still holds.",
            saturated.join(", ")
        );
    }
    // Closed loops (echo, fan-out) leave a server idle while it waits for the generator;
    // below this much of its core, its throughput is a lower bound as well.
    let waiting: Vec<String> = ctx
        .loads
        .iter()
        .map(|(scenario, _)| scenario.as_str())
        .filter(|scenario| ["echo", "fanout"].contains(scenario))
        .flat_map(|scenario| servers.iter().map(move |server| (scenario, *server)))
        .filter_map(|(scenario, server)| {
            let cpu = median(runs, scenario, server, "server_cpu_pct")?;
            (cpu < SATURATED_PCT).then(|| format!("{scenario} on {server} ({cpu:.0}%)"))
        })
        .collect();
    if !waiting.is_empty() {
        let _ = writeln!(
            out,
            "
The server used less than {SATURATED_PCT:.0}% of its core in: {}. The load is a closed \
             loop, so that server spent the rest waiting for the generator (in the fan-out, for the \
             last members to read a batch and the senders to send the next): its throughput is a \
             lower bound, and server CPU per operation is the figure that compares servers.",
            waiting.join(", ")
        );
    }
    if let (Some(a), Some(b)) = (
        median(runs, "fanout", SOCKETIOXIDE, "server_cpu_us_per_delivery"),
        median(runs, "fanout", "portico", "server_cpu_us_per_delivery"),
    ) {
        let _ = writeln!(
            out,
            "
Fan-out server CPU per delivery: portico {} µs, socketioxide {} µs: portico needs \
             {:.2}× less per delivery.",
            num(b),
            num(a),
            a / b
        );
    }
    if let (Some(per), Some(before)) = (
        median(runs, "idle", "portico", "rss_per_conn_kib"),
        median(runs, "idle", "portico", "server_rss_before_kib"),
    ) {
        let _ = writeln!(
            out,
            "\nAt {} KiB per connection, 1 000 000 idle connections would take about {:.1} GiB \
             ({:.0} MiB at start plus the connections).",
            num(per),
            (before + per * 1e6) / 1024.0 / 1024.0,
            before / 1024.0
        );
    }

    for (scenario, load) in &ctx.loads {
        let _ = writeln!(
            out,
            "\n## {scenario}\n\n`portico-bench run --addr … --pid … {load}`\n"
        );
        if ["fanout-2k", "fanout-2k-deflate"].contains(&scenario.as_str()) {
            out.push_str(
                "Portico and Node only (socketioxide has no permessage-deflate). With `-deflate` the clients \
                 offer permessage-deflate and Portico runs `bench/portico-deflate.toml`, Node \
                 `perMessageDeflate: {threshold: 1024}`; wire bytes are what the members read off their \
                 sockets, per delivery.\n\n",
            );
        }
        if ["unflooded", "flood"].contains(&scenario.as_str()) {
            out.push_str(
                "Portico runs this with `bench/portico-flood.toml` (the default limits; the flooder is never \
                 disconnected), not the config in the server table.\n\n",
            );
        }
        scenario_table(&mut out, runs, scenario, &servers);
    }
    plugin::section(&mut out, ctx, runs);

    out.push_str("\n## Servers\n\n| name | what | command |\n|---|---|---|\n");
    for (name, about, command) in &ctx.servers {
        let _ = writeln!(out, "| {name} | {about} | `{command}` |");
    }
    out.push_str("\nEvery run is a line of `results.jsonl` beside this file (server, repetition, parameters, all metrics).\n");
    out
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A run of `server` in `scenario` that measured `metric`.
    pub(in crate::matrix) fn run(server: &str, scenario: &str, metric: &str, value: f64) -> Run {
        let mut report = Report {
            scenario: scenario.into(),
            ..Report::default()
        };
        report.metrics.insert(metric.into(), value);
        Run {
            server: server.into(),
            rep: 1,
            report,
        }
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        let runs = vec![
            run("a", "echo", "acks_per_s", 3.0),
            run("a", "echo", "acks_per_s", 1.0),
            run("a", "echo", "acks_per_s", 2.0),
            run("b", "echo", "acks_per_s", 10.0),
            run("b", "echo", "acks_per_s", 20.0),
        ];
        assert_eq!(median(&runs, "echo", "a", "acks_per_s"), Some(2.0));
        assert_eq!(median(&runs, "echo", "b", "acks_per_s"), Some(15.0));
        assert_eq!(median(&runs, "fanout", "a", "acks_per_s"), None);
    }

    #[test]
    fn smoke_problems_name_the_run() {
        let mut lost = run("node", "fanout", "lost", 3.0);
        lost.report.metrics.insert("received".into(), 10.0);
        let quiet = run("portico", "echo", "acks", 0.0);
        let problems = correctness_problems(&[lost, quiet]);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].starts_with("node fanout rep 1: lost 3"));
        assert!(problems[1].contains("measured nothing"));
    }

    #[test]
    fn numbers_are_readable() {
        assert_eq!(num(1_234_567.0), "1 234 567");
        assert_eq!(num(123.4), "123");
        assert_eq!(num(12.34), "12.3");
        assert_eq!(num(1.234), "1.23");
        assert_eq!(num(0.0), "0");
        assert_eq!(num(f64::NAN), "–");
    }
}
