//! Portico: a real-time gateway speaking Socket.IO v4 and plain WebSocket, with
//! business logic in handlers behind one trait, built in or WebAssembly plugins.
//!
//! # Layout
//! In data-flow order, from the listener to the recipients:
//! - [`config`]: the TOML config (the `portico-config` crate) and the checks that need
//!   the gateway's libraries (auth keys, Redis URL).
//! - [`server`]: the gateway assembled from its config; listener, CORS, live config
//!   reload, shutdown.
//! - [`accept`]: the accept loop, HTTP/1.1 with upgrades on each connection.
//! - [`protocol`]: sans-IO codecs (the `portico-protocol` crate).
//! - [`wsio`]: WebSocket reading (no buffer while idle, a size cap), and the batching writer.
//! - [`compression`]: permessage-deflate agreed at the upgrade; a broadcast compressed once.
//! - [`engineio`]: Engine.IO sessions over polling and WebSocket, upgrade, heartbeat.
//! - [`auth`]: JWT extraction and verification at connect.
//! - [`socketio`]: Socket.IO packets to sockets in namespaces, acks both ways.
//! - [`native`]: the `{event, data}` WebSocket endpoint.
//! - [`limits`]: what one client may use (events/s, rooms, connections), refusals mapped to the wire.
//! - [`router`]: namespaces, sockets, rooms, targets; an event encoded once for all recipients.
//! - [`cluster`]: several nodes on one Redis, in Node's redis-adapter wire format.
//! - [`builtin`]: the built-in event handlers (echo, conformance, silent).
//! - [`admin`]: the Socket.IO Admin UI's server side on its own namespace.
//! - [`http`]: the HTTP routes (one table for the router and its OpenAPI document), the
//!   operator API, routes served by plugins.
//! - [`outbound`]: a connection's bounded queue; a full queue disconnects a slow client.
//! - [`reason`], [`metrics`], [`id`]: disconnect reasons, counters, random ids.

pub use portico_protocol as protocol;

pub mod accept;
pub mod admin;
pub mod auth;
pub mod builtin;
pub mod cluster;
pub mod compression;
pub mod config;
pub mod engineio;
pub mod http;
pub mod id;
pub mod limits;
pub mod metrics;
pub mod native;
pub mod outbound;
pub mod plugins;
pub mod reason;
pub mod router;
pub mod server;
pub mod socketio;
pub mod store;
pub mod wsio;
