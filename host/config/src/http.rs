//! The `[http]` and `[api]` sections: HTTP routes served by plugins, and the operator
//! API's key.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::ConfigError;

/// HTTP routes served by `http-handler` plugins.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// Largest request or response body of a plugin route or the operator API, in
    /// bytes. Defaults to 1 000 000.
    pub max_body_bytes: usize,
    /// Routes by `"METHOD /path"` (a literal path), each naming the plugin that serves
    /// it: `"POST /notifications/send" = "notifications"`. Defaults to none.
    pub routes: BTreeMap<String, String>,
}

impl Default for HttpConfig {
    fn default() -> HttpConfig {
        HttpConfig {
            max_body_bytes: 1_000_000,
            routes: BTreeMap::new(),
        }
    }
}

/// The operator API (`/api/v1/emit`, `/api/v1/disconnect`, `/api/v1/presence`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApiConfig {
    /// The key callers send as `Authorization: Bearer <key>`, at least 16 characters
    /// (write `"${PORTICO_API_KEY:-}"`). Empty or unset disables the API, whose routes
    /// then answer 404. Defaults to unset.
    pub key: Option<String>,
}

impl ApiConfig {
    /// The key, when the API is enabled.
    pub fn enabled_key(&self) -> Option<&str> {
        self.key.as_deref().filter(|k| !k.is_empty())
    }
}

/// Shortest operator API key accepted.
const MIN_KEY_LEN: usize = 16;

/// One route of `[http.routes]`, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginRoute {
    /// The method.
    pub method: http::Method,
    /// The literal path.
    pub path: String,
    /// The plugin serving it.
    pub plugin: String,
}

impl HttpConfig {
    /// The routes, parsed and checked against the paths the gateway itself serves
    /// (`reserved`: exact paths, and prefixes ending in `/`).
    pub fn plugin_routes(&self, reserved: &[String]) -> Result<Vec<PluginRoute>, ConfigError> {
        let mut routes: Vec<PluginRoute> = Vec::with_capacity(self.routes.len());
        for (key, plugin) in &self.routes {
            let invalid = |reason: String| ConfigError::Invalid {
                key: format!("http.routes.\"{key}\""),
                reason,
            };
            let Some((method, path)) = key.split_once(' ') else {
                return Err(invalid(
                    "write a route as `\"METHOD /path\"`, like `\"POST /notifications/send\"`".into(),
                ));
            };
            let method = match method.to_ascii_uppercase().as_str() {
                "GET" => http::Method::GET,
                "POST" => http::Method::POST,
                "PUT" => http::Method::PUT,
                "PATCH" => http::Method::PATCH,
                "DELETE" => http::Method::DELETE,
                other => {
                    return Err(invalid(format!(
                        "`{other}` is not one of GET, POST, PUT, PATCH, DELETE"
                    )));
                }
            };
            let literal = path.len() > 1
                && path.starts_with('/')
                && !path.ends_with('/')
                && !path.contains("//")
                && path
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"/-_.~".contains(&b));
            if !literal {
                return Err(invalid(format!(
                    "`{path}` is not a literal path like `/notifications/send` (letters, digits, `/-_.~`, no trailing `/`)"
                )));
            }
            let clash = reserved.iter().find(|r| {
                path == r.trim_end_matches('/') || (r.ends_with('/') && path.starts_with(r.as_str()))
            });
            if let Some(clash) = clash {
                return Err(invalid(format!(
                    "`{path}` is served by the gateway itself (`{clash}`)"
                )));
            }
            if !super::is_plugin_name(plugin) {
                return Err(invalid(format!(
                    "`{plugin}` is not a plugin name (letters, digits, `-`, `_`)"
                )));
            }
            if routes.iter().any(|r| r.method == method && r.path == path) {
                return Err(invalid(format!("{method} {path} is mapped twice")));
            }
            routes.push(PluginRoute {
                method,
                path: path.to_owned(),
                plugin: plugin.clone(),
            });
        }
        Ok(routes)
    }
}

impl ApiConfig {
    /// Checks the key's length.
    pub fn validate(&self) -> Result<(), ConfigError> {
        match self.enabled_key() {
            Some(key) if key.len() < MIN_KEY_LEN => Err(ConfigError::Invalid {
                key: "api.key".to_owned(),
                reason: format!("must be at least {MIN_KEY_LEN} characters (or empty to disable the API)"),
            }),
            _ => Ok(()),
        }
    }
}
