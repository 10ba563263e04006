//! Why a connection or a socket ended, in Socket.IO's own words.

/// The reason a connection or socket was closed; [`DisconnectReason::as_str`] gives
/// the string Socket.IO applications already match on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DisconnectReason {
    /// The client closed the connection (or sent an Engine.IO close packet).
    TransportClose,
    /// The connection failed: an IO error, an oversized message, an overlapping poll.
    TransportError,
    /// The client did not answer a ping in time.
    PingTimeout,
    /// The client sent a packet that could not be decoded.
    ParseError,
    /// The client could not keep up: its outbound queue filled up.
    SlowConsumer,
    /// The server closed the whole connection on purpose.
    ForcedClose,
    /// The connection joined no namespace within the connect timeout.
    ConnectTimeout,
    /// The server is shutting down.
    ServerShutdown,
    /// The server disconnected the socket from its namespace.
    ServerNamespaceDisconnect,
    /// The client left the namespace.
    ClientNamespaceDisconnect,
}

impl DisconnectReason {
    /// The reason string as Socket.IO spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            DisconnectReason::TransportClose => "transport close",
            DisconnectReason::TransportError => "transport error",
            DisconnectReason::PingTimeout => "ping timeout",
            DisconnectReason::ParseError => "parse error",
            DisconnectReason::SlowConsumer => "slow consumer",
            DisconnectReason::ForcedClose => "forced close",
            DisconnectReason::ConnectTimeout => "connect timeout",
            DisconnectReason::ServerShutdown => "server shutting down",
            DisconnectReason::ServerNamespaceDisconnect => "server namespace disconnect",
            DisconnectReason::ClientNamespaceDisconnect => "client namespace disconnect",
        }
    }
}

impl std::fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
