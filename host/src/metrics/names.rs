//! Every metric's name, with the help text `/metrics` shows for it.

use metrics::{describe_counter, describe_gauge};

/// Open client connections, by `transport`.
pub const CONNECTIONS_OPEN: &str = "portico_connections_open";
/// Client connections opened, by `transport`.
pub const CONNECTIONS_TOTAL: &str = "portico_connections_total";
/// Client connections closed, by `reason` (Socket.IO's disconnect reasons).
pub const DISCONNECTS_TOTAL: &str = "portico_disconnects_total";
/// Clients disconnected because their outbound queue was full.
pub const SLOW_CONSUMER_DISCONNECTS_TOTAL: &str = "portico_slow_consumer_disconnects_total";
/// HTTP requests refused with an Engine.IO error, by `error`.
pub const REJECTED_REQUESTS_TOTAL: &str = "portico_rejected_requests_total";
/// Requests, frames or events refused by a limit, by `limit`.
pub const LIMIT_REFUSALS_TOTAL: &str = "portico_limit_refusals_total";
/// Connections refused for their token, by `namespace` and `reason`.
pub const AUTH_FAILURES_TOTAL: &str = "portico_auth_failures_total";
/// Engine.IO messages and native frames received.
pub const MESSAGES_IN_TOTAL: &str = "portico_messages_in_total";
/// Messages written to clients.
pub const MESSAGES_OUT_TOTAL: &str = "portico_messages_out_total";

/// Sockets joined to a namespace, by `namespace`.
pub const SOCKETS_OPEN: &str = "portico_sockets_open";
/// Sockets that joined a namespace, by `namespace`.
pub const SOCKET_CONNECTS_TOTAL: &str = "portico_socket_connects_total";
/// Sockets that left a namespace, by `namespace` and `reason`.
pub const SOCKET_DISCONNECTS_TOTAL: &str = "portico_socket_disconnects_total";
/// Events received from clients, by `namespace`.
pub const EVENTS_IN_TOTAL: &str = "portico_events_in_total";
/// Events sent to one socket (not through a broadcast), by `namespace`.
pub const EVENTS_OUT_TOTAL: &str = "portico_events_out_total";
/// Acknowledgements sent to clients, by `namespace`.
pub const ACKS_TOTAL: &str = "portico_acks_total";
/// Broadcasts delivered on this node (its own and other nodes'), by `namespace`.
pub const BROADCASTS_TOTAL: &str = "portico_broadcasts_total";
/// Events a broadcast queued to this node's sockets, one per recipient, by `namespace`.
pub const DELIVERIES_TOTAL: &str = "portico_deliveries_total";

/// Plugin calls, by `plugin` and `world`.
pub const PLUGIN_CALLS_TOTAL: &str = "portico_plugin_calls_total";
/// Plugin calls that failed, by `plugin`, `world` and `error` (trap, deadline,
/// memory, instantiate, effects).
pub const PLUGIN_ERRORS_TOTAL: &str = "portico_plugin_errors_total";
/// How long plugin calls took, by `plugin` and `world`.
pub const PLUGIN_CALL_SECONDS: &str = "portico_plugin_call_seconds";
/// The histogram's buckets: from a warm call's microseconds to a deadline's seconds.
pub const PLUGIN_CALL_BUCKETS: &[f64] = &[
    0.000_005, 0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025,
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];
/// Plugin versions offered to the registry, by `plugin` and `outcome` (accepted, rejected).
pub const PLUGIN_RELOADS_TOTAL: &str = "portico_plugin_reloads_total";
/// Config reloads asked for (SIGHUP, `--watch-config`), by `outcome` (accepted, rejected).
pub const CONFIG_RELOADS_TOTAL: &str = "portico_config_reloads_total";
/// Plugin store operations that failed (Redis away) and answered as if unset.
pub const STORE_ERRORS_TOTAL: &str = "portico_store_errors_total";

/// Bytes of WebSocket messages given to permessage-deflate.
pub const COMPRESSION_IN_BYTES_TOTAL: &str = "portico_compression_in_bytes_total";
/// Bytes permessage-deflate made of them.
pub const COMPRESSION_OUT_BYTES_TOTAL: &str = "portico_compression_out_bytes_total";

/// Reconnecting clients that asked to resume their session, by `namespace` and
/// `outcome` (recovered, new_session).
pub const RECOVERIES_TOTAL: &str = "portico_recoveries_total";

/// 1 while the link to Redis is up (Redis adapter only).
pub const CLUSTER_CONNECTED: &str = "portico_cluster_connected";
/// Messages published to Redis for the other nodes.
pub const CLUSTER_PUBLISHED_TOTAL: &str = "portico_cluster_published_total";
/// Messages from other nodes received through Redis.
pub const CLUSTER_RECEIVED_TOTAL: &str = "portico_cluster_received_total";
/// Messages for the other nodes dropped because Redis was away or slow.
pub const CLUSTER_DROPPED_TOTAL: &str = "portico_cluster_dropped_total";
/// Messages from Redis dropped as malformed or oversized.
pub const CLUSTER_MALFORMED_TOTAL: &str = "portico_cluster_malformed_total";

/// Gives every metric its help text.
pub(super) fn describe() {
    describe_gauge!(CONNECTIONS_OPEN, "Open client connections, by transport.");
    describe_counter!(CONNECTIONS_TOTAL, "Client connections opened, by transport.");
    describe_counter!(DISCONNECTS_TOTAL, "Client connections closed, by reason.");
    describe_counter!(
        SLOW_CONSUMER_DISCONNECTS_TOTAL,
        "Clients disconnected because their outbound queue was full."
    );
    describe_counter!(
        REJECTED_REQUESTS_TOTAL,
        "HTTP requests refused with an Engine.IO error, by error."
    );
    describe_counter!(
        LIMIT_REFUSALS_TOTAL,
        "Requests, frames or events refused by a limit, by limit."
    );
    describe_counter!(
        AUTH_FAILURES_TOTAL,
        "Connections refused for their token, by namespace and reason."
    );
    describe_counter!(
        MESSAGES_IN_TOTAL,
        "Engine.IO messages and native frames received from clients."
    );
    describe_counter!(MESSAGES_OUT_TOTAL, "Messages written to clients.");
    describe_gauge!(SOCKETS_OPEN, "Sockets joined to a namespace, by namespace.");
    describe_counter!(
        SOCKET_CONNECTS_TOTAL,
        "Sockets that joined a namespace, by namespace."
    );
    describe_counter!(
        SOCKET_DISCONNECTS_TOTAL,
        "Sockets that left a namespace, by namespace and reason."
    );
    describe_counter!(EVENTS_IN_TOTAL, "Events received from clients, by namespace.");
    describe_counter!(
        EVENTS_OUT_TOTAL,
        "Events sent to one socket, not through a broadcast, by namespace."
    );
    describe_counter!(ACKS_TOTAL, "Acknowledgements sent to clients, by namespace.");
    describe_counter!(
        BROADCASTS_TOTAL,
        "Broadcasts delivered on this node (its own and other nodes'), by namespace."
    );
    describe_counter!(
        DELIVERIES_TOTAL,
        "Events broadcasts queued to this node's sockets, one per recipient, by namespace."
    );
    describe_counter!(PLUGIN_CALLS_TOTAL, "Plugin calls, by plugin and world.");
    describe_counter!(
        PLUGIN_ERRORS_TOTAL,
        "Plugin calls that failed, by plugin, world and error (trap, deadline, memory, instantiate, effects)."
    );
    describe_counter!(
        PLUGIN_RELOADS_TOTAL,
        "Plugin versions offered to the registry, by plugin and outcome (accepted, rejected)."
    );
    describe_counter!(
        CONFIG_RELOADS_TOTAL,
        "Config reloads asked for (SIGHUP, --watch-config), by outcome (accepted, rejected)."
    );
    describe_counter!(
        STORE_ERRORS_TOTAL,
        "Plugin store operations that failed (Redis away) and answered as if unset."
    );
    describe_gauge!(
        CLUSTER_CONNECTED,
        "1 while the link to Redis is up (Redis adapter only)."
    );
    describe_counter!(
        COMPRESSION_IN_BYTES_TOTAL,
        "Bytes of WebSocket messages given to permessage-deflate (once per shared broadcast frame)."
    );
    describe_counter!(
        COMPRESSION_OUT_BYTES_TOTAL,
        "Bytes permessage-deflate made of them."
    );
    describe_counter!(
        RECOVERIES_TOTAL,
        "Reconnecting clients that asked to resume their session, by outcome."
    );
    describe_counter!(
        CLUSTER_PUBLISHED_TOTAL,
        "Messages published to Redis for the other nodes."
    );
    describe_counter!(
        CLUSTER_RECEIVED_TOTAL,
        "Messages from other nodes received through Redis."
    );
    describe_counter!(
        CLUSTER_DROPPED_TOTAL,
        "Messages for the other nodes dropped because Redis was away or slow."
    );
    describe_counter!(
        CLUSTER_MALFORMED_TOTAL,
        "Messages from Redis dropped as malformed or oversized."
    );
}
