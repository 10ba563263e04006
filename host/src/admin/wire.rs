//! The Admin UI's payloads, as `@socket.io/admin-ui` 0.5's server sends them: the
//! features offered, a socket as the UI lists it, the node's statistics.

use std::time::SystemTime;

use serde_json::{Value, json};

use crate::config::AdminMode;
use crate::metrics::traffic::TrafficSince;
use crate::protocol::cluster::RemoteSocket;
use crate::router::{Room, Socket};

/// `config {supportedFeatures}`: the commands a read-only UI may not send are left
/// out; the live view only in development mode.
pub fn features(readonly: bool, mode: AdminMode) -> Vec<&'static str> {
    let mut features = if readonly {
        Vec::new()
    } else {
        vec![
            "EMIT",
            "JOIN",
            "LEAVE",
            "DISCONNECT",
            "MJOIN",
            "MLEAVE",
            "MDISCONNECT",
        ]
    };
    features.push("AGGREGATED_EVENTS");
    if mode == AdminMode::Development {
        features.push("ALL_EVENTS");
    }
    features
}

/// A time as JavaScript's `Date` serialises to JSON: `2026-12-04T21:39:49.669Z`.
pub fn iso(at: SystemTime) -> String {
    let since = at.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    let millis = since.as_millis() as i128;
    let at = time::OffsetDateTime::from_unix_timestamp_nanos(millis * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    at.format(&format).unwrap_or_default()
}

/// Now, as [`iso`] writes it.
pub fn now() -> String {
    iso(SystemTime::now())
}

/// One of this node's sockets as the UI lists it, given its rooms.
pub fn local_socket(socket: &Socket, rooms: Vec<Room>) -> Value {
    let client = socket.client_id().unwrap_or(socket.id()).to_owned();
    let transport = socket.transport();
    listed(socket.nsp(), socket.describe(rooms), client, transport)
}

/// A socket another node described (`fetchSockets`) as the UI lists it: its
/// connection and transport from `data._admin` when that node keeps them (as Node's
/// instrumented servers do), else its id and `websocket`.
pub fn remote_socket(nsp: &str, remote: RemoteSocket) -> Value {
    let admin = remote.data.get("_admin");
    let client = admin
        .and_then(|a| a.get("clientId"))
        .and_then(Value::as_str)
        .map_or_else(|| remote.id.clone(), ToOwned::to_owned);
    let transport = match admin.and_then(|a| a.get("transport")).and_then(Value::as_str) {
        Some("polling") => "polling",
        _ => "websocket",
    };
    listed(nsp, remote, client, transport)
}

fn listed(nsp: &str, described: RemoteSocket, client: String, transport: &str) -> Value {
    let RemoteSocket {
        id,
        mut handshake,
        rooms,
        mut data,
    } = described;
    // As the Node server: the auth payload (tokens, passwords) is never shown.
    if let Some(handshake) = handshake.as_object_mut() {
        handshake.remove("auth");
    }
    if let Some(data) = data.as_object_mut() {
        data.remove("_admin");
    }
    if !data.is_object() {
        data = json!({});
    }
    json!({
        "id": id,
        "clientId": client,
        "transport": transport,
        "nsp": nsp,
        "data": data,
        "handshake": handshake,
        "rooms": rooms,
    })
}

/// What `server_stats` says of this node.
pub struct Stats<'a> {
    /// The node's name in the UI.
    pub server_id: &'a str,
    /// The host's name.
    pub hostname: &'a str,
    /// Seconds since start.
    pub uptime: f64,
    /// Connections open (both transports).
    pub clients: usize,
    /// Engine.IO sessions still on long-polling.
    pub polling: usize,
    /// Each namespace's name and socket count on this node.
    pub namespaces: Vec<(String, usize)>,
    /// The traffic since the last statistics.
    pub traffic: TrafficSince,
    /// When they were taken.
    pub at: SystemTime,
}

impl Stats<'_> {
    /// The `server_stats` payload.
    pub fn to_json(&self) -> Value {
        let second = self
            .at
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs()
            * 1000;
        let t = &self.traffic;
        let mut events = Vec::new();
        let mut count = |kind: &str, n: u64| {
            if n > 0 {
                events.push(json!({ "timestamp": second, "type": kind, "count": n }));
            }
        };
        count("rawConnection", t.connections);
        count("packetsIn", t.packets_in);
        count("bytesIn", t.bytes_in);
        count("packetsOut", t.packets_out);
        count("bytesOut", t.bytes_out);
        for (reason, n) in &t.disconnections {
            events.push(
                json!({ "timestamp": second, "type": "rawDisconnection", "subType": reason, "count": n }),
            );
        }
        json!({
            "serverId": self.server_id,
            "hostname": self.hostname,
            "pid": std::process::id(),
            "uptime": self.uptime,
            "clientsCount": self.clients,
            "pollingClientsCount": self.polling,
            "aggregatedEvents": events,
            "namespaces": self.namespaces.iter().map(|(name, n)| json!({ "name": name, "socketsCount": n })).collect::<Vec<_>>(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_as_the_node_server_offers_them() {
        assert_eq!(
            features(false, AdminMode::Development),
            [
                "EMIT",
                "JOIN",
                "LEAVE",
                "DISCONNECT",
                "MJOIN",
                "MLEAVE",
                "MDISCONNECT",
                "AGGREGATED_EVENTS",
                "ALL_EVENTS"
            ]
        );
        assert_eq!(
            features(false, AdminMode::Production).last(),
            Some(&"AGGREGATED_EVENTS")
        );
        assert_eq!(
            features(true, AdminMode::Development),
            ["AGGREGATED_EVENTS", "ALL_EVENTS"]
        );
        assert_eq!(features(true, AdminMode::Production), ["AGGREGATED_EVENTS"]);
    }

    #[test]
    fn times_are_javascript_iso_strings() {
        let at = SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(1_796_420_389_669);
        assert_eq!(iso(at), "2026-12-04T21:39:49.669Z");
        assert_eq!(iso(SystemTime::UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn a_remote_socket_is_listed_without_its_auth_or_admin_data() {
        let remote = RemoteSocket {
            id: "s1".into(),
            handshake: json!({ "headers": {}, "query": {}, "auth": { "token": "secret" }, "issued": 1 }),
            rooms: vec!["s1".into(), "lobby".into()],
            data: json!({ "user": { "sub": "7" }, "_admin": { "clientId": "c1", "transport": "polling" } }),
        };
        assert_eq!(
            remote_socket("/chat", remote),
            json!({
                "id": "s1", "clientId": "c1", "transport": "polling", "nsp": "/chat",
                "data": { "user": { "sub": "7" } },
                "handshake": { "headers": {}, "query": {}, "issued": 1 },
                "rooms": ["s1", "lobby"],
            })
        );
    }

    #[test]
    fn stats_bucket_the_traffic_in_whole_seconds() {
        let mut traffic = TrafficSince {
            connections: 2,
            bytes_out: 100,
            ..TrafficSince::default()
        };
        traffic.disconnections.insert("transport close", 1);
        let stats = Stats {
            server_id: "node#1",
            hostname: "node",
            uptime: 1.5,
            clients: 3,
            polling: 1,
            namespaces: vec![("/".into(), 2), ("/admin".into(), 1)],
            traffic,
            at: SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(5_678),
        }
        .to_json();
        assert_eq!(
            stats["aggregatedEvents"],
            json!([
                { "timestamp": 5000, "type": "rawConnection", "count": 2 },
                { "timestamp": 5000, "type": "bytesOut", "count": 100 },
                { "timestamp": 5000, "type": "rawDisconnection", "subType": "transport close", "count": 1 },
            ])
        );
        assert_eq!(
            stats["namespaces"],
            json!([{ "name": "/", "socketsCount": 2 }, { "name": "/admin", "socketsCount": 1 }])
        );
        assert_eq!(stats["clientsCount"], 3);
        assert_eq!(stats["pollingClientsCount"], 1);
        assert_eq!(stats["pid"], std::process::id());
    }
}
