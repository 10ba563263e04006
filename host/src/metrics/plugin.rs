//! A plugin version's series, registered once when it is loaded.

use std::sync::Arc;
use std::time::Duration;

use metrics::{Counter, counter};

use super::histogram::{CallTimes, call_times};

use super::names::*;

/// How a plugin call ended, as the `error` label spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallOutcome {
    /// It returned.
    Ok,
    /// It trapped.
    Trap,
    /// It ran past its deadline.
    Deadline,
    /// It grew its memory past the cap.
    Memory,
    /// No instance could be made for it.
    Instantiate,
    /// It asked for more effects than a call may.
    Effects,
}

/// The handles of one plugin version's series (labels `plugin`, `world`).
#[derive(Debug)]
pub struct PluginMetrics {
    calls: Counter,
    latency: Arc<CallTimes>,
    trap: Counter,
    deadline: Counter,
    memory: Counter,
    instantiate: Counter,
    effects: Counter,
}

impl PluginMetrics {
    /// Registers the series of plugin `name` of world `world`.
    pub fn new(name: &str, world: &'static str) -> PluginMetrics {
        let labels = || [("plugin", name.to_owned()), ("world", world.to_owned())];
        let error = |kind: &'static str| {
            let [plugin, world] = labels();
            counter!(PLUGIN_ERRORS_TOTAL, &[plugin, world, ("error", kind.to_owned())])
        };
        PluginMetrics {
            calls: counter!(PLUGIN_CALLS_TOTAL, &labels()),
            latency: call_times(name, world),
            trap: error("trap"),
            deadline: error("deadline"),
            memory: error("memory"),
            instantiate: error("instantiate"),
            effects: error("effects"),
        }
    }

    /// Counts a call that took `took` and ended as `outcome`.
    pub fn call(&self, took: Duration, outcome: CallOutcome) {
        self.calls.increment(1);
        self.latency.record(took);
        let failed = match outcome {
            CallOutcome::Ok => return,
            CallOutcome::Trap => &self.trap,
            CallOutcome::Deadline => &self.deadline,
            CallOutcome::Memory => &self.memory,
            CallOutcome::Instantiate => &self.instantiate,
            CallOutcome::Effects => &self.effects,
        };
        failed.increment(1);
    }
}
