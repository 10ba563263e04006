//! The gateway's limits on what one client may use, and how a refusal reaches the
//! client: one [`Refusal`] enum, mapped to the wire and to `/metrics` here only.
//!
//! - [`rate`]: each socket's event budget (a token bucket, GCRA), and the strikes
//!   after which a flooding socket is disconnected.
//! - [`connections`]: connections open at once, in total and per client address.
//! - [`users`]: sockets per verified user in a namespace.
//!
//! The config keys are in [`crate::config::LimitsConfig`].

pub mod connections;
pub mod rate;
pub mod users;

pub use connections::{ConnectionLimits, ConnectionPermit, peer_ip};
pub use rate::{EventBudget, EventLimits, Verdict};
pub use users::UserSockets;

/// What each socket of a namespace may use, from `[limits]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SocketLimits {
    /// Its event budget.
    pub events: EventLimits,
    /// Most rooms it may be in at once.
    pub rooms: usize,
    /// Most sockets of one user in the namespace on this node; `0` for no limit.
    pub per_user: usize,
}

impl SocketLimits {
    /// No limit at all.
    pub const UNLIMITED: SocketLimits = SocketLimits {
        events: EventLimits::UNLIMITED,
        rooms: usize::MAX,
        per_user: 0,
    };

    /// The limits `[limits]` sets.
    pub fn from_config(limits: &crate::config::LimitsConfig) -> SocketLimits {
        SocketLimits {
            events: EventLimits::from_config(limits),
            rooms: limits.rooms_per_socket,
            per_user: limits.max_connections_per_user,
        }
    }
}

impl Default for SocketLimits {
    fn default() -> SocketLimits {
        SocketLimits::UNLIMITED
    }
}

/// Why a limit refused what a client asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The socket sent events faster than `events_per_second` allows.
    #[error("too many events: slow down")]
    RateLimited,
    /// A join would put the socket in more than `rooms_per_socket` rooms.
    #[error("too many rooms for this socket")]
    RoomLimit,
    /// The connection asked for more than `namespaces_per_client` namespaces.
    #[error("too many namespaces for this connection")]
    NamespaceLimit,
    /// The node holds `max_connections` connections already.
    #[error("server is at its connection limit")]
    Connections,
    /// The client's address holds `max_connections_per_ip` connections already.
    #[error("too many connections from this address")]
    ConnectionsPerIp,
    /// The user holds `max_connections_per_user` sockets in the namespace already.
    #[error("too many connections for this user")]
    ConnectionsPerUser,
}

impl Refusal {
    /// The config key of the limit, which is also its `limit` label in `/metrics`.
    pub fn limit(self) -> &'static str {
        match self {
            Refusal::RateLimited => "events_per_second",
            Refusal::RoomLimit => "rooms_per_socket",
            Refusal::NamespaceLimit => "namespaces_per_client",
            Refusal::Connections => "max_connections",
            Refusal::ConnectionsPerIp => "max_connections_per_ip",
            Refusal::ConnectionsPerUser => "max_connections_per_user",
        }
    }

    /// The `code` a client reads in the error it gets.
    pub fn code(self) -> &'static str {
        match self {
            Refusal::RateLimited => "RATE_LIMITED",
            Refusal::RoomLimit => "ROOM_LIMIT",
            Refusal::NamespaceLimit => "NAMESPACE_LIMIT",
            Refusal::Connections => "CONNECTION_LIMIT",
            Refusal::ConnectionsPerIp => "IP_CONNECTION_LIMIT",
            Refusal::ConnectionsPerUser => "USER_CONNECTION_LIMIT",
        }
    }

    /// The HTTP status of a refused connection: 503 when the node is full, 429 when
    /// the client holds too many.
    pub fn status(self) -> http::StatusCode {
        match self {
            Refusal::Connections => http::StatusCode::SERVICE_UNAVAILABLE,
            _ => http::StatusCode::TOO_MANY_REQUESTS,
        }
    }

    /// `{message, code}`: the body of the `error` event, the ack error and the HTTP
    /// refusal.
    pub fn body(self) -> serde_json::Value {
        serde_json::json!({ "message": self.to_string(), "code": self.code() })
    }

    /// The HTTP answer refusing a connection: [`Refusal::status`], `{message, code}`.
    pub fn response(self) -> axum::response::Response {
        use axum::response::IntoResponse;
        (self.status(), axum::Json(self.body())).into_response()
    }

    /// Counts it in `portico_limit_refusals_total{limit}`.
    pub fn count(self) {
        match self {
            // Each event of a flood: a held handle, not a lookup by name.
            Refusal::RateLimited => crate::metrics::RATE_LIMITED.increment(1),
            other => crate::metrics::limit_refused(other.limit()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_refusal_names_its_config_key_and_a_distinct_code() {
        let all = [
            Refusal::RateLimited,
            Refusal::RoomLimit,
            Refusal::NamespaceLimit,
            Refusal::Connections,
            Refusal::ConnectionsPerIp,
            Refusal::ConnectionsPerUser,
        ];
        let codes: std::collections::HashSet<_> = all.iter().map(|r| r.code()).collect();
        assert_eq!(codes.len(), all.len());
        for refusal in all {
            let key = refusal.limit();
            let parsed = toml::from_str::<crate::config::LimitsConfig>(&format!("{key} = 1"));
            assert!(parsed.is_ok(), "`{key}` is a [limits] key: {parsed:?}");
            assert_eq!(refusal.body()["code"], refusal.code());
            let connect_error = crate::router::handler::ConnectRefusal::from(refusal).to_json();
            assert_eq!(
                connect_error["data"]["code"],
                refusal.code(),
                "what socket.io-client shows as err.data"
            );
        }
        assert_eq!(Refusal::RateLimited.body()["code"], "RATE_LIMITED");
    }
}
