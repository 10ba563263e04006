//! `cargo xtask soak [--minutes N] [--clients C]` (not in CI): the release gateway on
//! `bench/portico.toml` (the `bench` plugin: every event a plugin call) under
//! `portico-bench`'s soak scenario, connections churning with plugin calls, room
//! joins and broadcasts for N minutes (20 by default); the server's memory and open
//! descriptors are sampled to `target/soak.csv`. Fails if, after the warm-up (the
//! first quarter), resident memory grew by more than 10 % or descriptors by more than
//! 10 % + 32.

use std::io::BufRead as _;
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context as _, bail};

/// Runs the soak.
pub fn run(root: &Path, args: &[String]) -> anyhow::Result<()> {
    let flag = |name: &str, default: f64| -> anyhow::Result<f64> {
        match args.iter().position(|a| a == name) {
            Some(i) => args
                .get(i + 1)
                .with_context(|| format!("{name} needs a value"))?
                .parse()
                .with_context(|| format!("{name}: not a number")),
            None => Ok(default),
        }
    };
    let (minutes, clients) = (flag("--minutes", 20.0)?, flag("--clients", 2000.0)? as usize);
    super::build(root)?;
    super::sh(super::cargo().args(["build", "--release", "-p", "portico-bench"]))?;
    let mut server = Command::new(root.join("target/release/portico"))
        .args(["serve", "--config"])
        .arg(root.join("bench/portico.toml"))
        .args(["--listen", "127.0.0.1:0"])
        .env("PORTICO_PLUGINS_DIR", root.join("target/plugins"))
        .env("PORTICO_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .context("cannot start portico")?;
    let pid = server.id();
    let stdout = server.stdout.take().context("no stdout")?;
    let mut addr = None;
    for line in std::io::BufReader::new(stdout).lines() {
        let line = line?;
        if let Some(a) = line.strip_prefix("listening on ") {
            addr = Some(a.trim().to_owned());
            break;
        }
    }
    let Some(addr) = addr else {
        let _ = server.kill();
        bail!("portico did not start");
    };
    let csv = root.join("target/soak.csv");
    eprintln!("xtask: soak of {minutes} min with {clients} churning clients against {addr} (pid {pid})");
    let output = Command::new(root.join("target/release/portico-bench"))
        .args(["run", "--addr", &addr, "--pid", &pid.to_string(), "soak"])
        .args(["--seconds", &(minutes * 60.0).to_string()])
        .args(["--clients", &clients.to_string(), "--csv"])
        .arg(&csv)
        .stderr(Stdio::inherit())
        .output();
    let _ = Command::new("kill").args(["-TERM", &pid.to_string()]).status();
    let _ = server.wait();
    let output = output.context("cannot run portico-bench")?;
    if !output.status.success() {
        bail!("portico-bench soak failed with {}", output.status);
    }
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).context("the soak's report")?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    let metric = |name: &str| report["metrics"][name].as_f64().unwrap_or(f64::NAN);
    let (growth, fds_warm, fds_end) = (metric("rss_growth_pct"), metric("fds_warm"), metric("fds_end"));
    eprintln!("xtask: samples in {}", csv.display());
    // A missing figure (NaN) fails too.
    if growth.is_nan() || growth > 10.0 {
        bail!("resident memory grew {growth:.1} % after the warm-up");
    }
    if fds_end.is_nan() || fds_end > fds_warm * 1.1 + 32.0 {
        bail!("open descriptors grew from {fds_warm} to {fds_end} after the warm-up");
    }
    eprintln!(
        "xtask: soak passed: memory {growth:+.1} % after the warm-up, descriptors {fds_warm} → {fds_end}"
    );
    Ok(())
}
