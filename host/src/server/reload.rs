//! Live config reload: a new config applied to the running gateway, no client dropped.
//!
//! What a reload changes at once: `[limits]` (event budgets and token-expiry timers
//! only for sockets that connect after it), `[cors]`, `[api]`, `[http]`, `[auth]` (key
//! files are re-read on every reload, changed or not), `[engineio]` and `[socketio]`
//! for connections opened after it, each namespace's `auth`, `presence`, `ack_errors`
//! and plugin chain, and `[plugins.limits]` / `[plugins.settings]` (the plugins whose
//! effective settings they change are reloaded).
//!
//! What needs a restart keeps its running value, and the reload names it in the log:
//! the listener (`server.*`), the native endpoint's `enabled` and `path`, `[cluster]`,
//! `[admin_ui]`,
//! the plugins folder, cache and watch switch, the set of namespaces, a namespace's
//! built-in handler or its switch between a built-in handler and plugins, and plugin
//! routes on a gateway started without plugins.

use std::sync::Arc;

use super::{Gateway, namespace_options, verifier_for};
use crate::auth::AuthSetupError;
use crate::config::{Config, ConfigError};
use crate::engineio::EngineConfig;
use crate::native::NativeConfig;
use crate::socketio::SocketIoConfig;

/// What a reload did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReloadReport {
    /// The sections whose values changed, now in force (`limits`, `namespaces."/chat"`).
    pub changed: Vec<String>,
    /// The keys that changed but take effect only on restart; their running values stay.
    pub needs_restart: Vec<String>,
    /// Plugins reloaded because their settings changed, and whether each one loaded
    /// (one that failed keeps its previous version serving).
    pub plugins: Vec<(String, bool)>,
}

impl ReloadReport {
    /// Writes the report to the log: one line of what changed, one warning naming
    /// what waits for a restart.
    pub fn log(&self) {
        if !self.needs_restart.is_empty() {
            tracing::warn!(
                keys = ?self.needs_restart,
                "config reload: these keys change only on restart; their running values stay"
            );
        }
        tracing::info!(changed = ?self.changed, plugins = ?self.plugins, "config reloaded");
    }
}

/// Why a reloaded config was not applied (the running one stays, whole).
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// The config does not validate.
    #[error("{0}")]
    Invalid(#[from] ConfigError),
    /// The `[auth]` keys do not load.
    #[error("{0}")]
    Auth(#[from] AuthSetupError),
}

impl Gateway {
    /// Applies `new` to the running gateway: every live setting at once, what needs a
    /// restart named in the report and kept as it runs. A config that does not
    /// validate, or whose auth keys do not load, changes nothing. Reloads run one at a
    /// time. The HTTP routes and CORS are the accept loop's to swap (see
    /// [`super::serve`]): build them from [`Gateway::config`] afterwards.
    pub async fn reload(&self, new: Config) -> Result<ReloadReport, ReloadError> {
        let result = self.apply(new).await;
        crate::metrics::config_reloaded(result.is_ok());
        result
    }

    async fn apply(&self, new: Config) -> Result<ReloadReport, ReloadError> {
        new.validate()?;
        let _one_at_a_time = self.reloading.lock().await;
        let running = self.config();
        let has_plugins = self.registry.is_some();
        let needs_restart = needs_restart(&running, &new, has_plugins);
        let config = effective(&running, new, has_plugins);
        // The one step that can fail, before anything changes.
        let verifier = verifier_for(&config)?;
        let changed = changed_sections(&running, &config);

        self.connections.reconfigure(&config.limits);
        self.engine
            .reconfigure(EngineConfig::from_config(&config, self.connections.clone()));
        self.engine
            .handler()
            .reconfigure(SocketIoConfig::from_config(&config));
        self.native
            .reconfigure(NativeConfig::from_config(&config, self.connections.clone()));
        for (name, ns) in &config.namespaces {
            if let Some(namespace) = self.namespaces.get(name) {
                namespace.reconfigure(namespace_options(ns, &config, &verifier));
            }
            if let Some(pipeline) = self.pipelines.get(name) {
                pipeline.reconfigure(ns, config.engineio.max_payload);
            }
        }
        self.http
            .store(Arc::new(super::HttpSettings::from_config(&config)));
        let mut plugins = Vec::new();
        if let Some(registry) = &self.registry {
            for name in registry.reconfigure(config.plugins.clone()) {
                let loaded = registry.reload(&name).await.is_ok();
                plugins.push((name, loaded));
            }
        }
        self.config.store(Arc::new(config));
        Ok(ReloadReport {
            changed,
            needs_restart,
            plugins,
        })
    }
}

/// The keys `new` changes that only a restart applies.
fn needs_restart(running: &Config, new: &Config, has_plugins: bool) -> Vec<String> {
    let mut keys = Vec::new();
    let mut differs = |key: &str, changed: bool| {
        if changed {
            keys.push(key.to_owned());
        }
    };
    differs("server.listen", running.server.listen != new.server.listen);
    differs("server.backlog", running.server.backlog != new.server.backlog);
    differs("server.path", running.server.path != new.server.path);
    differs("native.enabled", running.native.enabled != new.native.enabled);
    differs("native.path", running.native.path != new.native.path);
    differs("cluster", running.cluster != new.cluster);
    differs("admin_ui", running.admin_ui != new.admin_ui);
    differs(
        "socketio.recovery",
        running.socketio.recovery != new.socketio.recovery,
    );
    differs("plugins.dir", running.plugins.dir != new.plugins.dir);
    differs(
        "plugins.cache_dir",
        running.plugins.cache_dir != new.plugins.cache_dir,
    );
    differs("plugins.watch", running.plugins.watch != new.plugins.watch);
    if !has_plugins {
        differs("http.routes", running.http.routes != new.http.routes);
    }
    for name in running
        .namespaces
        .keys()
        .filter(|n| !new.namespaces.contains_key(*n))
    {
        keys.push(format!("namespaces.\"{name}\" (removed)"));
    }
    for (name, ns) in &new.namespaces {
        match running.namespaces.get(name) {
            None => keys.push(format!("namespaces.\"{name}\" (added)")),
            Some(old) if old.uses_plugins() != ns.uses_plugins() => {
                keys.push(format!("namespaces.\"{name}\" (built-in handler or plugins)"));
            }
            Some(old) if !ns.uses_plugins() && old.handler != ns.handler => {
                keys.push(format!("namespaces.\"{name}\".handler"));
            }
            Some(old) if old.recovery != ns.recovery => {
                keys.push(format!("namespaces.\"{name}\".recovery"));
            }
            Some(_) => {}
        }
    }
    keys
}

/// `new` with everything only a restart changes kept as `running` has it.
fn effective(running: &Config, mut new: Config, has_plugins: bool) -> Config {
    new.server = running.server.clone();
    new.native = running.native.clone();
    new.cluster = running.cluster.clone();
    new.admin_ui = running.admin_ui.clone();
    new.socketio.recovery = running.socketio.recovery.clone();
    new.plugins.dir = running.plugins.dir.clone();
    new.plugins.cache_dir = running.plugins.cache_dir.clone();
    new.plugins.watch = running.plugins.watch;
    if !has_plugins {
        new.http.routes = running.http.routes.clone();
    }
    let mut offered = std::mem::take(&mut new.namespaces);
    new.namespaces = running
        .namespaces
        .iter()
        .map(|(name, old)| {
            let ns = match offered.remove(name) {
                Some(ns) if ns.uses_plugins() == old.uses_plugins() => {
                    if ns.uses_plugins() || ns.handler == old.handler {
                        ns
                    } else {
                        crate::config::NamespaceConfig {
                            handler: old.handler,
                            ..ns
                        }
                    }
                }
                _ => old.clone(),
            };
            // Its adapter was made with or without a journal.
            let ns = crate::config::NamespaceConfig {
                recovery: old.recovery,
                ..ns
            };
            (name.clone(), ns)
        })
        .collect();
    new
}

/// The sections `config` changes from `running`, by name.
fn changed_sections(running: &Config, config: &Config) -> Vec<String> {
    let mut sections: Vec<String> = [
        ("engineio", running.engineio != config.engineio),
        ("socketio", running.socketio != config.socketio),
        ("cors", running.cors != config.cors),
        ("limits", running.limits != config.limits),
        ("auth", running.auth != config.auth),
        ("plugins.limits", running.plugins.limits != config.plugins.limits),
        (
            "plugins.settings",
            running.plugins.settings != config.plugins.settings,
        ),
        ("http", running.http != config.http),
        ("api", running.api != config.api),
    ]
    .into_iter()
    .filter(|(_, changed)| *changed)
    .map(|(name, _)| name.to_owned())
    .collect();
    for (name, ns) in &config.namespaces {
        if running.namespaces.get(name) != Some(ns) {
            sections.push(format!("namespaces.\"{name}\""));
        }
    }
    sections
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn config(text: &str) -> Config {
        let config = Config::from_toml(text, Path::new("test.toml")).expect("parses");
        config.validate().expect("valid");
        config
    }

    const RUNNING: &str = r#"
        [server]
        listen = "127.0.0.1:3000"
        [limits]
        events_per_second = 200
        [namespaces."/"]
        handler = "echo"
        [namespaces."/chat"]
        plugins = ["chat"]
    "#;

    #[test]
    fn an_unchanged_config_changes_nothing() {
        let running = config(RUNNING);
        assert!(needs_restart(&running, &running, true).is_empty());
        assert!(changed_sections(&running, &effective(&running, running.clone(), true)).is_empty());
    }

    #[test]
    fn live_sections_apply_and_are_named() {
        let running = config(RUNNING);
        let text = RUNNING
            .replace("events_per_second = 200", "events_per_second = 5")
            .replace("plugins = [\"chat\"]", "plugins = [\"chat\"]\nack_errors = true");
        let new = config(&(text + "\n[cors]\norigins = [\"https://app.example\"]\n"));
        assert!(needs_restart(&running, &new, true).is_empty());
        let applied = effective(&running, new, true);
        assert_eq!(applied.limits.events_per_second, 5);
        assert!(applied.namespaces["/chat"].ack_errors);
        assert_eq!(
            changed_sections(&running, &applied),
            ["cors", "limits", "namespaces.\"/chat\""]
        );
    }

    #[test]
    fn what_needs_a_restart_is_named_and_keeps_its_running_value() {
        let running = config(RUNNING);
        let new = config(
            r#"
            [server]
            listen = "127.0.0.1:4000"
            [cluster]
            adapter = "redis"
            redis_url = "redis://127.0.0.1:1"
            [namespaces."/"]
            handler = "none"
            [namespaces."/chat"]
            handler = "echo"
            [namespaces."/new"]
            "#,
        );
        assert_eq!(
            needs_restart(&running, &new, true),
            [
                "server.listen",
                "cluster",
                "namespaces.\"/\".handler",
                "namespaces.\"/chat\" (built-in handler or plugins)",
                "namespaces.\"/new\" (added)",
            ]
        );
        let applied = effective(&running, new, true);
        assert_eq!(applied.server.listen, running.server.listen);
        assert_eq!(applied.cluster, running.cluster);
        assert_eq!(
            applied.namespaces, running.namespaces,
            "same namespaces, same handlers"
        );
        assert!(changed_sections(&running, &applied).is_empty());
    }

    #[test]
    fn a_removed_namespace_stays_and_plugin_routes_need_plugins_at_start() {
        let running = config("[namespaces.\"/\"]\n[namespaces.\"/gone\"]\n");
        let new = config("[namespaces.\"/\"]\n[http.routes]\n\"GET /hello\" = \"hello\"\n");
        assert_eq!(
            needs_restart(&running, &new, false),
            ["http.routes", "namespaces.\"/gone\" (removed)"]
        );
        let applied = effective(&running, new.clone(), false);
        assert!(applied.namespaces.contains_key("/gone"));
        assert!(applied.http.routes.is_empty());
        assert_eq!(
            needs_restart(&running, &new, true),
            ["namespaces.\"/gone\" (removed)"]
        );
        assert_eq!(effective(&running, new, true).http.routes.len(), 1);
    }

    #[test]
    fn a_namespace_keeps_its_handler_but_takes_its_other_settings() {
        let running = config("[namespaces.\"/\"]\nhandler = \"echo\"\n");
        let new = config("[namespaces.\"/\"]\nhandler = \"none\"\nack_errors = true\n");
        let applied = effective(&running, new, false);
        assert_eq!(applied.namespaces["/"].handler, running.namespaces["/"].handler);
        assert!(applied.namespaces["/"].ack_errors);
    }
}
