//! NestJS's `WsJwtGuard`, as both seeds write it, in front of every guarded event.
//!
//! The gateway verified the token when the socket connected (signature, algorithm,
//! issuer, audience) and hands its claims to plugins; what `jwtService.verify` would
//! find different at a later event is only time. So the guard checks, at each event,
//! that the socket has claims and that they are still valid now: `exp` passed
//! (`now >= exp`, jsonwebtoken's rule, no leeway) or `nbf` not reached is an invalid
//! token.
//!
//! The seeds' guards fail differently, and the config says which one a namespace has:
//!
//! ```toml
//! [plugins.settings.jwt-guard.config]
//! forbidden_in = ["/events"]   # seed 003's guard: returns false -> "Forbidden resource"
//! ```
//!
//! Elsewhere it is seed 000's guard, which throws `WsException('Unauthorized: No token
//! provided')` or `WsException('Unauthorized: Invalid token')`. Guards do not run at
//! connect in NestJS, so the `connect` event is always allowed.

use portico_sdk::{Env, Error, Guard, Level, Value, plugin};
use serde::Deserialize;

/// The guard.
pub struct JwtGuard;

/// The plugin's configuration.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Namespaces whose guard returns `false` (NestJS then throws
    /// `WsException('Forbidden resource')`) instead of throwing its own message.
    pub forbidden_in: Vec<String>,
}

/// Why the token does not pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The socket has no verified token.
    NoToken,
    /// The token is no longer (or not yet) valid.
    Invalid,
}

/// Checks `claims` (the verified token's, if any) at `now` (seconds since the epoch).
pub fn check(claims: Option<&Value>, now: u64) -> Result<(), Refusal> {
    let claims = claims.ok_or(Refusal::NoToken)?;
    let seconds = |key: &str| claims.get(key).and_then(Value::as_f64);
    let now = now as f64;
    if seconds("exp").is_some_and(|exp| now >= exp) || seconds("nbf").is_some_and(|nbf| nbf > now) {
        return Err(Refusal::Invalid);
    }
    Ok(())
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

#[plugin]
impl Guard for JwtGuard {
    fn authorize(env: &Env, event: &str, _payload: &Value) -> Result<(), Error> {
        if event == "connect" {
            return Ok(());
        }
        let config: Config = env.config().inspect_err(|e| {
            env.log(Level::Error, &format!("invalid jwt-guard config: {}", e.message));
        })?;
        let claims = env.user::<Value>();
        let Err(refusal) = check(claims.as_ref(), now()) else {
            return Ok(());
        };
        if config
            .forbidden_in
            .iter()
            .any(|ns| *ns == env.socket().namespace())
        {
            return Err(Error::ws("Forbidden resource"));
        }
        Err(Error::ws(match refusal {
            Refusal::NoToken => "Unauthorized: No token provided",
            Refusal::Invalid => "Unauthorized: Invalid token",
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use portico_sdk::testing::MockHost;
    use portico_sdk::{SocketInfo, json};

    #[test]
    fn time_is_checked_as_jsonwebtoken_does() {
        let at = |claims: Value| check(Some(&claims), 1000);
        assert_eq!(at(json!({"sub": 1})), Ok(()));
        assert_eq!(at(json!({"exp": 1001})), Ok(()));
        assert_eq!(at(json!({"exp": 1000})), Err(Refusal::Invalid), "now >= exp");
        assert_eq!(at(json!({"exp": 999.5})), Err(Refusal::Invalid), "a float exp");
        assert_eq!(at(json!({"nbf": 1001})), Err(Refusal::Invalid));
        assert_eq!(at(json!({"nbf": 1000})), Ok(()));
        assert_eq!(check(None, 1000), Err(Refusal::NoToken));
    }

    fn authorize(namespace: &str, claims: Option<Value>, event: &str) -> Result<(), String> {
        let host = MockHost::with_config(json!({ "forbidden_in": ["/events"] })).with_socket(SocketInfo {
            namespace: namespace.into(),
            user_json: claims.map(|c| c.to_string()),
            ..SocketInfo::default()
        });
        JwtGuard::authorize(&Env::new(&host), event, &Value::Null).map_err(|e| e.message)
    }

    #[test]
    fn each_namespace_refuses_as_its_seed_does() {
        let expired = json!({"sub": 1, "exp": 1});
        let valid = json!({"sub": 1, "exp": now() + 60});
        assert_eq!(authorize("/chat", Some(valid.clone()), "send_message"), Ok(()));
        assert_eq!(
            authorize("/chat", None, "send_message"),
            Err("Unauthorized: No token provided".into())
        );
        assert_eq!(
            authorize("/chat", Some(expired.clone()), "send_message"),
            Err("Unauthorized: Invalid token".into())
        );
        assert_eq!(authorize("/events", Some(valid), "privateMessage"), Ok(()));
        assert_eq!(
            authorize("/events", None, "privateMessage"),
            Err("Forbidden resource".into())
        );
        assert_eq!(
            authorize("/events", Some(expired), "privateMessage"),
            Err("Forbidden resource".into())
        );
        assert_eq!(
            authorize("/chat", None, "connect"),
            Ok(()),
            "guards do not run at connect"
        );
    }
}
