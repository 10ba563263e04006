//! Portico: a real-time gateway speaking Socket.IO v4 and plain WebSocket.
//!
//! # Layout
//! - [`protocol`]: sans-IO codecs (Engine.IO, Socket.IO, `{event, data}` framing, WebSocket frames).
pub mod protocol;
