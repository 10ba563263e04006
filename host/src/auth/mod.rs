//! JWT verification at connect: where the token comes from, and whether it is good.
//!
//! # Layout
//! - [`extract`]: the token from the CONNECT `auth` payload, the `token` query
//!   parameter, or the `Authorization: Bearer` header, in the configured order.
//! - [`Verifier`]: signature, pinned algorithms, `exp`/`nbf`/`iss`/`aud` with leeway.
//!
//! Failures carry the messages NestJS gateways send, and become CONNECT_ERROR: no
//! socket is created and nothing reaches a plugin.

mod extract;
mod jwks;

use std::collections::HashSet;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

use crate::config::{AuthConfig, AuthMode};
pub(crate) use extract::query_pairs;
pub use extract::{TokenSource, extract};

/// Why a connection was not authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthFailure {
    /// No token in any configured place.
    #[error("Unauthorized: No token provided")]
    Missing,
    /// Malformed, badly signed, wrong algorithm, wrong issuer or audience, not yet valid.
    #[error("Unauthorized: Invalid token")]
    Invalid,
    /// Past its `exp` (plus leeway).
    #[error("Unauthorized: Token expired")]
    Expired,
}

impl AuthFailure {
    /// A short name for logs and metric labels.
    pub fn name(self) -> &'static str {
        match self {
            AuthFailure::Missing => "missing",
            AuthFailure::Invalid => "invalid",
            AuthFailure::Expired => "expired",
        }
    }
}

/// Why the auth configuration cannot work.
#[derive(Debug, thiserror::Error)]
pub enum AuthSetupError {
    /// An algorithm name is unknown.
    #[error("auth.algorithms: unknown algorithm `{0}` (HS256/384/512, RS256/384/512, ES256/384, EdDSA)")]
    UnknownAlgorithm(String),
    /// Algorithms of different key families were mixed.
    #[error("auth.algorithms: {0} need different kinds of key; pin algorithms of one family")]
    MixedFamilies(String),
    /// The key the algorithms need is missing or unreadable.
    #[error("auth: {0}")]
    Key(String),
}

/// Where verification keys come from.
enum Keys {
    /// One key from config (a secret or a PEM file).
    Static(DecodingKey),
    /// Keys by `kid` from a JWKS file, reloaded when it changes.
    Jwks(jwks::JwksFile),
}

/// Verifies tokens against one key and a pinned list of algorithms.
pub struct Verifier {
    keys: Keys,
    validation: Validation,
    sources: Vec<TokenSource>,
    disconnect_on_expiry: bool,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("algorithms", &self.validation.algorithms)
            .finish_non_exhaustive()
    }
}

impl Verifier {
    /// A verifier for `config`: an HMAC secret for HS*, a PEM public key for the others.
    pub fn new(config: &AuthConfig) -> Result<Verifier, AuthSetupError> {
        let algorithms = config
            .algorithms
            .iter()
            .map(|name| {
                name.parse::<Algorithm>()
                    .map_err(|_| AuthSetupError::UnknownAlgorithm(name.clone()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let families: HashSet<_> = algorithms.iter().map(|a| family(*a)).collect();
        if families.len() != 1 {
            return Err(AuthSetupError::MixedFamilies(config.algorithms.join(", ")));
        }
        let first = algorithms[0];
        let keys = match (&config.jwks_file, family(first)) {
            (Some(path), Family::Hmac) => {
                return Err(AuthSetupError::Key(format!(
                    "{} is for public keys; HS* uses auth.secret",
                    path.display()
                )));
            }
            (Some(path), _) => Keys::Jwks(jwks::JwksFile::load(path.clone())?),
            (None, family) => Keys::Static(static_key(config, first, family)?),
        };
        let mut validation = Validation::new(first);
        validation.algorithms = algorithms;
        validation.leeway = config.leeway_s;
        validation.validate_nbf = true;
        match &config.issuer {
            Some(issuer) => validation.set_issuer(&[issuer]),
            None => validation.iss = None,
        }
        match &config.audience {
            Some(audience) => validation.set_audience(&[audience]),
            None => validation.validate_aud = false,
        }
        Ok(Verifier {
            keys,
            validation,
            sources: config.token_from.clone(),
            disconnect_on_expiry: config.disconnect_on_expiry,
        })
    }

    /// The token's claims, if it is good.
    pub fn verify(&self, token: &str) -> Result<Value, AuthFailure> {
        let key = match &self.keys {
            Keys::Static(key) => key.clone(),
            Keys::Jwks(file) => {
                let header = jsonwebtoken::decode_header(token).map_err(|_| AuthFailure::Invalid)?;
                file.key(header.kid.as_deref()).ok_or(AuthFailure::Invalid)?
            }
        };
        match jsonwebtoken::decode::<Value>(token, &key, &self.validation) {
            Ok(data) if data.claims.is_object() => Ok(data.claims),
            Ok(_) => Err(AuthFailure::Invalid),
            Err(err) => match err.kind() {
                ErrorKind::ExpiredSignature => Err(AuthFailure::Expired),
                _ => Err(AuthFailure::Invalid),
            },
        }
    }

    /// When a socket authenticated with `claims` must be disconnected, if ever.
    pub fn expiry(&self, claims: &Value) -> Option<std::time::SystemTime> {
        if !self.disconnect_on_expiry {
            return None;
        }
        // A NumericDate may have a fraction (RFC 7519 §2): `as_u64` would skip it.
        let exp = claims.get("exp")?.as_f64()?;
        let exp = std::time::Duration::try_from_secs_f64(exp).ok()?;
        Some(std::time::UNIX_EPOCH + exp + std::time::Duration::from_secs(self.validation.leeway))
    }

    /// Finds and verifies the token of a connection. `Ok(None)`: no token and `optional`.
    pub fn authenticate(
        &self,
        mode: AuthMode,
        auth: &Value,
        query: &str,
        headers: &http::HeaderMap,
    ) -> Result<Option<Value>, AuthFailure> {
        if mode == AuthMode::None {
            return Ok(None);
        }
        match extract(&self.sources, auth, query, headers) {
            Some(token) => self.verify(&token).map(Some),
            None if mode == AuthMode::Optional => Ok(None),
            None => Err(AuthFailure::Missing),
        }
    }
}

/// The configured key for a non-JWKS setup: the secret for HS*, the PEM file otherwise.
fn static_key(config: &AuthConfig, first: Algorithm, family: Family) -> Result<DecodingKey, AuthSetupError> {
    if family == Family::Hmac {
        return match &config.secret {
            Some(secret) if !secret.is_empty() => Ok(DecodingKey::from_secret(secret.as_bytes())),
            _ => Err(AuthSetupError::Key(
                "HS* algorithms need auth.secret (e.g. \"${JWT_SECRET}\")".into(),
            )),
        };
    }
    let path = config.public_key_file.as_ref().ok_or_else(|| {
        AuthSetupError::Key(format!(
            "{first:?} needs auth.public_key_file (a PEM public key) or auth.jwks_file"
        ))
    })?;
    let pem = std::fs::read(path)
        .map_err(|e| AuthSetupError::Key(format!("cannot read {}: {e}", path.display())))?;
    let parsed = match family {
        Family::Rsa => DecodingKey::from_rsa_pem(&pem),
        Family::Ec => DecodingKey::from_ec_pem(&pem),
        _ => DecodingKey::from_ed_pem(&pem),
    };
    parsed.map_err(|e| AuthSetupError::Key(format!("{} is not a usable PEM key: {e}", path.display())))
}

/// The `sub` claim as a room-safe string (`user:<sub>`).
pub fn subject(claims: &Value) -> Option<String> {
    match claims.get("sub")? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Family {
    Hmac,
    Rsa,
    Ec,
    Ed,
}

fn family(alg: Algorithm) -> Family {
    match alg {
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => Family::Hmac,
        Algorithm::ES256 | Algorithm::ES384 => Family::Ec,
        Algorithm::EdDSA => Family::Ed,
        _ => Family::Rsa,
    }
}

#[cfg(test)]
mod tests;
