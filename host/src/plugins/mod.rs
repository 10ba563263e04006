//! WebAssembly plugins: the contract in `wit/` hosted with wasmtime.
//!
//! # Layout
//! - [`bindings`]: generated bindings, one module per world.
//! - [`runtime`]: the engine, epoch ticker, compile cache and linkers.
//! - [`state`]: a store's data: limits, deadline ticks, the call's context and outbox.
//! - `imports`: the host side of `log`, `config`, `socket`, `sockets`, `store`, `presence`.
//! - [`instance`]: one plugin version with its pool of warm instances.
//! - `exports`: the typed call of each export (`on-event`, `validate`, `handle`, …).
//! - [`registry`]: the live set, loaded from the folder and swapped atomically.
//! - [`history`]: versions loaded and rejected, failed calls, for the operator.
//! - [`watcher`]: reloads what changes in the folder, debounced.
//! - [`pipeline`]: a namespace's guards → validators → handler → filters.
//! - [`http`]: an HTTP route served by an `http-handler` plugin.
//! - [`effects`]: what a successful call asked for, checked, then applied.
//! - [`payload`]: payloads (JSON and attachments) into a plugin, and checked out of one.
//! - [`check`] and [`scaffold`]: `portico plugins check` and `portico plugins new`.

pub mod bindings;
pub mod check;
pub mod effects;
mod exports;
pub mod history;
pub mod http;
mod imports;
pub mod instance;
pub mod payload;
pub mod pipeline;
pub mod registry;
pub mod runtime;
pub mod scaffold;
pub mod state;
pub mod watcher;

use std::time::Duration;

use crate::config::Isolation;

/// The plugin worlds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `handler-plugin`: reacts to connections and events.
    Handler,
    /// `validator-plugin`: checks and transforms payloads.
    Validator,
    /// `guard-plugin`: allows or refuses events.
    Guard,
    /// `filter-plugin`: shapes client errors.
    Filter,
    /// `http-handler-plugin`: serves HTTP routes.
    Http,
}

/// The version of `wit/` this gateway hosts; a plugin built against another is refused
/// with a message that says so.
pub const CONTRACT_VERSION: &str = "0.2.0";

impl Kind {
    /// The kind whose interface an export name like `portico:plugin/handler@0.2.0` is
    /// (whatever its version: [`contract_version`] tells it).
    pub fn from_export(name: &str) -> Option<Kind> {
        let iface = name.strip_prefix("portico:plugin/")?;
        let iface = iface.split('@').next()?;
        match iface {
            "handler" => Some(Kind::Handler),
            "validator" => Some(Kind::Validator),
            "guard" => Some(Kind::Guard),
            "filter" => Some(Kind::Filter),
            "http-handler" => Some(Kind::Http),
            _ => None,
        }
    }

    /// The world's name.
    pub fn world(self) -> &'static str {
        match self {
            Kind::Handler => "handler-plugin",
            Kind::Validator => "validator-plugin",
            Kind::Guard => "guard-plugin",
            Kind::Filter => "filter-plugin",
            Kind::Http => "http-handler-plugin",
        }
    }
}

/// The contract version of an export name like `portico:plugin/handler@0.2.0`.
pub fn contract_version(name: &str) -> Option<&str> {
    name.strip_prefix("portico:plugin/")?
        .split_once('@')
        .map(|(_, v)| v)
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.world())
    }
}

/// A plugin's effective settings: config, manifest and defaults merged.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Events a handler handles; empty means all.
    pub events: Vec<String>,
    /// The plugin's configuration as JSON, shared by every call's context.
    pub config_json: std::sync::Arc<str>,
    /// Guest running time per call.
    pub deadline: Duration,
    /// Linear memory per instance, in bytes.
    pub memory_bytes: usize,
    /// Instances of the fallback pool (alive at once, besides one per worker thread).
    pub pool_size: usize,
    /// Instance sharing.
    pub isolation: Isolation,
    /// Calls a warm instance serves before it is replaced.
    pub recycle_after_calls: u64,
    /// Linear memory, in bytes, past which a warm instance is replaced after its call.
    pub recycle_memory_bytes: usize,
}

/// Why a `.wasm` file was not loaded. The previous version, if any, keeps serving.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("cannot read: {0}")]
    Read(String),
    /// The manifest beside it is invalid.
    #[error("invalid manifest: {0}")]
    Manifest(String),
    /// The bytes are not a valid component.
    #[error("not a valid WebAssembly component: {0}")]
    Compile(String),
    /// The component does not match a Portico plugin world.
    #[error("does not match a portico:plugin world: {0}")]
    World(String),
    /// The engine itself could not be set up.
    #[error("plugin engine: {0}")]
    Engine(String),
}

/// Why a call into a plugin failed. Every variant reaches the client as
/// `INTERNAL_ERROR`; the detail is for the log.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CallError {
    /// The guest ran past its deadline (or took too long to instantiate).
    #[error("deadline exceeded")]
    Timeout,
    /// The guest tried to grow its memory past the cap.
    #[error("memory limit exceeded")]
    OutOfMemory,
    /// The guest trapped (a panic, an abort, an invalid operation).
    #[error("trapped: {0}")]
    Trap(String),
    /// A fresh instance could not be created.
    #[error("instantiation failed: {0}")]
    Instantiate(String),
    /// The call asked for more effects (emits, joins) than one call may.
    #[error("too many emits/joins in one call")]
    TooManyEffects,
    /// The plugin is not of the world the call needs.
    #[error("plugin is a {0}, not usable here")]
    WrongKind(Kind),
    /// The plugin is shutting down.
    #[error("plugin unavailable")]
    Unavailable,
}

impl From<&CallError> for crate::metrics::CallOutcome {
    fn from(err: &CallError) -> Self {
        use crate::metrics::CallOutcome;
        match err {
            CallError::Timeout => CallOutcome::Deadline,
            CallError::OutOfMemory => CallOutcome::Memory,
            CallError::Trap(_) => CallOutcome::Trap,
            CallError::TooManyEffects => CallOutcome::Effects,
            // No instance of the right world could serve the call.
            CallError::Instantiate(_) | CallError::WrongKind(_) | CallError::Unavailable => {
                CallOutcome::Instantiate
            }
        }
    }
}
