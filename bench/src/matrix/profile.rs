//! `--profile`: samples the server with `perf record` while the load generator runs,
//! and keeps the flat profile (`perf report`) beside the server's log.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::Context;

/// A `perf record` attached to a server.
pub struct Recording {
    child: Child,
    data: PathBuf,
}

/// Starts sampling `pid` on CPU time (a software clock: it works where hardware counters
/// are not offered), writing to `{stem}.perf.data`.
pub fn start(pid: u32, stem: &Path) -> anyhow::Result<Recording> {
    let data = stem.with_extension("perf.data");
    let child = Command::new("perf")
        .args(["record", "--quiet", "-e", "cpu-clock", "-F", "1999", "-g", "-p"])
        .arg(pid.to_string())
        .arg("-o")
        .arg(&data)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting `perf record` (Debian package linux-perf)")?;
    Ok(Recording { child, data })
}

impl Recording {
    /// Stops sampling and writes the flat profile to `{stem}.perf.txt`; returns its path.
    pub fn finish(mut self) -> anyhow::Result<PathBuf> {
        // perf writes its data on SIGINT.
        let _ = Command::new("kill")
            .arg("-INT")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
        let report = self.data.with_extension("txt");
        let output = Command::new("perf")
            .args([
                "report",
                "--stdio",
                "--no-children",
                "--sort",
                "dso,symbol",
                "--percent-limit",
                "0.5",
                "-g",
                "none",
                "-i",
            ])
            .arg(&self.data)
            .stderr(Stdio::null())
            .output()
            .context("running `perf report`")?;
        std::fs::write(&report, &output.stdout)?;
        Ok(report)
    }
}
