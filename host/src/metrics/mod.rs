//! What the gateway counts, on the `metrics` facade, rendered for Prometheus at
//! `/metrics` by `metrics-exporter-prometheus`.
//!
//! [`install`] makes the process's recorder; a handle made before it (or in a process
//! that never installs one, like the in-process tests) counts nothing. The hot paths
//! hold handles registered once ([`NamespaceMetrics`] for a namespace,
//! [`PluginMetrics`] for a plugin version, the statics here for the rest), so counting
//! an event is an atomic add behind a pointer; what happens once per connection looks
//! its labelled series up by name. The plugin call times are the one exception to
//! the recorder: the `histogram` module keeps them (and renders them with the rest).

mod histogram;
mod names;
mod namespace;
mod plugin;
pub mod traffic;

use std::sync::{LazyLock, OnceLock};

use metrics::{Counter, Gauge, counter, gauge};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

pub use names::*;
pub use namespace::NamespaceMetrics;
pub use plugin::{CallOutcome, PluginMetrics};

use crate::reason::DisconnectReason;

/// The recorder's handle, for rendering.
static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Why the recorder could not be installed.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    /// Another recorder was installed first.
    #[error("a metrics recorder is already installed")]
    AlreadyInstalled,
}

/// Installs the process's Prometheus recorder and describes every metric. Call it
/// once, first thing: handles registered before it count nothing.
pub fn install() -> Result<(), InstallError> {
    let recorder = PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder).map_err(|_| InstallError::AlreadyInstalled)?;
    let _ = HANDLE.set(handle);
    names::describe();
    // No series of the exporter's is a histogram (the plugin call times are
    // `histogram`'s), so it buffers nothing and needs no upkeep.
    Ok(())
}

/// Every metric in the Prometheus text exposition format (empty when no recorder
/// was installed).
pub fn render() -> String {
    let Some(handle) = HANDLE.get() else {
        return String::new();
    };
    let mut out = handle.render();
    histogram::render(&mut out);
    out
}

/// A connection's transport, as the `transport` label spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// Engine.IO over HTTP long-polling.
    Polling,
    /// Engine.IO over WebSocket.
    Websocket,
    /// The native `{event, data}` WebSocket endpoint.
    Native,
}

impl Transport {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Polling => "polling",
            Transport::Websocket => "websocket",
            Transport::Native => "native",
        }
    }
}

fn open_connections(transport: Transport) -> Gauge {
    gauge!(CONNECTIONS_OPEN, "transport" => transport.as_str())
}

/// Counts a connection opened on `transport`.
pub fn connection_opened(transport: Transport) {
    counter!(CONNECTIONS_TOTAL, "transport" => transport.as_str()).increment(1);
    open_connections(transport).increment(1.0);
    traffic::TRAFFIC.opened();
}

/// Moves a connection from polling to WebSocket: its upgrade completed.
pub fn connection_upgraded() {
    open_connections(Transport::Polling).decrement(1.0);
    open_connections(Transport::Websocket).increment(1.0);
}

/// Counts a connection on `transport` closed for `reason`.
pub fn connection_closed(transport: Transport, reason: DisconnectReason) {
    open_connections(transport).decrement(1.0);
    counter!(DISCONNECTS_TOTAL, "reason" => reason.as_str()).increment(1);
    traffic::TRAFFIC.closed(reason);
    if reason == DisconnectReason::SlowConsumer {
        SLOW_CONSUMERS.increment(1);
    }
}

/// Counts an HTTP request refused with Engine.IO error `code` (its message).
pub fn request_refused(error: &'static str) {
    counter!(REJECTED_REQUESTS_TOTAL, "error" => error).increment(1);
}

/// Counts a refusal by one of the gateway's limits, named as the config names it.
pub fn limit_refused(limit: &'static str) {
    counter!(LIMIT_REFUSALS_TOTAL, "limit" => limit).increment(1);
}

/// Counts a connection to `namespace` refused for its token (`reason`: missing,
/// invalid, expired).
pub fn auth_failed(namespace: &str, reason: &'static str) {
    counter!(AUTH_FAILURES_TOTAL, "namespace" => namespace.to_owned(), "reason" => reason).increment(1);
}

/// Counts one message compressed: its bytes before and after.
pub fn compressed(before: usize, after: usize) {
    static IN: LazyLock<Counter> = LazyLock::new(|| counter!(COMPRESSION_IN_BYTES_TOTAL));
    static OUT: LazyLock<Counter> = LazyLock::new(|| counter!(COMPRESSION_OUT_BYTES_TOTAL));
    IN.increment(before as u64);
    OUT.increment(after as u64);
}

/// Counts a client asking `namespace` to resume its session: whether its session was
/// there to claim (`recovered`) or it gets a new one (`new_session`).
pub fn recovery_claimed(namespace: &str, claimed: bool) {
    let outcome = if claimed { "recovered" } else { "new_session" };
    counter!(RECOVERIES_TOTAL, "namespace" => namespace.to_owned(), "outcome" => outcome).increment(1);
}

/// Counts a plugin version offered to the registry: `accepted` (now serving) or not.
pub fn plugin_reloaded(plugin: &str, accepted: bool) {
    let outcome = if accepted { "accepted" } else { "rejected" };
    counter!(PLUGIN_RELOADS_TOTAL, "plugin" => plugin.to_owned(), "outcome" => outcome).increment(1);
}

/// Counts a config reload: `accepted` (applied, if only in part) or `rejected`.
pub fn config_reloaded(accepted: bool) {
    let outcome = if accepted { "accepted" } else { "rejected" };
    counter!(CONFIG_RELOADS_TOTAL, "outcome" => outcome).increment(1);
}

// The few unlabelled series of hot paths, registered on first use (after `install`).

/// Engine.IO messages and native frames received from clients.
pub static MESSAGES_IN: LazyLock<Counter> = LazyLock::new(|| counter!(MESSAGES_IN_TOTAL));
/// Writes to clients (a batch of messages counts each one).
pub static MESSAGES_OUT: LazyLock<Counter> = LazyLock::new(|| counter!(MESSAGES_OUT_TOTAL));
/// Events refused by a socket's rate limit: a flood's every event, so a handle.
pub static RATE_LIMITED: LazyLock<Counter> =
    LazyLock::new(|| counter!(LIMIT_REFUSALS_TOTAL, "limit" => "events_per_second"));
/// Clients disconnected because their outbound queue was full.
pub static SLOW_CONSUMERS: LazyLock<Counter> = LazyLock::new(|| counter!(SLOW_CONSUMER_DISCONNECTS_TOTAL));
/// Messages published to Redis.
pub static CLUSTER_PUBLISHED: LazyLock<Counter> = LazyLock::new(|| counter!(CLUSTER_PUBLISHED_TOTAL));
/// Messages from Redis received and applied.
pub static CLUSTER_RECEIVED: LazyLock<Counter> = LazyLock::new(|| counter!(CLUSTER_RECEIVED_TOTAL));
/// Messages for the other nodes dropped (Redis away or slow).
pub static CLUSTER_DROPPED: LazyLock<Counter> = LazyLock::new(|| counter!(CLUSTER_DROPPED_TOTAL));
/// Messages from Redis dropped as malformed or oversized.
pub static CLUSTER_MALFORMED: LazyLock<Counter> = LazyLock::new(|| counter!(CLUSTER_MALFORMED_TOTAL));
/// Plugin store operations that failed and answered as if unset.
pub static STORE_ERRORS: LazyLock<Counter> = LazyLock::new(|| counter!(STORE_ERRORS_TOTAL));

/// Sets whether the cluster link to Redis is up.
pub fn cluster_connected(up: bool) {
    gauge!(CLUSTER_CONNECTED).set(if up { 1.0 } else { 0.0 });
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// What `record` counted, rendered by a recorder of its own.
    fn rendered(record: impl FnOnce()) -> String {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, record);
        let mut out = handle.render();
        histogram::render(&mut out);
        out
    }

    fn has(text: &str, line: &str) {
        assert!(text.lines().any(|l| l == line), "no `{line}` in:\n{text}");
    }

    #[test]
    fn a_namespace_counts_under_its_label() {
        let text = rendered(|| {
            let ns = NamespaceMetrics::new("/chat");
            ns.socket_joined();
            ns.socket_joined();
            ns.event_in();
            ns.event_in();
            ns.event_out();
            ns.ack();
            ns.broadcast(3);
            ns.broadcast(0);
            ns.socket_left(DisconnectReason::PingTimeout);
        });
        has(&text, r#"portico_sockets_open{namespace="/chat"} 1"#);
        has(&text, r#"portico_socket_connects_total{namespace="/chat"} 2"#);
        has(
            &text,
            r#"portico_socket_disconnects_total{namespace="/chat",reason="ping timeout"} 1"#,
        );
        has(&text, r#"portico_events_in_total{namespace="/chat"} 2"#);
        has(&text, r#"portico_events_out_total{namespace="/chat"} 1"#);
        has(&text, r#"portico_acks_total{namespace="/chat"} 1"#);
        has(&text, r#"portico_broadcasts_total{namespace="/chat"} 2"#);
        has(&text, r#"portico_deliveries_total{namespace="/chat"} 3"#);
    }

    #[test]
    fn connections_move_between_transports_and_close_with_their_reason() {
        let text = rendered(|| {
            connection_opened(Transport::Polling);
            connection_opened(Transport::Polling);
            connection_upgraded();
            connection_opened(Transport::Native);
            connection_closed(Transport::Websocket, DisconnectReason::SlowConsumer);
        });
        has(&text, r#"portico_connections_total{transport="polling"} 2"#);
        has(&text, r#"portico_connections_open{transport="polling"} 1"#);
        has(&text, r#"portico_connections_open{transport="websocket"} 0"#);
        has(&text, r#"portico_connections_open{transport="native"} 1"#);
        has(&text, r#"portico_disconnects_total{reason="slow consumer"} 1"#);
    }

    #[test]
    fn a_plugin_call_counts_its_outcome_and_its_time() {
        let text = rendered(|| {
            let plugin = PluginMetrics::new("chat", "handler-plugin");
            plugin.call(Duration::from_micros(40), CallOutcome::Ok);
            plugin.call(Duration::from_millis(50), CallOutcome::Deadline);
            plugin.call(Duration::from_micros(30), CallOutcome::Trap);
            plugin_reloaded("chat", true);
            plugin_reloaded("chat", false);
        });
        let labels = r#"plugin="chat",world="handler-plugin""#;
        has(&text, &format!("portico_plugin_calls_total{{{labels}}} 3"));
        has(
            &text,
            &format!(r#"portico_plugin_errors_total{{{labels},error="deadline"}} 1"#),
        );
        has(
            &text,
            &format!(r#"portico_plugin_errors_total{{{labels},error="trap"}} 1"#),
        );
        has(
            &text,
            &format!(r#"portico_plugin_errors_total{{{labels},error="memory"}} 0"#),
        );
        // A histogram: two calls within 50 µs, all three within 100 ms.
        has(&text, "# TYPE portico_plugin_call_seconds histogram");
        has(
            &text,
            &format!(r#"portico_plugin_call_seconds_bucket{{{labels},le="0.00005"}} 2"#),
        );
        has(
            &text,
            &format!(r#"portico_plugin_call_seconds_bucket{{{labels},le="0.1"}} 3"#),
        );
        has(
            &text,
            &format!(r#"portico_plugin_call_seconds_bucket{{{labels},le="+Inf"}} 3"#),
        );
        has(&text, &format!("portico_plugin_call_seconds_count{{{labels}}} 3"));
        has(
            &text,
            &format!("portico_plugin_call_seconds_sum{{{labels}}} 0.05007"),
        );
        has(
            &text,
            r#"portico_plugin_reloads_total{plugin="chat",outcome="accepted"} 1"#,
        );
        has(
            &text,
            r#"portico_plugin_reloads_total{plugin="chat",outcome="rejected"} 1"#,
        );
    }
}
