//! The plugin call-time histogram, kept here rather than in the exporter: the
//! exporter buffers every sample until a scrape or upkeep drains it (an allocation
//! now and then and a drain pass per sample), while a call only needs a bucket bumped.
//! Fixed buckets, counted with relaxed atomic adds, rendered beside the exporter's
//! series in the same exposition format.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::names::{PLUGIN_CALL_BUCKETS, PLUGIN_CALL_SECONDS};

/// One series: calls of one plugin in one world, in fixed buckets of call time.
#[derive(Debug)]
pub struct CallTimes {
    /// Calls no longer than each bound (not cumulative), then the rest (`+Inf`).
    buckets: [AtomicU64; PLUGIN_CALL_BUCKETS.len() + 1],
    sum_nanos: AtomicU64,
    count: AtomicU64,
}

/// The buckets' bounds in nanoseconds, for an integer comparison per bound.
const BOUNDS_NANOS: [u64; PLUGIN_CALL_BUCKETS.len()] = {
    let mut bounds = [0; PLUGIN_CALL_BUCKETS.len()];
    let mut i = 0;
    while i < bounds.len() {
        bounds[i] = (PLUGIN_CALL_BUCKETS[i] * 1e9 + 0.5) as u64;
        i += 1;
    }
    bounds
};

impl CallTimes {
    fn new() -> CallTimes {
        CallTimes {
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            sum_nanos: AtomicU64::new(0),
            count: AtomicU64::new(0),
        }
    }

    /// Counts a call that took `took`.
    pub fn record(&self, took: Duration) {
        let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        let bucket = BOUNDS_NANOS.partition_point(|bound| *bound < nanos);
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }
}

/// Every series by its labels `(plugin, world)`: a version replacing another keeps
/// counting in the same one, as the exporter's counters do.
static SERIES: Mutex<BTreeMap<(String, &'static str), Arc<CallTimes>>> = Mutex::new(BTreeMap::new());

fn series() -> std::sync::MutexGuard<'static, BTreeMap<(String, &'static str), Arc<CallTimes>>> {
    SERIES.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The series of plugin `plugin` in world `world`.
pub fn call_times(plugin: &str, world: &'static str) -> Arc<CallTimes> {
    series()
        .entry((plugin.to_owned(), world))
        .or_insert_with(|| Arc::new(CallTimes::new()))
        .clone()
}

/// Appends every series in the Prometheus text format.
pub fn render(out: &mut String) {
    let series = series();
    if series.is_empty() {
        return;
    }
    let name = PLUGIN_CALL_SECONDS;
    let _ = writeln!(
        out,
        "# HELP {name} How long plugin calls took, by plugin and world.\n# TYPE {name} histogram"
    );
    for ((plugin, world), times) in series.iter() {
        let labels = format!("plugin=\"{}\",world=\"{world}\"", escape(plugin));
        let mut cumulative = 0;
        for (bound, bucket) in PLUGIN_CALL_BUCKETS.iter().zip(&times.buckets) {
            cumulative += bucket.load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{bound}\"}} {cumulative}");
        }
        // Calls recorded while this reads may show in a bucket and not yet in `count`
        // (or the reverse): `+Inf` and `count` are one figure, as the format wants.
        let all = cumulative + times.buckets[PLUGIN_CALL_BUCKETS.len()].load(Ordering::Relaxed);
        let count = all.max(times.count.load(Ordering::Relaxed));
        let sum = times.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {count}");
        let _ = writeln!(out, "{name}_sum{{{labels}}} {sum}");
        let _ = writeln!(out, "{name}_count{{{labels}}} {count}");
    }
    out.push('\n');
}

/// A label value as the exposition format quotes it.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(times: &CallTimes) -> Vec<u64> {
        times.buckets.iter().map(|b| b.load(Ordering::Relaxed)).collect()
    }

    #[test]
    fn a_call_on_a_bound_counts_in_that_bucket_and_past_the_last_in_inf() {
        let times = CallTimes::new();
        times.record(Duration::from_micros(5));
        times.record(Duration::from_nanos(5_001));
        times.record(Duration::from_secs(3));
        times.record(Duration::MAX);
        let counts = counts(&times);
        assert_eq!((counts[0], counts[1]), (1, 1));
        assert_eq!(counts[PLUGIN_CALL_BUCKETS.len()], 2, "+Inf");
        assert_eq!(times.count.load(Ordering::Relaxed), 4);
        assert_eq!(BOUNDS_NANOS[0], 5_000);
        assert_eq!(BOUNDS_NANOS[PLUGIN_CALL_BUCKETS.len() - 1], 2_500_000_000);
    }

    #[test]
    fn label_values_are_quoted_as_the_format_wants() {
        assert_eq!(escape(r#"a"b\c"#), r#"a\"b\\c"#);
        assert_eq!(escape("x\ny"), "x\\ny");
    }
}
