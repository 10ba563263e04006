//! The `[plugins]` section: where plugins live, their default limits, per-plugin settings.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

/// WebAssembly plugins.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PluginsConfig {
    /// The folder watched for `NAME.wasm` (and optional `NAME.toml` manifests).
    /// Defaults to `plugins`.
    pub dir: PathBuf,
    /// Where compiled components are cached. Defaults to `$XDG_CACHE_HOME/portico`
    /// (or `~/.cache/portico`, or the temp dir).
    pub cache_dir: Option<PathBuf>,
    /// Whether the folder is watched and changed plugins reloaded. Defaults to `true`.
    pub watch: bool,
    /// Limits for plugins that set none of their own (`[plugins.limits]`).
    pub limits: PluginLimits,
    /// Per-plugin settings by plugin name; they override the plugin's manifest.
    pub settings: BTreeMap<String, PluginSettings>,
}

impl Default for PluginsConfig {
    fn default() -> PluginsConfig {
        PluginsConfig {
            dir: PathBuf::from("plugins"),
            cache_dir: None,
            watch: true,
            limits: PluginLimits::default(),
            settings: BTreeMap::new(),
        }
    }
}

impl PluginsConfig {
    /// The compile cache folder: `cache_dir`, else `$XDG_CACHE_HOME/portico`, else
    /// `~/.cache/portico`, else the temp dir.
    pub fn cache_dir(&self) -> PathBuf {
        if let Some(dir) = &self.cache_dir {
            return dir.clone();
        }
        if let Some(xdg) = std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
            return PathBuf::from(xdg).join("portico");
        }
        if let Some(home) = std::env::var_os("HOME").filter(|v| !v.is_empty()) {
            return PathBuf::from(home).join(".cache/portico");
        }
        std::env::temp_dir().join("portico-cache")
    }
}

/// Resource limits of one plugin's calls.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct PluginLimits {
    /// Guest running time allowed per call, in milliseconds. Defaults to 50.
    pub deadline_ms: u64,
    /// Linear memory one instance may use, in MiB. Defaults to 64.
    pub memory_mb: u64,
    /// Instances per plugin version besides each worker thread's own: the pool a
    /// call falls back on when its thread's instance is busy. Defaults to 16.
    pub pool_size: usize,
    /// `pooled` reuses warm instances (fast; state may leak between calls);
    /// `per-call` gives every call a fresh instance. Defaults to `pooled`.
    pub isolation: Isolation,
    /// A warm instance is replaced after this many calls. Defaults to 100 000.
    pub recycle_after_calls: u64,
    /// A warm instance whose linear memory grew past this many MiB is replaced after
    /// its call (a wasm memory never shrinks). Defaults to 16.
    pub recycle_memory_mb: u64,
    /// Keys one plugin may hold in the in-memory store at once (each plugin's keys
    /// are its own); a `kv-set` or `kv-incr` of a new key past it traps the call. On
    /// Redis the count is Redis's to bound (`maxmemory`). Defaults to 10 000.
    pub kv_max_keys: usize,
    /// Largest kv value or history entry a plugin may store, in bytes; a larger one
    /// traps the call. Defaults to 65 536.
    pub kv_max_value_bytes: usize,
}

impl Default for PluginLimits {
    fn default() -> PluginLimits {
        PluginLimits {
            deadline_ms: 50,
            memory_mb: 64,
            pool_size: 16,
            isolation: Isolation::Pooled,
            recycle_after_calls: 100_000,
            recycle_memory_mb: 16,
            kv_max_keys: 10_000,
            kv_max_value_bytes: 65_536,
        }
    }
}

/// How a plugin's calls share instances.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Isolation {
    /// A bounded pool of warm instances, one call at a time each.
    #[default]
    Pooled,
    /// A fresh instance for every call.
    PerCall,
}

/// One plugin's settings, from the gateway config or the plugin's manifest.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct PluginSettings {
    /// The events a handler plugin handles; empty means every event.
    pub events: Vec<String>,
    /// The plugin's own configuration, handed to it as JSON.
    pub config: Option<toml::Value>,
    /// Guest running time per call, in milliseconds, overriding the default.
    pub deadline_ms: Option<u64>,
    /// Memory per instance, in MiB, overriding the default.
    pub memory_mb: Option<u64>,
    /// Warm instances kept, overriding the default.
    pub pool_size: Option<usize>,
    /// Instance isolation, overriding the default.
    pub isolation: Option<Isolation>,
    /// Calls before a warm instance is replaced, overriding the default.
    pub recycle_after_calls: Option<u64>,
    /// Memory, in MiB, past which a warm instance is replaced, overriding the default.
    pub recycle_memory_mb: Option<u64>,
}
