//! The matrix: every scenario against every server, interleaved (A B C D, A B C D, …),
//! each server pinned to one core and the load generator to the other, repeated, and
//! summarised as medians in `RESULTS.md` (plus every run in `results.jsonl`).
//!
//! # Layout
//! - [`scenarios`]: each scenario's load, in full and in `--quick`;
//! - [`servers`]: the servers and how one is started;
//! - [`machine`]: the machine and versions, for the report;
//! - [`report`]: medians, ratios, targets, Markdown;
//! - [`profile`]: `perf record` on the server during a run (`--profile`);
//! - [`instructions`]: the plugin's cost per event in instructions, under callgrind;
//! - [`cluster`]: two nodes on one Redis, the fan-out room split across them.

mod cluster;
mod instructions;
mod machine;
mod profile;
mod report;
mod scenarios;
mod servers;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

use crate::scenario::Report;

/// `portico-bench matrix` options.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// A CI-sized smoke: small loads, one repetition, written under target/. It checks that
    /// every server and scenario runs and loses nothing; it never judges speed.
    #[arg(long)]
    pub quick: bool,
    /// Repetitions (medians are reported); default 5, or 1 with --quick.
    #[arg(long)]
    pub reps: Option<usize>,
    /// Servers to run, in order (default: all).
    #[arg(long, value_delimiter = ',')]
    pub servers: Vec<String>,
    /// Scenarios to run (default: echo,latency,fanout,idle,instructions; --quick leaves
    /// out instructions, which runs every server but Node under valgrind).
    #[arg(long, value_delimiter = ',')]
    pub scenarios: Vec<String>,
    /// The repository root.
    #[arg(long, default_value = ".")]
    pub root: PathBuf,
    /// Where RESULTS.md, results.jsonl and the server logs go (default: bench/, or
    /// target/bench-quick/ with --quick).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The portico binary (default: target/release/portico).
    #[arg(long)]
    pub portico: Option<PathBuf>,
    /// The built plugins (default: target/plugins).
    #[arg(long)]
    pub plugins: Option<PathBuf>,
    /// The socketioxide peer binary (default: target/release/peer-socketioxide).
    #[arg(long)]
    pub socketioxide: Option<PathBuf>,
    /// The raw peer binary (default: target/release/peer-raw).
    #[arg(long)]
    pub raw: Option<PathBuf>,
    /// Samples each server with `perf record` during its runs and writes the flat
    /// profile to target/bench-logs/SERVER-SCENARIO-REP.perf.txt (the figures of a
    /// profiled run are slower; don't compare them).
    #[arg(long)]
    pub profile: bool,
}

/// One run of the matrix: a scenario's report, for one server and repetition.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Run {
    /// Server name.
    pub server: String,
    /// Repetition, from 1.
    pub rep: usize,
    /// What the load generator measured.
    #[serde(flatten)]
    pub report: Report,
}

const SCENARIOS: [&str; 10] = [
    "echo",
    "latency",
    "fanout",
    COMPRESSION_OFF,
    COMPRESSION_ON,
    CLUSTER,
    FLOOD_BASE,
    FLOOD,
    "idle",
    INSTRUCTIONS,
];

/// Paced echo clients, and the same with one more client flooding 10 000 events/s:
/// Portico runs both with its default limits (see [`servers::with_default_limits`]).
pub(crate) const FLOOD_BASE: &str = "unflooded";
pub(crate) const FLOOD: &str = "flood";

/// The 2 KB fan-out without and with permessage-deflate, Portico against Node (see
/// [`servers::for_compression`]).
pub(crate) const COMPRESSION_OFF: &str = "fanout-2k";
pub(crate) const COMPRESSION_ON: &str = "fanout-2k-deflate";

/// The scenario run on two nodes of a server and a Redis (see [`cluster`]).
const CLUSTER: &str = "cluster";

/// The scenario counted under callgrind instead of timed (see [`instructions`]).
const INSTRUCTIONS: &str = "instructions";

/// Runs the matrix.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let root = args.root.canonicalize().context("--root")?;
    let at_root = |p: &Option<PathBuf>, default: &str| root.join(p.clone().unwrap_or_else(|| default.into()));
    let paths = servers::Paths {
        portico: at_root(&args.portico, "target/release/portico"),
        plugins: servers::bench_plugin_dir(
            &at_root(&args.plugins, "target/plugins"),
            &root.join("target/bench-plugins/rust"),
            "bench.wasm",
        )?,
        plugins_ts: servers::bench_plugin_dir(
            &at_root(&args.plugins, "target/plugins"),
            &root.join("target/bench-plugins/ts"),
            "bench-ts.wasm",
        )?,
        socketioxide: at_root(&args.socketioxide, "target/release/peer-socketioxide"),
        raw: at_root(&args.raw, "target/release/peer-raw"),
        node_peer: root.join("bench/peers/node"),
        root: root.clone(),
    };
    let out = at_root(&args.out, if args.quick { "target/bench-quick" } else { "bench" });
    let logs = root.join("target/bench-logs");
    std::fs::create_dir_all(&out)?;
    std::fs::create_dir_all(&logs)?;

    let all = servers::all(&paths);
    let chosen: Vec<servers::ServerSpec> = if args.servers.is_empty() {
        all
    } else {
        let mut chosen = Vec::new();
        for name in &args.servers {
            match all.iter().find(|s| s.name == name) {
                Some(spec) => chosen.push(spec.clone()),
                None => bail!(
                    "unknown server {name:?}; known: {}",
                    all.iter().map(|s| s.name).collect::<Vec<_>>().join(", ")
                ),
            }
        }
        chosen
    };
    let mut scenarios: Vec<&str> = if args.scenarios.is_empty() {
        SCENARIOS
            .iter()
            .copied()
            .filter(|s| !args.quick || *s != INSTRUCTIONS)
            .collect()
    } else {
        args.scenarios.iter().map(String::as_str).collect()
    };
    for scenario in &scenarios {
        if *scenario != INSTRUCTIONS && scenarios::args(scenario, args.quick).is_none() {
            bail!("unknown scenario {scenario:?}; known: {}", SCENARIOS.join(", "));
        }
    }
    let count_instructions = scenarios.contains(&INSTRUCTIONS);
    scenarios.retain(|s| *s != INSTRUCTIONS);
    if count_instructions && !instructions::have_valgrind() {
        bail!("the instructions scenario needs valgrind (Debian package valgrind)");
    }
    let reps = args.reps.unwrap_or(if args.quick { 1 } else { 5 }).max(1);
    let (server_core, loadgen_core) = if servers::have_taskset() && machine::cores() >= 2 {
        (Some(0), Some(1))
    } else {
        eprintln!("bench: taskset or a second core is missing; server and load generator are not pinned");
        (None, None)
    };
    let me = std::env::current_exe().context("finding portico-bench itself")?;

    let started = Instant::now();
    let jsonl_path = out.join("results.jsonl");
    let mut jsonl = std::fs::File::create(&jsonl_path)?;
    let mut runs = Vec::new();
    let mut failures = Vec::new();
    for rep in 1..=reps {
        for scenario in &scenarios {
            let load: Vec<&str> = scenarios::args(scenario, args.quick).unwrap_or_default();
            for spec in &chosen {
                let variant;
                let spec = if [FLOOD, FLOOD_BASE].contains(scenario) {
                    match servers::with_default_limits(spec, &paths) {
                        Some(limited) => {
                            variant = limited;
                            &variant
                        }
                        None => continue,
                    }
                } else if [COMPRESSION_OFF, COMPRESSION_ON].contains(scenario) {
                    match servers::for_compression(spec, &paths, *scenario == COMPRESSION_ON) {
                        Some(compressing) => {
                            variant = compressing;
                            &variant
                        }
                        None => continue,
                    }
                } else {
                    spec
                };
                let clustered = *scenario == CLUSTER;
                if clustered && cluster::cluster_env(spec, "").is_none() {
                    continue;
                }
                let log = logs.join(format!("{}-{scenario}-{rep}.log", spec.name));
                eprint!("bench: rep {rep}/{reps} {scenario:<6} {:<13} ", spec.name);
                let measured = if clustered {
                    cluster::measure(spec, &load, &me, (server_core, loadgen_core), &log)
                } else {
                    measure(spec, &load, &me, (server_core, loadgen_core), &log, args.profile)
                };
                match measured {
                    Ok(mut report) => {
                        report.scenario = scenario.to_string();
                        eprintln!("{}", report::headline(&report));
                        let run = Run {
                            server: spec.name.to_owned(),
                            rep,
                            report,
                        };
                        writeln!(jsonl, "{}", serde_json::to_string(&run)?)?;
                        runs.push(run);
                    }
                    Err(err) => {
                        eprintln!("FAILED: {err:#}");
                        failures.push(format!("{} {scenario} rep {rep}: {err:#}", spec.name));
                    }
                }
            }
        }
    }
    if count_instructions {
        // Node is left out: its JIT under valgrind measures valgrind more than Node.
        for spec in chosen.iter().filter(|s| s.name != "node") {
            eprint!("bench: {INSTRUCTIONS} {:<13} ", spec.name);
            match instructions::per_ack(spec, &me, &logs, server_core) {
                Ok(per_ack) => {
                    eprintln!("{} user-space instructions per ack", report::num(per_ack));
                    let mut report = Report {
                        scenario: INSTRUCTIONS.to_owned(),
                        ..Report::default()
                    };
                    report.metrics.insert("instructions_per_ack".into(), per_ack);
                    let run = Run {
                        server: spec.name.to_owned(),
                        rep: 1,
                        report,
                    };
                    writeln!(jsonl, "{}", serde_json::to_string(&run)?)?;
                    runs.push(run);
                }
                Err(err) => {
                    eprintln!("FAILED: {err:#}");
                    failures.push(format!("{} {INSTRUCTIONS}: {err:#}", spec.name));
                }
            }
        }
    }
    let elapsed = started.elapsed();

    let context = report::Context {
        quick: args.quick,
        reps,
        elapsed,
        machine: machine::describe(&root),
        servers: chosen
            .iter()
            .map(|s| (s.name, s.about, s.command_line(&root)))
            .collect(),
        loads: scenarios
            .iter()
            .map(|s| {
                (
                    s.to_string(),
                    scenarios::args(s, args.quick).unwrap_or_default().join(" "),
                )
            })
            .collect(),
        pinned: server_core.is_some(),
        failures: failures.clone(),
    };
    let markdown = report::markdown(&context, &runs);
    let md_path = out.join("RESULTS.md");
    std::fs::write(&md_path, &markdown)?;
    eprintln!(
        "bench: {} runs in {:.0} s; wrote {} and {}",
        runs.len(),
        elapsed.as_secs_f64(),
        md_path.display(),
        jsonl_path.display()
    );

    if !failures.is_empty() {
        bail!("{} runs failed:\n  {}", failures.len(), failures.join("\n  "));
    }
    if args.quick {
        let problems = report::correctness_problems(&runs);
        if !problems.is_empty() {
            bail!("the smoke run found problems:\n  {}", problems.join("\n  "));
        }
    }
    Ok(())
}

/// Starts the server, runs the load generator against it, and stops it.
fn measure(
    spec: &servers::ServerSpec,
    load: &[&str],
    me: &Path,
    (server_core, loadgen_core): (Option<usize>, Option<usize>),
    log: &Path,
    profile: bool,
) -> anyhow::Result<Report> {
    let server = servers::start(spec, server_core, log, Duration::from_secs(60))?;
    // Let it finish starting (plugin instances, JIT of the Node peer's first paths) idle.
    std::thread::sleep(Duration::from_millis(300));
    let recording = if profile {
        Some(profile::start(server.pid(), log)?)
    } else {
        None
    };
    let mut command = servers::pinned(loadgen_core, me);
    command
        .arg("run")
        .arg("--addr")
        .arg(server.addr.to_string())
        .arg("--pid")
        .arg(server.pid().to_string())
        .args(load)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .stdout(Stdio::piped());
    let child = command.spawn().context("starting the load generator")?;
    let (status, stdout) = wait_with_deadline(child, Duration::from_secs(120))?;
    if let Some(recording) = recording {
        let report = recording.finish()?;
        eprint!("[profile: {}] ", report.display());
    }
    drop(server);
    report_of(status, &stdout)
}

/// The report the load generator printed last, if it succeeded.
fn report_of(status: std::process::ExitStatus, stdout: &str) -> anyhow::Result<Report> {
    if !status.success() {
        bail!("the load generator failed ({status})");
    }
    let line = stdout
        .lines()
        .last()
        .context("the load generator printed nothing")?;
    serde_json::from_str(line).with_context(|| format!("reading the load generator's report {line:?}"))
}

/// Waits for `child` for at most `limit`, killing it after that; returns its status and
/// standard output.
fn wait_with_deadline(
    mut child: std::process::Child,
    limit: Duration,
) -> anyhow::Result<(std::process::ExitStatus, String)> {
    let mut stdout = child.stdout.take().context("load generator stdout")?;
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut stdout, &mut text);
        text
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!("the load generator ran over {limit:?} and was killed");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let text = reader.join().unwrap_or_default();
    Ok((status, text))
}
