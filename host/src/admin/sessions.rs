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
    /// `Authorization: Basic` values that verified, keyed by a hash under a key of this
    /// process (never the value itself), until they expire: bcrypt is slow by design,
    /// and the plugins page asks every 2 s.
    verified: Mutex<HashMap<u64, Instant>>,
    hasher: std::hash::RandomState,
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
            verified: Mutex::default(),
            hasher: std::hash::RandomState::new(),
        }
    }

    /// Whether an HTTP `Authorization` header carries this login (`Basic`, as a
    /// browser sends it after the page's 401).
    pub async fn check_basic(&self, header: Option<&str>) -> bool {
        use base64::Engine as _;
        use std::hash::BuildHasher as _;
        let Some(encoded) = header.and_then(|h| h.strip_prefix("Basic ")) else {
            return false;
        };
        let key = self.hasher.hash_one(encoded);
        let now = Instant::now();
        {
            let mut verified = lock(&self.verified);
            match verified.get(&key) {
                Some(expires) if *expires > now => return true,
                Some(_) => {
                    verified.remove(&key);
                }
                None => {}
            }
        }
        let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else {
            return false;
        };
        let Some((username, password)) = std::str::from_utf8(&decoded).ok().and_then(|s| s.split_once(':'))
        else {
            return false;
        };
        let auth = serde_json::json!({ "username": username, "password": password });
        if !matches!(self.check(&auth).await, Login::Opened(_)) {
            return false;
        }
        let mut verified = lock(&self.verified);
        if verified.len() >= MAX_SESSIONS {
            verified.retain(|_, expires| *expires > now);
        }
        verified.insert(key, now + self.ttl.min(Duration::from_secs(3600)));
        true
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
        lock(&self.sessions)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
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
    async fn basic_auth_checks_the_same_login() {
        use base64::Engine as _;
        let logins = logins(Duration::from_secs(60));
        let basic = |creds: &str| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(creds)
            )
        };
        assert!(logins.check_basic(Some(&basic("admin:s3cret"))).await);
        assert!(
            logins.check_basic(Some(&basic("admin:s3cret"))).await,
            "again, from the cache"
        );
        assert!(!logins.check_basic(Some(&basic("admin:wrong"))).await);
        assert!(!logins.check_basic(Some(&basic("nobody"))).await);
        assert!(!logins.check_basic(Some("Bearer x")).await);
        assert!(!logins.check_basic(None).await);
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
