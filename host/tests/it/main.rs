//! In-process integration tests: the runtime (Engine.IO sessions, polling and upgrade,
//! the WebSocket reader, connect and the plugin pipeline) driven without a browser or
//! a Node process, through the gateway's own router.

mod connect;
mod engineio;
mod expiry;
mod plugins;
mod raw_ws;
mod support;
mod websocket;
