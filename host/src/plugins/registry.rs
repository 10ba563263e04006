//! The live plugin set: loads `NAME.wasm` (with its optional `NAME.toml` manifest)
//! from the plugins folder, compiles off the async workers, checks it against its
//! world, and swaps it in atomically. Calls in flight keep the version they started
//! with; a file that fails to load leaves the previous version serving.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;

use super::history::History;
use super::instance::Plugin;
use super::runtime::Runtime;
use super::state::CallContext;
use super::{LoadError, Settings};
use crate::config::{PluginSettings, PluginsConfig, is_plugin_name};
use crate::store::Store;

/// Most effects (emits, joins, leaves, disconnects) one call may request.
const MAX_EFFECTS: usize = 1024;

/// The plugins currently loaded, by name.
pub struct Registry {
    runtime: Runtime,
    /// The plugins folder (fixed for the registry's life).
    dir: PathBuf,
    /// Limits and per-plugin settings, read at each load; replaced by a config reload.
    config: ArcSwap<PluginsConfig>,
    store: Arc<dyn Store>,
    plugins: ArcSwap<HashMap<String, Arc<Plugin>>>,
    /// What happened to the plugins, for the operator's page.
    history: Arc<History>,
    /// The gateway's namespaces, set once they exist (they are built with the pipelines).
    /// Weak: the namespaces own their pipelines, which own this registry.
    namespaces: std::sync::OnceLock<crate::router::WeakNamespaces>,
}

impl Registry {
    /// An empty registry for the folder and limits in `config`.
    pub fn new(runtime: Runtime, config: PluginsConfig, store: Arc<dyn Store>) -> Registry {
        Registry {
            runtime,
            dir: config.dir.clone(),
            config: ArcSwap::from_pointee(config),
            store,
            plugins: ArcSwap::from_pointee(HashMap::new()),
            history: Arc::default(),
            namespaces: std::sync::OnceLock::new(),
        }
    }

    /// Gives plugins' presence lookups the gateway's namespaces.
    pub fn set_namespaces(&self, namespaces: &crate::router::Namespaces) {
        let _ = self.namespaces.set(namespaces.downgrade());
    }

    /// The gateway's namespaces (none before [`Registry::set_namespaces`], or once the
    /// gateway is gone).
    pub fn namespaces(&self) -> crate::router::Namespaces {
        self.live_namespaces().unwrap_or_default()
    }

    fn live_namespaces(&self) -> Option<crate::router::Namespaces> {
        self.namespaces
            .get()
            .and_then(crate::router::WeakNamespaces::upgrade)
    }

    /// What happened to the plugins: versions loaded and rejected, failed calls.
    pub fn history(&self) -> &History {
        &self.history
    }

    /// The current version of a plugin.
    pub fn get(&self, name: &str) -> Option<Arc<Plugin>> {
        self.plugins.load().get(name).cloned()
    }

    /// How many plugins are loaded.
    pub fn len(&self) -> usize {
        self.plugins.load().len()
    }

    /// Whether no plugin is loaded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Names of the loaded plugins.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.plugins.load().keys().cloned().collect();
        names.sort();
        names
    }

    /// The plugins folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Takes a reloaded `[plugins]` (its folder stays): returns the loaded plugins
    /// whose effective settings it may change, which the caller reloads
    /// ([`Registry::reload`]); until then their current versions serve.
    pub fn reconfigure(&self, config: PluginsConfig) -> Vec<String> {
        let previous = self.config.swap(Arc::new(config));
        let current = self.config.load();
        self.store.set_max_keys(current.limits.kv_max_keys);
        let all_changed = previous.limits != current.limits;
        self.names()
            .into_iter()
            .filter(|name| all_changed || previous.settings.get(name) != current.settings.get(name))
            .collect()
    }

    /// Loads every `*.wasm` in the folder; failures are logged and skipped.
    pub async fn load_all(&self) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            tracing::info!(dir = %self.dir.display(), "plugins folder not found; no plugins loaded");
            return;
        };
        let mut names: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| plugin_name(&e.path()))
            .collect();
        names.sort();
        for name in names {
            let _ = self.reload(&name).await;
        }
    }

    /// Loads (or reloads) `name` from the folder, or unloads it if its `.wasm` is gone.
    pub async fn reload(&self, name: &str) -> Result<(), LoadError> {
        let path = self.dir.join(format!("{name}.wasm"));
        if !path.exists() {
            self.unload(name);
            return Ok(());
        }
        let started = Instant::now();
        match self.load_file(name, &path).await {
            Ok(plugin) => {
                let plugin = Arc::new(plugin);
                // Serving first, then said: whoever reads "plugin loaded" (an operator, a
                // test) may send the next event at once, and it must reach this version.
                if let Some(previous) = self.swap(name, Some(plugin.clone())) {
                    previous.retire();
                }
                crate::metrics::plugin_reloaded(name, true);
                let ms = started.elapsed().as_millis() as u64;
                self.history.loaded(name, plugin.kind(), plugin.digest(), ms);
                tracing::info!(
                    plugin = name,
                    kind = %plugin.kind(),
                    digest = plugin.digest(),
                    ms = started.elapsed().as_millis() as u64,
                    "plugin loaded"
                );
                Ok(())
            }
            Err(err) => {
                crate::metrics::plugin_reloaded(name, false);
                self.history.rejected(name, &err.to_string());
                let serving = self.get(name).map(|p| p.digest().to_owned());
                tracing::error!(plugin = name, file = %path.display(), %err, ?serving, "plugin rejected; the previous version (if any) keeps serving");
                Err(err)
            }
        }
    }

    /// Removes a plugin; its events go unhandled from now on.
    pub fn unload(&self, name: &str) {
        if let Some(previous) = self.swap(name, None) {
            previous.retire();
            self.history.unloaded(name);
            tracing::info!(plugin = name, "plugin unloaded (file removed)");
        }
    }

    fn swap(&self, name: &str, plugin: Option<Arc<Plugin>>) -> Option<Arc<Plugin>> {
        let mut previous = None;
        self.plugins.rcu(|current| {
            let mut next = HashMap::clone(current);
            previous = match &plugin {
                Some(plugin) => next.insert(name.to_owned(), plugin.clone()),
                None => next.remove(name),
            };
            next
        });
        previous
    }

    async fn load_file(&self, name: &str, path: &Path) -> Result<Plugin, LoadError> {
        let bytes = tokio::fs::read(path)
            .await
            .map_err(|e| LoadError::Read(e.to_string()))?;
        let manifest = read_manifest(&path.with_extension("toml")).await?;
        let settings = self.resolve(name, manifest);
        let digest = digest(&bytes);
        let runtime = self.runtime.clone();
        let component = tokio::task::spawn_blocking(move || runtime.compile(&bytes))
            .await
            .map_err(|e| LoadError::Compile(e.to_string()))??;
        let probe = self.call_context(&name.into(), &settings);
        Plugin::prepare(&self.runtime, name, digest, &component, settings, probe).await
    }

    /// The effective settings: gateway config over manifest over defaults.
    fn resolve(&self, name: &str, manifest: PluginSettings) -> Settings {
        let plugins = self.config.load();
        let config = plugins.settings.get(name).cloned().unwrap_or_default();
        let limits = &plugins.limits;
        let events = if config.events.is_empty() {
            manifest.events
        } else {
            config.events
        };
        let plugin_config = config.config.or(manifest.config);
        Settings {
            events,
            config_json: plugin_config
                .and_then(|v| serde_json::to_string(&v).ok())
                .map_or_else(|| "{}".into(), Into::into),
            deadline: Duration::from_millis(
                config
                    .deadline_ms
                    .or(manifest.deadline_ms)
                    .unwrap_or(limits.deadline_ms),
            ),
            memory_bytes: (config
                .memory_mb
                .or(manifest.memory_mb)
                .unwrap_or(limits.memory_mb) as usize)
                << 20,
            pool_size: config
                .pool_size
                .or(manifest.pool_size)
                .unwrap_or(limits.pool_size)
                .max(1),
            isolation: config
                .isolation
                .or(manifest.isolation)
                .unwrap_or(limits.isolation),
            recycle_after_calls: config
                .recycle_after_calls
                .or(manifest.recycle_after_calls)
                .unwrap_or(limits.recycle_after_calls)
                .max(1),
            recycle_memory_bytes: (config
                .recycle_memory_mb
                .or(manifest.recycle_memory_mb)
                .unwrap_or(limits.recycle_memory_mb) as usize)
                << 20,
        }
    }

    /// The context every instance of a version of `plugin` is made with.
    fn call_context(&self, plugin: &Arc<str>, settings: &Settings) -> CallContext {
        CallContext {
            plugin: plugin.clone(),
            config_json: settings.config_json.clone(),
            store: self.store.clone(),
            max_effects: MAX_EFFECTS,
            kv_max_value_bytes: self.config.load().limits.kv_max_value_bytes,
            namespaces: self.namespaces.get().cloned().unwrap_or_default(),
            history: self.history.clone(),
        }
    }
}

/// The plugin name of a `NAME.wasm` path, if it is one.
pub fn plugin_name(path: &Path) -> Option<String> {
    if path.extension()? != "wasm" {
        return None;
    }
    let stem = path.file_stem()?.to_str()?;
    is_plugin_name(stem).then(|| stem.to_owned())
}

async fn read_manifest(path: &PathBuf) -> Result<PluginSettings, LoadError> {
    match tokio::fs::read_to_string(path).await {
        Ok(text) => {
            toml::from_str(&text).map_err(|e| LoadError::Manifest(format!("{}: {e}", path.display())))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(PluginSettings::default()),
        Err(e) => Err(LoadError::Manifest(format!("{}: {e}", path.display()))),
    }
}

/// A short, stable identifier of a file's bytes (not a security hash).
fn digest(bytes: &[u8]) -> String {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut hasher);
    format!("{:016x}", hasher.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plugin_wasm_files_count() {
        assert_eq!(plugin_name(Path::new("/p/chat.wasm")).as_deref(), Some("chat"));
        assert_eq!(
            plugin_name(Path::new("/p/dto-validator.wasm")).as_deref(),
            Some("dto-validator")
        );
        assert_eq!(plugin_name(Path::new("/p/chat.toml")), None);
        assert_eq!(plugin_name(Path::new("/p/.chat.wasm.swp")), None);
        assert_eq!(plugin_name(Path::new("/p/chat.wasm.tmp")), None);
        assert_eq!(plugin_name(Path::new("/p/my plugin.wasm")), None);
    }
}
