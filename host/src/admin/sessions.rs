//! Logins: the username and bcrypt hash from `[admin_ui]`, and the session ids a login
//! hands out, which the UI reconnects with (`auth: {sessionId}`) until they expire.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;

/// Most sessions kept at once; the oldest go first past it.
const MAX_SESSIONS: usize = 10_000;

/// The credentials and the sessions they opened.
pub struct Logins {
    username: String,
    password_hash: String,
    ttl: Duration,
    /// Session id → when it expires. A std mutex: one map operation per login.
    sessions: Mutex<HashMap<String, Instant>>,
}

/// What a CONNECT's `auth` proved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Login {
    /// A live session id: no new one.
    Resumed,
    /// Username and password: a new session, to send the UI.
    Opened(String),
    /// Neither.
    Refused,
}

impl Logins {
    /// Logins for `username` with the password `password_hash` hashes; sessions last `ttl`.
    pub fn new(username: &str, password_hash: &str, ttl: Duration) -> Logins {
        Logins {
            username: username.to_owned(),
            password_hash: password_hash.to_owned(),
            ttl,
            sessions: Mutex::default(),
        }
    }

    /// Checks a CONNECT's `auth`: `{sessionId}` of a live session, or `{username,
    /// password}` against the hash (bcrypt runs on a blocking thread: it takes tens
    /// of milliseconds by design).
    pub async fn check(&self, auth: &Value) -> Login {
        if let Some(id) = auth.get("sessionId").and_then(Value::as_str)
            && self.live(id)
        {
            return Login::Resumed;
        }
        let (Some(username), Some(password)) = (
            auth.get("username").and_then(Value::as_str),
            auth.get("password").and_then(Value::as_str),
        ) else {
            return Login::Refused;
        };
        if username != self.username {
            return Login::Refused;
        }
        let (password, hash) = (password.to_owned(), self.password_hash.clone());
        let verified = tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash).unwrap_or(false))
            .await
            .unwrap_or(false);
        if !verified {
            return Login::Refused;
        }
        Login::Opened(self.open())
    }

    fn live(&self, id: &str) -> bool {
        let mut sessions = self.sessions();
        match sessions.get(id) {
            Some(expires) if *expires > Instant::now() => true,
            Some(_) => {
                sessions.remove(id);
                false
            }
            None => false,
        }
    }

    /// A new session id: 16 hex characters, as the Node server makes them.
    fn open(&self) -> String {
        let id = format!("{:016x}", rand::random::<u64>());
        let now = Instant::now();
        let mut sessions = self.sessions();
        if sessions.len() >= MAX_SESSIONS {
            sessions.retain(|_, expires| *expires > now);
            if sessions.len() >= MAX_SESSIONS
                && let Some(oldest) = sessions.iter().min_by_key(|(_, e)| **e).map(|(id, _)| id.clone())
            {
                sessions.remove(&oldest);
            }
        }
        sessions.insert(id.clone(), now + self.ttl);
        id
    }

    fn sessions(&self) -> std::sync::MutexGuard<'_, HashMap<String, Instant>> {
        self.sessions
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn logins(ttl: Duration) -> Logins {
        // Cost 4: the lowest bcrypt allows, so the test is quick.
        let hash = bcrypt::hash("s3cret", 4).expect("hash");
        Logins::new("admin", &hash, ttl)
    }

    #[tokio::test]
    async fn a_password_opens_a_session_the_ui_resumes_with() {
        let logins = logins(Duration::from_secs(60));
        let Login::Opened(id) = logins
            .check(&json!({"username": "admin", "password": "s3cret"}))
            .await
        else {
            panic!("the right password logs in");
        };
        assert_eq!(id.len(), 16);
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(logins.check(&json!({ "sessionId": id })).await, Login::Resumed);
        for refused in [
            json!({"username": "admin", "password": "wrong"}),
            json!({"username": "root", "password": "s3cret"}),
            json!({"username": "admin", "password": 7}),
            json!({"sessionId": "0123456789abcdef"}),
            json!({"sessionId": null}),
            json!({}),
        ] {
            assert_eq!(logins.check(&refused).await, Login::Refused, "{refused}");
        }
    }

    #[tokio::test]
    async fn a_session_expires() {
        let logins = logins(Duration::from_millis(1));
        let Login::Opened(id) = logins
            .check(&json!({"username": "admin", "password": "s3cret"}))
            .await
        else {
            panic!("logs in");
        };
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(logins.check(&json!({ "sessionId": id })).await, Login::Refused);
    }
}
