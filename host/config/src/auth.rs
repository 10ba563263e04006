//! The `[auth]` section: how connections prove who they are.

use std::path::PathBuf;

use serde::Deserialize;

/// JWT verification, shared by every namespace whose `auth` is not `none`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// Accepted algorithms, all of one family; anything else (`none` included) is
    /// refused. Defaults to `["HS256"]`.
    pub algorithms: Vec<String>,
    /// The HMAC secret for HS* (write `"${JWT_SECRET}"`). Defaults to none.
    pub secret: Option<String>,
    /// A PEM public key for RS*, ES* or EdDSA. Defaults to none.
    pub public_key_file: Option<PathBuf>,
    /// A JWKS file (keys by `kid`) for RS*, ES* or EdDSA, re-read when it changes.
    /// Defaults to none.
    pub jwks_file: Option<PathBuf>,
    /// Required `iss`, when set. Defaults to not checked.
    pub issuer: Option<String>,
    /// Required `aud`, when set. Defaults to not checked.
    pub audience: Option<String>,
    /// Seconds of clock skew allowed on `exp` and `nbf`. Defaults to 30.
    pub leeway_s: u64,
    /// Where to look for the token, in order. Defaults to `["auth", "query", "header"]`.
    pub token_from: Vec<TokenSource>,
    /// Disconnect a socket when its token's `exp` passes (it receives an `error` event
    /// `{message: "Unauthorized: Token expired", code: "TOKEN_EXPIRED"}` first).
    /// Defaults to `false`.
    pub disconnect_on_expiry: bool,
}

impl Default for AuthConfig {
    fn default() -> AuthConfig {
        AuthConfig {
            algorithms: vec!["HS256".to_owned()],
            secret: None,
            public_key_file: None,
            jwks_file: None,
            issuer: None,
            audience: None,
            leeway_s: 30,
            token_from: vec![TokenSource::Auth, TokenSource::Query, TokenSource::Header],
            disconnect_on_expiry: false,
        }
    }
}

/// A place a token may be found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenSource {
    /// `auth.token` of the Socket.IO CONNECT packet (`io(url, { auth: { token } })`).
    Auth,
    /// The `token` query parameter (`io(url, { query: { token } })`, `/ws?token=`).
    Query,
    /// `Authorization: Bearer …` (`extraHeaders`, or any WebSocket client).
    Header,
}

/// Whether a namespace requires a verified identity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthMode {
    /// No token is looked at.
    #[default]
    None,
    /// A token, if present, must be valid; without one the socket is anonymous.
    Optional,
    /// A valid token is required.
    Required,
}
