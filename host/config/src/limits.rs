//! The `[limits]` section: what one client, one user or one address may use.
//!
//! Every limit is a number with a default that serves a production gateway; `0`
//! turns the limits marked so off. A refusal is counted in
//! `portico_limit_refusals_total{limit}` under the key's name.

use serde::Deserialize;

/// What one connection, socket, user or address may use.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Messages queued for one connection before it counts as too slow and is
    /// disconnected; for a polling client, what may wait between two GETs. Defaults
    /// to 1 024.
    pub outbound_queue: usize,
    /// Events one socket may send per second, sustained (a token bucket refilled at
    /// this rate); an event over it is not handled and its sender gets
    /// `error {message, code: "RATE_LIMITED"}`. `0` for no limit. Defaults to 200.
    pub events_per_second: u32,
    /// Events one socket may send at once above the sustained rate (the bucket's
    /// size). Defaults to 400.
    pub event_burst: u32,
    /// Refused events within 10 seconds after which the socket is disconnected from
    /// its namespace (the client sees `io server disconnect`). `0` never disconnects.
    /// Defaults to 100.
    pub rate_limited_disconnect_after: u32,
    /// Rooms one socket may be in at once, its own and its user's room included; a
    /// join past it is refused with `error {code: "ROOM_LIMIT"}`. Rooms the server
    /// joins it to (other nodes, `socketsJoin`) are not limited. Defaults to 1 000.
    pub rooms_per_socket: usize,
    /// Namespaces one Socket.IO connection may ask for: those it is in, plus the
    /// requests refused so far (unknown namespace, failed auth). Past it the request
    /// gets a CONNECT_ERROR and the connection is closed. Defaults to 32.
    pub namespaces_per_client: usize,
    /// Connections (Engine.IO sessions and native WebSockets) open at once on this
    /// node; past it a new one is refused with HTTP 503. `0` for no limit. Defaults
    /// to 100 000.
    pub max_connections: usize,
    /// Connections open at once from one client IP address (the TCP peer; behind a
    /// proxy, that is the proxy: raise this or set `0`); past it a new one is
    /// refused with HTTP 429. `0` for no limit. Defaults to 0.
    pub max_connections_per_ip: usize,
    /// Sockets one verified user (token `sub`) may have in one namespace on this node;
    /// past it a connect is refused with CONNECT_ERROR `{code: "USER_CONNECTION_LIMIT"}`.
    /// `0` for no limit. Defaults to 100.
    pub max_connections_per_user: usize,
    /// Milliseconds a client may take to send an HTTP request's headers (slowloris
    /// protection, the WebSocket upgrade request included). Defaults to 10 000.
    pub handshake_timeout_ms: u64,
}

impl Default for LimitsConfig {
    fn default() -> LimitsConfig {
        LimitsConfig {
            outbound_queue: 1024,
            events_per_second: 200,
            event_burst: 400,
            rate_limited_disconnect_after: 100,
            rooms_per_socket: 1000,
            namespaces_per_client: 32,
            max_connections: 100_000,
            max_connections_per_ip: 0,
            max_connections_per_user: 100,
            handshake_timeout_ms: 10_000,
        }
    }
}

impl LimitsConfig {
    /// The handshake timeout as a duration.
    pub fn handshake_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.handshake_timeout_ms)
    }
}
