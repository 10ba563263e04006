//! `instructions`: what the plugin costs per event, counted in instructions, which do
//! not drift with the machine's load the way times do.
//!
//! `portico`, `portico-wasm`, `portico-ts` and `socketioxide` each run under
//! `valgrind --tool=callgrind` twice, with the same echo load (10 clients) for a short and a
//! long time. The difference in user-space instructions over the difference in acks is the
//! instructions per ack:
//! counting starts once the server listens (its counts are zeroed then), and what
//! the load's start and the shutdown cost cancels out. The kernel's share (the TCP stack) is not
//! counted, and it is the same for both.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};

use super::servers::{self, ServerSpec};

/// How long the unmeasured first start under valgrind may take (it compiles every
/// plugin, SpiderMonkey included).
const WARM_START: Duration = Duration::from_secs(1800);

/// The short and the long run, in seconds of measured load.
const DURATIONS: [f64; 2] = [2.0, 6.0];

/// Whether valgrind can run here.
pub fn have_valgrind() -> bool {
    std::process::Command::new("valgrind")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// User-space instructions per ack of `spec` under the echo load.
pub fn per_ack(spec: &ServerSpec, me: &Path, logs: &Path, core: Option<usize>) -> anyhow::Result<f64> {
    let under_valgrind = |out: &Path| {
        let mut args = vec![
            "--tool=callgrind".into(),
            format!("--callgrind-out-file={}", out.display()).into(),
            spec.program.clone().into_os_string(),
        ];
        args.extend(spec.args.iter().cloned());
        ServerSpec {
            program: "valgrind".into(),
            args,
            ..spec.clone()
        }
    };
    // Start-up under valgrind is slow: it loads everything, and the plugins compile
    // (valgrind's CPU features are not the machine's, so the compile cache written
    // outside it does not serve). Once first, unmeasured: with a cold cache the first
    // run would compile and the second not, and the difference would be meaningless.
    // A JavaScript plugin embeds SpiderMonkey: compiling it under valgrind takes
    // minutes, once (the runs after it find it in the cache).
    let warm = servers::start(
        &under_valgrind(&logs.join(format!("{}-instructions-warm.callgrind", spec.name))),
        core,
        &logs.join(format!("{}-instructions-warm.log", spec.name)),
        WARM_START,
    )?;
    warm.interrupt(Duration::from_secs(60))?;
    let mut counts = Vec::new();
    for (i, duration) in DURATIONS.iter().enumerate() {
        let out = logs.join(format!("{}-instructions-{i}.callgrind", spec.name));
        let log = logs.join(format!("{}-instructions-{i}.log", spec.name));
        let server = servers::start(&under_valgrind(&out), core, &log, Duration::from_secs(180))?;
        zero_counts(server.pid())?;
        let output = std::process::Command::new(me)
            .arg("run")
            .arg("--addr")
            .arg(server.addr.to_string())
            .args(["echo", "--clients", "10", "--warmup", "0.5", "--duration"])
            .arg(duration.to_string())
            .stdin(Stdio::null())
            .stderr(Stdio::inherit())
            .output()
            .context("running the load generator")?;
        server.interrupt(Duration::from_secs(60))?;
        let report: crate::scenario::Report = serde_json::from_slice(
            output
                .stdout
                .split(|b| *b == b'\n')
                .find(|l| !l.is_empty())
                .unwrap_or_default(),
        )
        .context("reading the load generator's report")?;
        if !report.errors.is_empty() {
            bail!("the echo load failed: {}", report.errors.join("; "));
        }
        let acks = report.metrics.get("acks_total").copied().unwrap_or(0.0);
        let text = std::fs::read_to_string(&out).with_context(|| format!("reading {}", out.display()))?;
        counts.push((
            acks,
            total_instructions(&text).context("no totals in the callgrind output")?,
        ));
    }
    let [(short_acks, short_ir), (long_acks, long_ir)] = counts[..] else {
        bail!("expected two runs");
    };
    if long_acks <= short_acks {
        bail!("the long run acked no more than the short one ({long_acks} vs {short_acks})");
    }
    Ok((long_ir - short_ir) / (long_acks - short_acks))
}

/// Zeroes the counts of the callgrind process `pid`: what its start-up ran (loading,
/// compiling plugins, calibrating clocks, none of it the same from one start to the
/// next) is not counted.
fn zero_counts(pid: u32) -> anyhow::Result<()> {
    let status = std::process::Command::new("callgrind_control")
        .arg("--zero")
        .arg(pid.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .context("running callgrind_control (it comes with valgrind)")?;
    if !status.success() {
        bail!("callgrind_control --zero {pid} failed: {status}");
    }
    Ok(())
}

/// The `summary:` (or `totals:`) instruction count of a callgrind output file.
fn total_instructions(text: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix("summary:").or_else(|| l.strip_prefix("totals:")))
        .and_then(|n| n.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_are_read_from_either_line() {
        assert_eq!(
            total_instructions("events: Ir\nsummary: 123456\n"),
            Some(123_456.0)
        );
        assert_eq!(total_instructions("events: Ir\ntotals: 42\n"), Some(42.0));
        assert_eq!(total_instructions("events: Ir\n"), None);
    }
}
