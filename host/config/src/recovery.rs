//! The `[socketio.recovery]` section: Socket.IO's connection state recovery
//! (`connectionStateRecovery` in Node's server options).

use std::time::Duration;

use serde::Deserialize;

use super::ConfigError;

/// Connection state recovery; on when the section is present. A client that lost its
/// connection and comes back within `max_disconnection_ms` keeps its socket id, rooms
/// and user, and receives what was sent to it meanwhile.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RecoveryConfig {
    /// How long a disconnected socket's state and the packets it may miss are kept, in
    /// milliseconds. Defaults to 120 000, as Node's `maxDisconnectionDuration`.
    pub max_disconnection_ms: u64,
    /// Let a recovering socket in without authenticating it again or running its
    /// namespace's connect guards; its user is the one it had. Defaults to `true`, as
    /// Node's `skipMiddlewares`.
    pub skip_middlewares: bool,
    /// Most bytes of sent packets each namespace keeps for replay; past it the oldest
    /// go, and a client that missed one of them gets a new session. Defaults to
    /// 16 MiB.
    pub max_bytes: usize,
    /// Most disconnected sockets each namespace keeps the state of; past it the oldest
    /// go. Defaults to 100 000.
    pub max_sessions: usize,
}

impl Default for RecoveryConfig {
    fn default() -> RecoveryConfig {
        RecoveryConfig {
            max_disconnection_ms: 120_000,
            skip_middlewares: true,
            max_bytes: 16 << 20,
            max_sessions: 100_000,
        }
    }
}

impl RecoveryConfig {
    /// How long a disconnected socket may take to come back.
    pub fn max_disconnection(&self) -> Duration {
        Duration::from_millis(self.max_disconnection_ms)
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key: &str, reason: &str| {
            Err(ConfigError::Invalid {
                key: format!("socketio.recovery.{key}"),
                reason: reason.to_owned(),
            })
        };
        if self.max_disconnection_ms == 0 {
            return invalid("max_disconnection_ms", "must be positive");
        }
        if self.max_bytes == 0 {
            return invalid("max_bytes", "must be at least 1 byte");
        }
        if self.max_sessions == 0 {
            return invalid("max_sessions", "must be at least 1");
        }
        Ok(())
    }
}
