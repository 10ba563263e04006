//! What `/proc` says about a process: CPU time and memory. Linux only, like the bench.

use std::time::Duration;

/// A process's CPU time and memory at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Sample {
    /// User + system CPU time.
    pub cpu: Duration,
    /// Resident set size, in KiB (`VmRSS`).
    pub rss_kib: u64,
    /// Peak resident set size, in KiB (`VmHWM`).
    pub hwm_kib: u64,
}

/// Reads `pid`'s sample (`None` for this process).
pub fn sample(pid: Option<u32>) -> std::io::Result<Sample> {
    let dir = match pid {
        Some(pid) => format!("/proc/{pid}"),
        None => "/proc/self".to_owned(),
    };
    let stat = std::fs::read_to_string(format!("{dir}/stat"))?;
    let status = std::fs::read_to_string(format!("{dir}/status"))?;
    let invalid =
        |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{dir}: no {what}"));
    Ok(Sample {
        cpu: cpu_time(&stat, clock_ticks()).ok_or_else(|| invalid("utime/stime in stat"))?,
        rss_kib: status_kib(&status, "VmRSS:").ok_or_else(|| invalid("VmRSS"))?,
        hwm_kib: status_kib(&status, "VmHWM:").ok_or_else(|| invalid("VmHWM"))?,
    })
}

/// Clock ticks per second for `/proc/PID/stat`: 100 on every Linux the bench runs on
/// (`getconf CLK_TCK`); `PORTICO_BENCH_CLK_TCK` overrides it.
fn clock_ticks() -> u64 {
    std::env::var("PORTICO_BENCH_CLK_TCK")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100)
}

/// utime + stime (fields 14 and 15) from a `stat` line. The command name (field 2) may
/// hold spaces and parentheses, so fields are counted from the last `)`.
fn cpu_time(stat: &str, ticks_per_sec: u64) -> Option<Duration> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_ascii_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    let ticks = utime + stime;
    Some(Duration::from_micros(ticks * 1_000_000 / ticks_per_sec.max(1)))
}

/// A `kB` field of `/proc/PID/status`.
fn status_kib(status: &str, key: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with(key))?;
    line[key.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_counts_fields_after_the_command_name() {
        let stat = "4242 (my (odd) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 3 0 1 2 3";
        assert_eq!(cpu_time(stat, 100), Some(Duration::from_secs(3)));
        assert_eq!(cpu_time("garbage", 100), None);
    }

    #[test]
    fn status_fields_are_read_in_kib() {
        let status = "Name:\tportico\nVmHWM:\t   20480 kB\nVmRSS:\t   10240 kB\n";
        assert_eq!(status_kib(status, "VmRSS:"), Some(10240));
        assert_eq!(status_kib(status, "VmHWM:"), Some(20480));
        assert_eq!(status_kib(status, "VmSwap:"), None);
    }

    #[test]
    fn this_process_can_be_sampled() {
        let s = sample(None).expect("/proc/self");
        assert!(s.rss_kib > 0 && s.hwm_kib >= s.rss_kib);
    }
}
