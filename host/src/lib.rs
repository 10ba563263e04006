//! Portico: a real-time gateway speaking Socket.IO v4 and plain WebSocket.
//!
//! # Layout
//! - [`protocol`]: sans-IO codecs (Engine.IO, Socket.IO, `{event, data}` framing, WebSocket frames).
pub mod protocol;
pub mod config;
pub mod engineio;
pub mod id;
pub mod metrics;
pub mod outbound;
pub mod reason;
pub mod wsio;
pub mod router;
pub mod socketio;
pub mod builtin;
pub mod native;
pub mod server;
