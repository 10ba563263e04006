//! The machine and the versions a run was measured with.

use std::path::Path;
use std::process::Command;

/// Cores this process may run on.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// One line per fact, for the report.
pub fn describe(root: &Path) -> Vec<(String, String)> {
    let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
    let cpu = read("/proc/cpuinfo")
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_else(|| "unknown".into());
    let mem_gib = read("/proc/meminfo")
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or_else(
            || "unknown".into(),
            |kib| format!("{:.1} GiB", kib / 1024.0 / 1024.0),
        );
    let git = command_line(root, "git", &["rev-parse", "--short", "HEAD"]);
    // The results this run rewrites don't count as changes to what was measured.
    let dirty = Command::new("git")
        .args(["status", "--porcelain", "--untracked-files=no", "--", "."])
        .args([":!bench/RESULTS.md", ":!bench/results.jsonl"])
        .current_dir(root)
        .output()
        .is_ok_and(|o| !o.stdout.is_empty());
    vec![
        ("CPU".into(), format!("{cpu}, {} cores", cores())),
        ("memory".into(), mem_gib),
        (
            "kernel".into(),
            format!("Linux {}", read("/proc/sys/kernel/osrelease").trim()),
        ),
        (
            "open files".into(),
            command_line(root, "sh", &["-c", "ulimit -n"]),
        ),
        (
            "portico".into(),
            format!("{git}{}", if dirty { " (with uncommitted changes)" } else { "" }),
        ),
        ("rustc".into(), command_line(root, "rustc", &["--version"])),
        (
            "socketioxide".into(),
            locked_crate(&root.join("bench/peers/socketioxide/Cargo.lock"), "socketioxide"),
        ),
        (
            "raw peer".into(),
            locked_crate(&root.join("bench/peers/raw/Cargo.lock"), "fastwebsockets"),
        ),
        ("node".into(), command_line(root, "node", &["--version"])),
        (
            "socket.io".into(),
            npm_locked(&root.join("bench/peers/node/package-lock.json"), "socket.io"),
        ),
    ]
}

/// What `program args` prints, trimmed, or `unknown`.
fn command_line(dir: &Path, program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| "unknown".into())
}

/// A crate's version in a `Cargo.lock`.
fn locked_crate(lock: &Path, name: &str) -> String {
    let text = std::fs::read_to_string(lock).unwrap_or_default();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if line.trim() == format!("name = \"{name}\"")
            && let Some(version) = lines.next().and_then(|l| l.trim().strip_prefix("version = "))
        {
            return version.trim_matches('"').to_owned();
        }
    }
    "unknown".into()
}

/// A package's version in an npm `package-lock.json`.
fn npm_locked(lock: &Path, name: &str) -> String {
    std::fs::read_to_string(lock)
        .ok()
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .and_then(|lock| {
            lock["packages"][format!("node_modules/{name}")]["version"]
                .as_str()
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "unknown".into())
}
