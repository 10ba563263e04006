//! Portico's configuration: one plain struct with defaults that serve with no file at
//! all.
//!
//! Loading is three phases: parse the TOML, expand `${VAR}` / `${VAR:-default}` in
//! every string (see [`env`]), deserialize with the failing key's path, then
//! [`Config::validate`] once. Nothing else in the gateway holds a tunable number.
//! What needs the gateway's own libraries to check (that the auth keys load, that the
//! Redis URL parses) the gateway checks after this (`portico::config::load`).

mod admin;
mod auth;
mod cluster;
mod env;
mod http;
mod limits;
mod plugins;
mod recovery;
mod validate;
mod websocket;

pub use admin::{ADMIN_UI_PATH, AdminMode, AdminUiConfig};
pub use auth::{AuthConfig, AuthMode, TokenSource};
pub use cluster::{AdapterKind, ClusterConfig, REDIS_URL_ENV};
pub use http::{ApiConfig, HttpConfig, PluginRoute};
pub use limits::LimitsConfig;
pub use plugins::{Isolation, PluginLimits, PluginSettings, PluginsConfig};
pub use recovery::RecoveryConfig;
pub use websocket::{CompressionConfig, WebsocketConfig};

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The IO error.
        source: std::io::Error,
    },
    /// The file is not valid TOML.
    #[error("{path} is not valid TOML: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// The parser's message, with line and column.
        message: String,
    },
    /// A key has a value of the wrong type, or is unknown.
    #[error("config key `{key}`: {message}")]
    Key {
        /// The dotted path of the key.
        key: String,
        /// What is wrong with it.
        message: String,
    },
    /// A `${VAR}` names a variable that is not set and has no default.
    #[error(
        "config key `{key}`: environment variable `{var}` is not set (write `${{{var}:-default}}` to give a default)"
    )]
    MissingEnv {
        /// The dotted path of the key.
        key: String,
        /// The variable.
        var: String,
    },
    /// A value parsed but is not acceptable.
    #[error("config key `{key}`: {reason}")]
    Invalid {
        /// The dotted path of the key.
        key: String,
        /// Why the value is refused.
        reason: String,
    },
}

/// The whole gateway configuration.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Listener settings.
    pub server: ServerConfig,
    /// Engine.IO transport settings.
    pub engineio: EngineIoConfig,
    /// Socket.IO settings.
    pub socketio: SocketIoConfig,
    /// Cross-origin access for browsers.
    pub cors: CorsConfig,
    /// The plain WebSocket endpoint with `{event, data}` framing.
    pub native: NativeConfig,
    /// What both WebSocket paths share: permessage-deflate.
    pub websocket: WebsocketConfig,
    /// Per-connection resource limits.
    pub limits: LimitsConfig,
    /// JWT verification for namespaces with `auth` set.
    pub auth: AuthConfig,
    /// WebAssembly plugins: where they live and their default limits.
    pub plugins: PluginsConfig,
    /// HTTP routes served by plugins.
    pub http: HttpConfig,
    /// The operator API and its key.
    pub api: ApiConfig,
    /// One node, or several sharing a Redis.
    pub cluster: ClusterConfig,
    /// The Socket.IO Admin UI, when the section is present.
    pub admin_ui: Option<AdminUiConfig>,
    /// Namespaces by name (`"/"`, `"/chat"`). Defaults to `/` with the `echo` handler.
    pub namespaces: BTreeMap<String, NamespaceConfig>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            server: ServerConfig::default(),
            engineio: EngineIoConfig::default(),
            socketio: SocketIoConfig::default(),
            cors: CorsConfig::default(),
            native: NativeConfig::default(),
            websocket: WebsocketConfig::default(),
            limits: LimitsConfig::default(),
            auth: AuthConfig::default(),
            plugins: PluginsConfig::default(),
            http: HttpConfig::default(),
            api: ApiConfig::default(),
            cluster: ClusterConfig::default(),
            admin_ui: None,
            namespaces: BTreeMap::from([("/".to_owned(), NamespaceConfig::default())]),
        }
    }
}

/// Listener settings.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to listen on. Defaults to `127.0.0.1:3000`.
    pub listen: SocketAddr,
    /// Pending-connection backlog passed to `listen(2)`. Defaults to 4096.
    pub backlog: u32,
    /// Path of the Socket.IO endpoint. Defaults to `/socket.io/`.
    pub path: String,
}

impl Default for ServerConfig {
    fn default() -> ServerConfig {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 3000)),
            backlog: 4096,
            path: "/socket.io/".to_owned(),
        }
    }
}

/// Engine.IO transport settings.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EngineIoConfig {
    /// Milliseconds between server pings. Defaults to 25 000.
    pub ping_interval_ms: u64,
    /// Milliseconds to wait for a pong before closing. Defaults to 20 000.
    pub ping_timeout_ms: u64,
    /// Largest message or polling body accepted, in bytes. Defaults to 1 000 000.
    pub max_payload: usize,
    /// Milliseconds a polling session may take to finish a WebSocket upgrade. Defaults to 10 000.
    pub upgrade_timeout_ms: u64,
}

impl Default for EngineIoConfig {
    fn default() -> EngineIoConfig {
        EngineIoConfig {
            ping_interval_ms: 25_000,
            ping_timeout_ms: 20_000,
            max_payload: 1_000_000,
            upgrade_timeout_ms: 10_000,
        }
    }
}

impl EngineIoConfig {
    /// The ping interval as a duration.
    pub fn ping_interval(&self) -> Duration {
        Duration::from_millis(self.ping_interval_ms)
    }

    /// The ping timeout as a duration.
    pub fn ping_timeout(&self) -> Duration {
        Duration::from_millis(self.ping_timeout_ms)
    }

    /// The upgrade timeout as a duration.
    pub fn upgrade_timeout(&self) -> Duration {
        Duration::from_millis(self.upgrade_timeout_ms)
    }
}

/// Socket.IO settings.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SocketIoConfig {
    /// Milliseconds a new connection has to join a namespace before it is closed. Defaults to 45 000.
    pub connect_timeout_ms: u64,
    /// Most binary attachments one packet may announce. Defaults to 64.
    pub max_attachments: usize,
    /// Connection state recovery, when the section is present: see [`RecoveryConfig`].
    pub recovery: Option<RecoveryConfig>,
}

impl Default for SocketIoConfig {
    fn default() -> SocketIoConfig {
        SocketIoConfig {
            connect_timeout_ms: 45_000,
            max_attachments: 64,
            recovery: None,
        }
    }
}

impl SocketIoConfig {
    /// The connect timeout as a duration.
    pub fn connect_timeout(&self) -> Duration {
        Duration::from_millis(self.connect_timeout_ms)
    }
}

/// Cross-origin access for browsers.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CorsConfig {
    /// Allowed origins (`https://app.example.com`), or `["*"]` for any. Defaults to none:
    /// no CORS headers, so only same-origin pages connect.
    pub origins: Vec<String>,
    /// Whether browsers may send cookies and credentials. Defaults to `false`.
    pub credentials: bool,
}

/// The plain WebSocket endpoint.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NativeConfig {
    /// Whether the endpoint is served. Defaults to `true`.
    pub enabled: bool,
    /// Its path; `PATH` joins namespace `/`, `PATH/NAME` joins `/NAME`. Defaults to `/ws`.
    pub path: String,
}

impl Default for NativeConfig {
    fn default() -> NativeConfig {
        NativeConfig {
            enabled: true,
            path: "/ws".to_owned(),
        }
    }
}

/// One namespace.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NamespaceConfig {
    /// `none`, `optional` or `required`: whether a verified JWT is needed to connect
    /// (see `[auth]`). Defaults to `none`.
    pub auth: AuthMode,
    /// The built-in behaviour handling its events when no plugin is listed. Defaults to `echo`.
    pub handler: BuiltinHandler,
    /// Handler plugins, tried in order for each event (see their `events`). Defaults to none.
    pub plugins: Vec<String>,
    /// Guard plugins, run in order before the events in `guard_events` (and at connect
    /// with `guard_connect`). Defaults to none.
    pub guards: Vec<String>,
    /// The events the guards check; empty means every event. Defaults to empty.
    pub guard_events: Vec<String>,
    /// Also run the guards when a socket connects (event `connect`, payload the CONNECT
    /// `auth`); a refusal is a CONNECT_ERROR. Defaults to `false`.
    pub guard_connect: bool,
    /// Validator plugins per event name, run in order after the guards. Defaults to none.
    pub validators: BTreeMap<String, Vec<String>>,
    /// Exception-filter plugins, tried in order on any error. Defaults to none: the
    /// client receives `{message, code}` as an `error` event.
    pub filters: Vec<String>,
    /// Also answer a failed event's ack with `{error: {message, code}}`. Defaults to `false`
    /// (NestJS behaviour: the error event only).
    pub ack_errors: bool,
    /// Emit the seed's presence events (needs `auth`): `user_online {userId, username}`
    /// to every socket of the namespace (the new one included) each time a verified user
    /// connects, and `user_offline` to those left when the user's last socket leaves.
    /// `userId` and `username` are the token's `sub` and `username` claims. Defaults to
    /// `false`.
    pub presence: bool,
    /// `false` keeps connection state recovery off here while `[socketio.recovery]`
    /// turns it on for the other namespaces. Unset (the default): on with the section.
    pub recovery: Option<bool>,
}

impl NamespaceConfig {
    /// Whether it recovers connection state, given the `[socketio.recovery]` section.
    pub fn recovers<'c>(&self, section: Option<&'c RecoveryConfig>) -> Option<&'c RecoveryConfig> {
        section.filter(|_| self.recovery != Some(false))
    }

    /// Whether plugins serve this namespace (rather than a built-in handler).
    pub fn uses_plugins(&self) -> bool {
        !self.plugins.is_empty()
            || !self.guards.is_empty()
            || !self.validators.is_empty()
            || !self.filters.is_empty()
    }
}

/// Built-in event handlers, until plugins handle events.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BuiltinHandler {
    /// Acks every event with its arguments, echoes unacknowledged events to the sender,
    /// and offers room and broadcast commands (see the README).
    #[default]
    Echo,
    /// What the official Socket.IO protocol test suite expects of its server.
    Conformance,
    /// The benchmark's `echo`, `join` and `bcast` events (see `bench/README.md`).
    Bench,
    /// Accepts connections and ignores every event.
    None,
}

impl Config {
    /// Loads and validates `path`, or the defaults when `path` is `None`.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let mut config = match path {
            None => Config::default(),
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.to_owned(),
                    source,
                })?;
                Config::from_toml(&text, path)?
            }
        };
        config.cluster.apply_env(std::env::var(REDIS_URL_ENV).ok());
        config.validate()?;
        Ok(config)
    }

    /// Parses TOML text (named `origin` in errors) and expands environment variables.
    pub fn from_toml(text: &str, origin: &Path) -> Result<Config, ConfigError> {
        let mut table: toml::Table = text.parse().map_err(|e: toml::de::Error| ConfigError::Syntax {
            path: origin.to_owned(),
            message: e.to_string(),
        })?;
        env::expand_table(&mut table, "", &|var| std::env::var(var).ok())?;
        serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| ConfigError::Key {
            key: e.path().to_string(),
            message: e.into_inner().to_string(),
        })
    }
}

impl Config {
    /// The paths the gateway serves itself: exact paths, and prefixes ending in `/`.
    pub fn reserved_paths(&self) -> Vec<String> {
        let mut paths: Vec<String> = [
            self.server.path.as_str(),
            "/api/",
            "/healthz",
            "/readyz",
            "/metrics",
        ]
        .map(str::to_owned)
        .into();
        if self.native.enabled {
            paths.push(self.native.path.clone());
            paths.push(format!("{}/", self.native.path));
        }
        if self.admin_ui.is_some() {
            paths.push(ADMIN_UI_PATH.to_owned());
            paths.push(ADMIN_UI_PATH.trim_end_matches('/').to_owned());
        }
        paths
    }

    /// The `[http.routes]`, parsed (checked by [`Config::validate`]).
    pub fn plugin_routes(&self) -> Vec<PluginRoute> {
        self.http
            .plugin_routes(&self.reserved_paths())
            .unwrap_or_default()
    }
}

/// Whether `name` can name a plugin file (`NAME.wasm`).
pub fn is_plugin_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests;
