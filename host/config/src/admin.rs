//! The `[admin_ui]` section: the server side of the Socket.IO Admin UI
//! (`@socket.io/admin-ui` 0.5) on its own namespace, and the UI's pages.

use std::path::PathBuf;

use serde::Deserialize;

use super::ConfigError;

/// The Socket.IO Admin UI; on when the section is present.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdminUiConfig {
    /// The login name. Defaults to `admin`.
    pub username: String,
    /// The password's bcrypt hash (`$2a$`, `$2b$` or `$2y$`; write `"${ADMIN_PASSWORD_HASH}"`,
    /// make one with `htpasswd -nbBC 10 "" PASSWORD | cut -c2-`). Required.
    pub password_hash: String,
    /// Ignore every command the UI sends (`emit`, `join`, `leave`, `_disconnect`).
    /// Defaults to `false`.
    pub readonly: bool,
    /// `development` also streams every socket, room and event to the UI;
    /// `production` sends only server statistics. Defaults to `development`, as the
    /// Node server does without `NODE_ENV`.
    pub mode: AdminMode,
    /// The namespace the UI connects to. Defaults to `/admin`.
    pub namespace: String,
    /// This node's name in the UI's servers list; unique per node. Defaults to
    /// `HOSTNAME#PID`.
    pub server_id: Option<String>,
    /// Seconds a login's session id stays valid (the UI reconnects with it). Defaults
    /// to 86 400.
    pub session_ttl_s: u64,
    /// The folder holding the UI's files (`index.html`, `js/`, `css/`), served at
    /// `/admin/`; `cargo xtask build` prepares one at `target/admin-ui`, fonts
    /// included so it works offline. Defaults to none: the namespace only, for a UI
    /// served elsewhere.
    pub ui_dir: Option<PathBuf>,
}

impl Default for AdminUiConfig {
    fn default() -> AdminUiConfig {
        AdminUiConfig {
            username: "admin".to_owned(),
            password_hash: String::new(),
            readonly: false,
            mode: AdminMode::Development,
            namespace: "/admin".to_owned(),
            server_id: None,
            session_ttl_s: 86_400,
            ui_dir: None,
        }
    }
}

/// How much the Admin UI is told.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AdminMode {
    /// Sockets, rooms and events as they happen, besides the statistics.
    #[default]
    Development,
    /// Server statistics only.
    Production,
}

/// Where the UI's pages are served.
pub const ADMIN_UI_PATH: &str = "/admin/";

impl AdminUiConfig {
    /// Checks the section, naming the key.
    pub fn validate(&self, namespaces: &[&String]) -> Result<(), ConfigError> {
        let invalid = |key: &str, reason: String| ConfigError::Invalid {
            key: format!("admin_ui.{key}"),
            reason,
        };
        let hash = &self.password_hash;
        if !(hash.starts_with("$2a$") || hash.starts_with("$2b$") || hash.starts_with("$2y$")) {
            return Err(invalid(
                "password_hash",
                "a bcrypt hash (`$2b$10$…`) is required; make one with `htpasswd -nbBC 10 \"\" PASSWORD | cut -c2-`"
                    .to_owned(),
            ));
        }
        if self.username.is_empty() {
            return Err(invalid("username", "must not be empty".to_owned()));
        }
        if !self.namespace.starts_with('/') || self.namespace.contains(',') || self.namespace.contains('?') {
            return Err(invalid(
                "namespace",
                "a namespace starts with `/` and contains no `,` or `?`".to_owned(),
            ));
        }
        if namespaces.iter().any(|n| **n == self.namespace) {
            return Err(invalid(
                "namespace",
                format!(
                    "`{}` is also in [namespaces]; the Admin UI needs one of its own",
                    self.namespace
                ),
            ));
        }
        if self.session_ttl_s == 0 {
            return Err(invalid("session_ttl_s", "must be positive".to_owned()));
        }
        Ok(())
    }
}
