//! The targets the benchmark is held to, judged on one run's medians.

use std::fmt::Write as _;

use super::{SOCKETIOXIDE, median, num};
use crate::matrix::{FLOOD, FLOOD_BASE, Run};

/// The raw peer's name: the practical limit.
const RAW: &str = "raw";

/// A target: what is compared, the goal, and the measured value.
struct Target {
    what: &'static str,
    goal: &'static str,
    value: Option<f64>,
    unit: &'static str,
    met: Option<bool>,
}

/// Writes the `## Targets` table.
pub(super) fn table(out: &mut String, runs: &[Run]) {
    out.push_str(
        "\n## Targets\n\nRatios are of medians measured in this run.\n\n| target | goal | measured | |\n|---|---|---:|---|\n",
    );
    for t in targets(runs) {
        let measured = t.value.map_or("–".into(), |v| {
            if t.unit == "×" {
                format!("{v:.2}×")
            } else {
                format!("{}{}", num(v), t.unit)
            }
        });
        let verdict = match t.met {
            Some(true) => "met",
            Some(false) => "**missed**",
            None => "not measured",
        };
        let _ = writeln!(out, "| {} | {} | {measured} | {verdict} |", t.what, t.goal);
    }
}

fn targets(runs: &[Run]) -> Vec<Target> {
    let m = |scenario: &str, server: &str, metric: &str| median(runs, scenario, server, metric);
    let ratio = |scenario: &str, server: &str, metric: &str| {
        m(scenario, server, metric)
            .zip(m(scenario, SOCKETIOXIDE, metric))
            .map(|(a, b)| a / b)
    };
    // For a cost (less is better): how many times less the server needs than socketioxide.
    let saving = |scenario: &str, server: &str, metric: &str| {
        m(scenario, SOCKETIOXIDE, metric)
            .zip(m(scenario, server, metric))
            .map(|(a, b)| a / b)
    };
    let at_least = |v: Option<f64>, goal: f64| v.map(|v| v >= goal);
    let echo = ratio("echo", "portico", "acks_per_s");
    let echo_cpu = saving("echo", "portico", "server_cpu_us_per_ack");
    let echo_wasm = ratio("echo", "portico-wasm", "acks_per_s");
    let echo_wasm_cpu = saving("echo", "portico-wasm", "server_cpu_us_per_ack");
    let echo_raw = m("echo", "portico", "acks_per_s")
        .zip(m("echo", RAW, "acks_per_s"))
        .map(|(a, b)| a / b);
    let fanout = ratio("fanout", "portico", "deliveries_per_s");
    let lost = m("fanout", "portico", "lost");
    let fanout_wasm = ratio("fanout", "portico-wasm", "deliveries_per_s");
    let lost_wasm = m("fanout", "portico-wasm", "lost");
    let rss = m("idle", "portico", "rss_per_conn_kib");
    let connects = ratio("idle", "portico", "connects_per_s");
    let overhead = m("latency", "portico-wasm", "latency_p50_us")
        .zip(m("latency", "portico", "latency_p50_us"))
        .map(|(a, b)| a - b);
    let plugin_instructions = m("instructions", "portico-wasm", "instructions_per_ack")
        .zip(m("instructions", "portico", "instructions_per_ack"))
        .map(|(a, b)| a - b);
    let held = m("idle", "portico", "held");
    // The others' p99 while one client floods, over the same load without the flood.
    let flooded = m(FLOOD, "portico", "latency_p99_us")
        .zip(m(FLOOD_BASE, "portico", "latency_p99_us"))
        .map(|(a, b)| a / b);
    vec![
        Target {
            what: "echo acks/s, portico ÷ socketioxide",
            goal: "≥ 1.4×",
            value: echo,
            unit: "×",
            met: at_least(echo, 1.4),
        },
        Target {
            what: "echo server CPU per ack, socketioxide ÷ portico",
            goal: "≥ 1.4×",
            value: echo_cpu,
            unit: "×",
            met: at_least(echo_cpu, 1.4),
        },
        Target {
            what: "echo acks/s, portico ÷ raw (the practical limit; the goal when 1.4× is beyond it)",
            goal: "≥ 0.95×",
            value: echo_raw,
            unit: "×",
            met: at_least(echo_raw, 0.95),
        },
        Target {
            what: "echo acks/s, portico-wasm ÷ socketioxide",
            goal: "≥ 1.2×",
            value: echo_wasm,
            unit: "×",
            met: at_least(echo_wasm, 1.2),
        },
        Target {
            what: "echo server CPU per ack, socketioxide ÷ portico-wasm",
            goal: "≥ 1.2×",
            value: echo_wasm_cpu,
            unit: "×",
            met: at_least(echo_wasm_cpu, 1.2),
        },
        Target {
            what: "user-space instructions the plugin adds per event (callgrind, portico-wasm − portico)",
            goal: "≤ 3 000",
            value: plugin_instructions,
            unit: "",
            met: plugin_instructions.map(|v| v <= 3_000.0),
        },
        Target {
            what: "fan-out deliveries/s, portico ÷ socketioxide, with 0 lost",
            goal: "≥ 1.8×",
            value: fanout,
            unit: "×",
            met: at_least(fanout, 1.8).map(|ok| ok && lost == Some(0.0)),
        },
        Target {
            what: "fan-out deliveries/s, portico-wasm ÷ socketioxide, with 0 lost",
            goal: "≥ 1.8×",
            value: fanout_wasm,
            unit: "×",
            met: at_least(fanout_wasm, 1.8).map(|ok| ok && lost_wasm == Some(0.0)),
        },
        Target {
            what: "idle RSS per connection, portico",
            goal: "≤ 8 KiB",
            value: rss,
            unit: " KiB",
            met: rss.map(|v| v <= 8.0),
        },
        Target {
            what: "connects/s, portico ÷ socketioxide",
            goal: "≥ 1.3×",
            value: connects,
            unit: "×",
            met: at_least(connects, 1.3),
        },
        Target {
            what: "plugin overhead per event at p50 (one-client echo p50, portico-wasm − portico)",
            goal: "≤ 3 µs",
            value: overhead,
            unit: " µs",
            met: overhead.map(|v| v <= 3.0),
        },
        Target {
            what: "others' ack p99 while one client floods 10 000 events/s, ÷ the same load unflooded, portico (default limits)",
            goal: "≤ 2×",
            value: flooded,
            unit: "×",
            met: flooded.map(|v| v <= 2.0),
        },
        Target {
            what: "idle connections held by portico",
            goal: "19 000",
            value: held,
            unit: "",
            met: at_least(held, 19_000.0),
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::super::tests::run;
    use super::*;

    fn find<'a>(targets: &'a [Target], start: &str) -> &'a Target {
        targets.iter().find(|t| t.what.starts_with(start)).expect(start)
    }

    #[test]
    fn targets_compare_medians_with_socketioxide_and_the_raw_peer() {
        let runs = vec![
            run("portico", "echo", "acks_per_s", 150.0),
            run("socketioxide", "echo", "acks_per_s", 100.0),
            run("raw", "echo", "acks_per_s", 200.0),
            run("portico", "idle", "rss_per_conn_kib", 9.0),
        ];
        let t = targets(&runs);
        let echo = find(&t, "echo acks/s, portico ÷ socketioxide");
        assert_eq!((echo.value, echo.met), (Some(1.5), Some(true)));
        let raw = find(&t, "echo acks/s, portico ÷ raw");
        assert_eq!((raw.value, raw.met), (Some(0.75), Some(false)));
        assert_eq!(find(&t, "echo acks/s, portico-wasm").met, None, "not measured");
        assert_eq!(find(&t, "idle RSS").met, Some(false));
    }

    #[test]
    fn the_flood_is_judged_against_the_same_load_unflooded() {
        let runs = vec![
            run("portico", FLOOD_BASE, "latency_p99_us", 100.0),
            run("portico", FLOOD, "latency_p99_us", 150.0),
            run("socketioxide", FLOOD, "latency_p99_us", 900.0),
        ];
        let t = targets(&runs);
        let flood = find(&t, "others' ack p99 while one client floods");
        assert_eq!((flood.value, flood.met), (Some(1.5), Some(true)));
        let runs = vec![
            run("portico", FLOOD_BASE, "latency_p99_us", 100.0),
            run("portico", FLOOD, "latency_p99_us", 250.0),
        ];
        assert_eq!(find(&targets(&runs), "others' ack p99").met, Some(false));
    }

    #[test]
    fn costs_compare_as_how_many_times_less() {
        let runs = vec![
            run("socketioxide", "echo", "server_cpu_us_per_ack", 6.0),
            run("portico-wasm", "echo", "server_cpu_us_per_ack", 4.0),
            run("portico", "echo", "server_cpu_us_per_ack", 5.0),
        ];
        let t = targets(&runs);
        let wasm = find(&t, "echo server CPU per ack, socketioxide ÷ portico-wasm");
        assert_eq!((wasm.value, wasm.met), (Some(1.5), Some(true)));
        let builtin = find(&t, "echo server CPU per ack, socketioxide ÷ portico");
        assert_eq!((builtin.value, builtin.met), (Some(1.2), Some(false)));
    }

    #[test]
    fn plugin_instructions_are_the_difference_per_ack() {
        let counted = |wasm: f64| {
            let runs = vec![
                run("portico", "instructions", "instructions_per_ack", 12_000.0),
                run("portico-wasm", "instructions", "instructions_per_ack", wasm),
            ];
            let t = targets(&runs);
            let row = find(&t, "user-space instructions the plugin adds");
            (row.value, row.met)
        };
        assert_eq!(counted(14_500.0), (Some(2_500.0), Some(true)));
        assert_eq!(counted(24_800.0), (Some(12_800.0), Some(false)));
        assert_eq!(targets(&[]).iter().filter(|t| t.met.is_some()).count(), 0);
    }
}
