//! What happened to the plugins, for the operator's page (`/admin/plugins`): each
//! version offered (loaded, rejected and why, unloaded) and the recent failed calls.
//! Bounded: the newest [`KEEP_RELOADS`] and [`KEEP_FAULTS`] are kept.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::time::SystemTime;

use serde::Serialize;

use super::Kind;

/// Reloads kept.
pub const KEEP_RELOADS: usize = 200;
/// Failed calls kept.
pub const KEEP_FAULTS: usize = 100;

/// The plugins' history. A std mutex: one push per reload or failed call.
#[derive(Debug, Default)]
pub struct History(Mutex<Inner>);

#[derive(Debug, Default)]
struct Inner {
    serving: BTreeMap<String, Version>,
    reloads: VecDeque<Reload>,
    faults: VecDeque<Fault>,
}

/// A version serving now.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Version {
    /// The plugin.
    pub plugin: String,
    /// Its world.
    pub world: String,
    /// Its file's digest, as the log shows it.
    pub digest: String,
    /// When it was loaded.
    #[serde(serialize_with = "iso")]
    pub loaded_at: SystemTime,
}

/// One version offered by the folder.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Reload {
    /// The plugin.
    pub plugin: String,
    /// When.
    #[serde(serialize_with = "iso")]
    pub at: SystemTime,
    /// `loaded`, `rejected` or `unloaded`.
    pub outcome: &'static str,
    /// The loaded version's digest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// Why it was rejected (the previous version, if any, kept serving).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// How long compiling and checking took, in milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ms: Option<u64>,
}

/// A call that failed (trap, deadline, memory, too many effects, no instance).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Fault {
    /// The plugin.
    pub plugin: String,
    /// Its world.
    pub world: String,
    /// When.
    #[serde(serialize_with = "iso")]
    pub at: SystemTime,
    /// What went wrong.
    pub error: String,
}

/// Everything, newest first.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Snapshot {
    /// The versions serving, by plugin name.
    pub plugins: Vec<Version>,
    /// The versions offered, newest first.
    pub reloads: Vec<Reload>,
    /// The failed calls, newest first.
    pub faults: Vec<Fault>,
}

impl History {
    /// `plugin`'s version `digest` (a `kind`) serves from now on.
    pub fn loaded(&self, plugin: &str, kind: Kind, digest: &str, ms: u64) {
        let at = SystemTime::now();
        let mut inner = self.inner();
        inner.serving.insert(
            plugin.to_owned(),
            Version {
                plugin: plugin.to_owned(),
                world: kind.to_string(),
                digest: digest.to_owned(),
                loaded_at: at,
            },
        );
        inner.reload(Reload {
            plugin: plugin.to_owned(),
            at,
            outcome: "loaded",
            digest: Some(digest.to_owned()),
            error: None,
            ms: Some(ms),
        });
    }

    /// A version of `plugin` was refused for `error`.
    pub fn rejected(&self, plugin: &str, error: &str) {
        self.inner().reload(Reload {
            plugin: plugin.to_owned(),
            at: SystemTime::now(),
            outcome: "rejected",
            digest: None,
            error: Some(error.to_owned()),
            ms: None,
        });
    }

    /// `plugin` was removed.
    pub fn unloaded(&self, plugin: &str) {
        let mut inner = self.inner();
        inner.serving.remove(plugin);
        inner.reload(Reload {
            plugin: plugin.to_owned(),
            at: SystemTime::now(),
            outcome: "unloaded",
            digest: None,
            error: None,
            ms: None,
        });
    }

    /// A call to `plugin` failed with `error`.
    pub fn fault(&self, plugin: &str, kind: Kind, error: &str) {
        let mut inner = self.inner();
        if inner.faults.len() == KEEP_FAULTS {
            inner.faults.pop_front();
        }
        inner.faults.push_back(Fault {
            plugin: plugin.to_owned(),
            world: kind.to_string(),
            at: SystemTime::now(),
            error: error.to_owned(),
        });
    }

    /// What is serving, and what happened, newest first.
    pub fn snapshot(&self) -> Snapshot {
        let inner = self.inner();
        Snapshot {
            plugins: inner.serving.values().cloned().collect(),
            reloads: inner.reloads.iter().rev().cloned().collect(),
            faults: inner.faults.iter().rev().cloned().collect(),
        }
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Inner {
    fn reload(&mut self, reload: Reload) {
        if self.reloads.len() == KEEP_RELOADS {
            self.reloads.pop_front();
        }
        self.reloads.push_back(reload);
    }
}

fn iso<S: serde::Serializer>(at: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&crate::admin::wire::iso(*at))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_keeps_what_serves_and_the_newest_events_first() {
        let history = History::default();
        history.loaded("chat", Kind::Handler, "aaaa", 12);
        history.rejected("chat", "not a component");
        history.loaded("chat", Kind::Handler, "bbbb", 9);
        history.loaded("guard", Kind::Guard, "cccc", 3);
        history.unloaded("guard");
        history.fault("chat", Kind::Handler, "deadline exceeded");
        let snapshot = history.snapshot();
        assert_eq!(snapshot.plugins.len(), 1);
        assert_eq!(snapshot.plugins[0].digest, "bbbb");
        let outcomes: Vec<_> = snapshot
            .reloads
            .iter()
            .map(|r| (r.plugin.as_str(), r.outcome))
            .collect();
        assert_eq!(
            outcomes,
            [
                ("guard", "unloaded"),
                ("guard", "loaded"),
                ("chat", "loaded"),
                ("chat", "rejected"),
                ("chat", "loaded")
            ]
        );
        assert_eq!(snapshot.reloads[3].error.as_deref(), Some("not a component"));
        assert_eq!(snapshot.faults[0].error, "deadline exceeded");
        let json = serde_json::to_value(&snapshot).expect("json");
        assert_eq!(json["reloads"][3]["outcome"], "rejected");
        assert!(json["reloads"][3].get("digest").is_none());
    }

    #[test]
    fn it_is_bounded() {
        let history = History::default();
        for i in 0..KEEP_RELOADS + 10 {
            history.rejected("p", &i.to_string());
            history.fault("p", Kind::Handler, &i.to_string());
        }
        let snapshot = history.snapshot();
        assert_eq!(snapshot.reloads.len(), KEEP_RELOADS);
        assert_eq!(snapshot.faults.len(), KEEP_FAULTS);
        assert_eq!(
            snapshot.reloads[0].error.as_deref(),
            Some(&*(KEEP_RELOADS + 9).to_string())
        );
    }
}
