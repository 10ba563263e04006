//! The plugin's cost: the wasm handlers (Rust and TypeScript) beside the built-in one,
//! timed and counted.

use std::fmt::Write as _;

use super::{Context, SOCKETIOXIDE, median, num};
use crate::matrix::Run;

/// Writes the `## plugin` section and the instruction counts, when the run has them.
pub(super) fn section(out: &mut String, ctx: &Context, runs: &[Run]) {
    if ctx.loads.iter().any(|(s, _)| s == "echo" || s == "latency") {
        out.push_str(
            "\n## plugin\n\nThe same events handled by the wasm plugin written in Rust (portico-wasm), by its \
             TypeScript twin (portico-ts, plugins-ts/bench on plugin-sdk-ts) and by the built-in handler \
             (portico): latency with one client (nothing queued), and server CPU per ack under the echo \
             load.\n\n| | one-client p50 µs | one-client p99 µs | echo: server CPU µs/ack |\n|---|---:|---:|---:|\n",
        );
        let row = |server: &str| {
            [
                median(runs, "latency", server, "latency_p50_us"),
                median(runs, "latency", server, "latency_p99_us"),
                median(runs, "echo", server, "server_cpu_us_per_ack"),
            ]
        };
        let (builtin, wasm, ts) = (row("portico"), row("portico-wasm"), row("portico-ts"));
        let cells = |values: [Option<f64>; 3]| values.map(|v| v.map_or("–".into(), num)).join(" | ");
        let over = |plugin: [Option<f64>; 3]| -> [Option<f64>; 3] {
            std::array::from_fn(|i| plugin[i].zip(builtin[i]).map(|(a, b)| a - b))
        };
        let _ = writeln!(out, "| portico | {} |", cells(builtin));
        let _ = writeln!(out, "| portico-wasm | {} |", cells(wasm));
        let _ = writeln!(out, "| portico-ts | {} |", cells(ts));
        let _ = writeln!(
            out,
            "| **Rust plugin overhead per event** | {} |",
            cells(over(wasm))
        );
        let _ = writeln!(
            out,
            "| **TypeScript plugin overhead per event** | {} |",
            cells(over(ts))
        );
    }
    if let (Some(builtin), Some(wasm)) = (
        median(runs, "instructions", "portico", "instructions_per_ack"),
        median(runs, "instructions", "portico-wasm", "instructions_per_ack"),
    ) {
        let _ = writeln!(
            out,
            "\nCounted rather than timed (`valgrind --tool=callgrind`, echo with 10 clients, the \
             difference of a 2 s and a 6 s run, counted from when the server listens; the kernel's TCP \
             work is not counted): portico runs {} user-space instructions per ack, portico-wasm {}: the plugin \
             adds **{} instructions per event**.{} Unlike the times above, these counts do not move \
             with the machine's load.{}",
            num(builtin),
            num(wasm),
            num(wasm - builtin),
            median(runs, "instructions", "portico-ts", "instructions_per_ack").map_or(String::new(), |ts| {
                format!(
                    " The TypeScript twin (portico-ts) runs {} per ack: its plugin adds **{} instructions \
                     per event**, {:.1}× the Rust plugin's.",
                    num(ts),
                    num(ts - builtin),
                    (ts - builtin) / (wasm - builtin)
                )
            }),
            median(runs, "instructions", SOCKETIOXIDE, "instructions_per_ack").map_or(String::new(), |sio| {
                format!(
                    " socketioxide, counted the same way, runs {} per ack: {:.2}× portico's.",
                    num(sio),
                    sio / builtin
                )
            })
        );
    }
}
