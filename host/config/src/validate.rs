//! [`Config::validate`]: the values that parse but cannot work, refused once at
//! start-up with the key named.

use super::{Config, ConfigError, is_plugin_name};

impl Config {
    /// Checks values that parse but cannot work, naming the key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key: &str, reason: &str| {
            Err(ConfigError::Invalid {
                key: key.to_owned(),
                reason: reason.to_owned(),
            })
        };
        if !self.server.path.starts_with('/') || !self.server.path.ends_with('/') {
            return invalid("server.path", "must start and end with `/`, like `/socket.io/`");
        }
        self.cluster.validate()?;
        self.websocket.validate()?;
        if let Some(recovery) = &self.socketio.recovery {
            recovery.validate()?;
        }
        if self.server.backlog == 0 {
            return invalid("server.backlog", "must be at least 1");
        }
        if self.engineio.ping_interval_ms == 0 || self.engineio.ping_timeout_ms == 0 {
            return invalid(
                "engineio.ping_interval_ms",
                "ping interval and timeout must be positive",
            );
        }
        if self.engineio.max_payload == 0 {
            return invalid("engineio.max_payload", "must be at least 1 byte");
        }
        if self.limits.outbound_queue == 0 {
            return invalid("limits.outbound_queue", "must be at least 1 message");
        }
        if self.limits.events_per_second != 0 && self.limits.event_burst == 0 {
            return invalid(
                "limits.event_burst",
                "must be at least 1 event while events_per_second is set",
            );
        }
        if self.limits.rooms_per_socket == 0 {
            return invalid("limits.rooms_per_socket", "must be at least 1 (its own room)");
        }
        if self.limits.namespaces_per_client == 0 {
            return invalid("limits.namespaces_per_client", "must be at least 1");
        }
        if self.limits.handshake_timeout_ms == 0 {
            return invalid("limits.handshake_timeout_ms", "must be positive");
        }
        if self.native.enabled && (!self.native.path.starts_with('/') || self.native.path.ends_with('/')) {
            return invalid(
                "native.path",
                "must start with `/` and not end with one, like `/ws`",
            );
        }
        if self.native.enabled
            && self
                .native
                .path
                .starts_with(self.server.path.trim_end_matches('/'))
        {
            return invalid("native.path", "must not lie under `server.path`");
        }
        if self.namespaces.is_empty() {
            return invalid(
                "namespaces",
                "at least one namespace is needed, e.g. [namespaces.\"/\"]",
            );
        }
        if self.plugins.limits.deadline_ms == 0 || self.plugins.limits.memory_mb == 0 {
            return invalid(
                "plugins.limits.deadline_ms",
                "plugin deadline and memory must be positive",
            );
        }
        if self.plugins.limits.kv_max_keys == 0 || self.plugins.limits.kv_max_value_bytes == 0 {
            return invalid(
                "plugins.limits.kv_max_keys",
                "store keys and value size per plugin must be positive",
            );
        }
        if self.plugins.limits.pool_size == 0 {
            return invalid("plugins.limits.pool_size", "must be at least 1");
        }
        for (name, ns) in &self.namespaces {
            let lists = ns
                .plugins
                .iter()
                .chain(&ns.guards)
                .chain(&ns.filters)
                .chain(ns.validators.values().flatten());
            for plugin in lists {
                if !is_plugin_name(plugin) {
                    return Err(ConfigError::Invalid {
                        key: format!("namespaces.\"{name}\""),
                        reason: format!("`{plugin}` is not a plugin name (letters, digits, `-`, `_`)"),
                    });
                }
            }
        }
        for name in self.namespaces.keys() {
            if !name.starts_with('/') || name.contains(',') || name.contains('?') {
                return Err(ConfigError::Invalid {
                    key: format!("namespaces.\"{name}\""),
                    reason: "a namespace starts with `/` and contains no `,` or `?`".to_owned(),
                });
            }
        }
        if let Some(admin) = &self.admin_ui {
            admin.validate(&self.namespaces.keys().collect::<Vec<_>>())?;
        }
        if self.http.max_body_bytes == 0 {
            return invalid("http.max_body_bytes", "must be at least 1 byte");
        }
        self.http.plugin_routes(&self.reserved_paths())?;
        self.api.validate()?;
        for origin in &self.cors.origins {
            let ok = origin == "*"
                || ((origin.starts_with("http://") || origin.starts_with("https://"))
                    && !origin.ends_with('/')
                    && ::http::HeaderValue::from_str(origin).is_ok());
            if !ok {
                return invalid(
                    "cors.origins",
                    &format!(
                        "`{origin}` is not an origin like `https://app.example.com` (no path, no trailing `/`) or `*`"
                    ),
                );
            }
        }
        if self.cors.credentials && self.cors.origins.iter().any(|o| o == "*") {
            // Browsers refuse credentials with `*`; echoing every origin instead would
            // let any site act with the user's cookies.
            return invalid(
                "cors.credentials",
                "cannot be true with origins = [\"*\"]: list the origins that may send credentials",
            );
        }
        Ok(())
    }
}
