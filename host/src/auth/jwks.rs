//! A JWKS file as a key source, re-read when it changes (checked at most once a
//! second, when a token is verified), so keys rotate without a restart.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use arc_swap::ArcSwap;
use jsonwebtoken::DecodingKey;
use jsonwebtoken::jwk::JwkSet;

use super::AuthSetupError;

/// How often the file's modification time is looked at.
const RECHECK: Duration = Duration::from_secs(1);

/// Keys by `kid`, from a JWKS file.
pub struct JwksFile {
    path: PathBuf,
    keys: ArcSwap<Vec<(Option<String>, DecodingKey)>>,
    /// When the file was last looked at, and its modification time then.
    checked: Mutex<(Instant, Option<SystemTime>)>,
}

impl JwksFile {
    /// Loads `path`; it must hold at least one usable key.
    pub fn load(path: PathBuf) -> Result<JwksFile, AuthSetupError> {
        let keys = read(&path)?;
        let modified = std::fs::metadata(&path).and_then(|m| m.modified()).ok();
        Ok(JwksFile {
            path,
            keys: ArcSwap::from_pointee(keys),
            checked: Mutex::new((Instant::now(), modified)),
        })
    }

    /// The key for a token's `kid`: the matching key, or the only key when the token
    /// names none.
    pub fn key(&self, kid: Option<&str>) -> Option<DecodingKey> {
        self.refresh();
        let keys = self.keys.load();
        match kid {
            Some(kid) => keys
                .iter()
                .find(|(k, _)| k.as_deref() == Some(kid))
                .map(|(_, key)| key.clone()),
            None if keys.len() == 1 => keys.first().map(|(_, key)| key.clone()),
            None => None,
        }
    }

    /// Re-reads the file if it changed; a broken new file is logged and the old keys stay.
    fn refresh(&self) {
        let mut checked = self
            .checked
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if checked.0.elapsed() < RECHECK {
            return;
        }
        checked.0 = Instant::now();
        let modified = std::fs::metadata(&self.path).and_then(|m| m.modified()).ok();
        if modified == checked.1 {
            return;
        }
        checked.1 = modified;
        match read(&self.path) {
            Ok(keys) => {
                tracing::info!(file = %self.path.display(), keys = keys.len(), "JWKS reloaded");
                self.keys.store(Arc::new(keys));
            }
            Err(err) => {
                tracing::warn!(file = %self.path.display(), %err, "JWKS not reloaded; keeping the previous keys")
            }
        }
    }
}

fn read(path: &PathBuf) -> Result<Vec<(Option<String>, DecodingKey)>, AuthSetupError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| AuthSetupError::Key(format!("cannot read JWKS {}: {e}", path.display())))?;
    let set: JwkSet = serde_json::from_str(&text)
        .map_err(|e| AuthSetupError::Key(format!("{} is not a JWKS document: {e}", path.display())))?;
    let keys: Vec<_> = set
        .keys
        .iter()
        .filter_map(|jwk| {
            DecodingKey::from_jwk(jwk)
                .ok()
                .map(|key| (jwk.common.key_id.clone(), key))
        })
        .collect();
    if keys.is_empty() {
        return Err(AuthSetupError::Key(format!(
            "{} holds no usable key",
            path.display()
        )));
    }
    Ok(keys)
}
