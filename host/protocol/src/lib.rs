//! Sans-IO protocol codecs: bytes in, typed packets out, and back.
//!
//! Nothing here touches a socket, a timer or a runtime (the crate depends on no
//! runtime at all); the transports in the `portico` crate own the IO.
//!
//! # Layout
//! - [`cluster`]: the Redis wire format of Node's `@socket.io/redis-adapter` and emitter.
//! - [`engineio`]: Engine.IO v4 packets, polling payloads, handshake and request errors.
//! - [`socketio`]: Socket.IO v5 packets, the binary-attachment decoder state machine.
//! - [`native`]: the NestJS `WsAdapter` `{event, data}` JSON framing.
//! - [`wsframe`]: server-to-client WebSocket frame headers, so frames can be batched.

pub mod cluster;
pub mod engineio;
pub mod native;
pub mod socketio;
pub mod wsframe;
