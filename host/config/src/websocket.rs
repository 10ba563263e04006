//! The `[websocket]` section: what the WebSocket transport and the native endpoint
//! share, permessage-deflate for now.

use serde::Deserialize;

use super::ConfigError;

/// WebSocket settings, for the Engine.IO transport and the native endpoint alike.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebsocketConfig {
    /// permessage-deflate (RFC 7692).
    pub compression: CompressionConfig,
}

/// `[websocket.compression]`: permessage-deflate, Node's `perMessageDeflate`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CompressionConfig {
    /// Accept a client's permessage-deflate offer. Defaults to `false`, as Node's
    /// `perMessageDeflate`.
    pub enabled: bool,
    /// Messages shorter than this many bytes go uncompressed. Defaults to 1024, as
    /// Node's `ws`.
    pub threshold_bytes: usize,
    /// zlib level, 0 (store) to 9 (smallest). Defaults to 6, zlib's own default.
    pub level: u32,
}

impl Default for CompressionConfig {
    fn default() -> CompressionConfig {
        CompressionConfig {
            enabled: false,
            threshold_bytes: 1024,
            level: 6,
        }
    }
}

impl WebsocketConfig {
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if self.compression.level > 9 {
            return Err(ConfigError::Invalid {
                key: "websocket.compression.level".to_owned(),
                reason: "must be 0 to 9".to_owned(),
            });
        }
        Ok(())
    }
}
