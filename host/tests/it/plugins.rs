//! The plugin pipeline with real components (`misbehaving.wasm` from `plugins/`),
//! driven through each namespace's handler with no transport: guards and validators
//! that are missing, broken or of the wrong kind fail closed; a missing filter shows
//! nothing internal; a trap, a loop or an allocation without bound fails that call
//! only; a failed call's effects never apply; a socket that leaves during a slow
//! `join` ends up in no room; a gateway dropped drops its plugins; server events reach
//! every handler plugin, whose answer and emits apply, and whose trap answers nothing;
//! a call spinning to its deadline leaves its thread to other calls meanwhile;
//! binary crosses into a plugin and back byte for byte, a plugin's socket handle
//! reads the socket's details, and a plugin's ack whose placeholder has no
//! attachment is refused; a plugin built against another contract version is
//! refused with a message naming both; a warm instance is replaced after its
//! `recycle_after_calls` calls or a call that grew its memory past `recycle_memory_mb`.

use std::sync::Arc;
use std::time::Duration;

use portico::reason::DisconnectReason;
use portico::router::Targets;
use portico::router::handler::ServerEvent;
use portico::server::Gateway;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::support::{DirectSocket, SOON, TempDir, TestGateway, plugin_config, plugin_gateway};

/// What every internal failure shows the client.
fn internal() -> Value {
    json!({ "message": "Internal error", "code": "INTERNAL_ERROR" })
}

/// The `[namespaces]` of the fault tests. The deadline is short so loops end quickly.
const FAULTS: &str = r#"
[plugins.limits]
deadline_ms = 100

[namespaces."/"]
plugins = ["misbehaving"]

[namespaces."/absent-guard"]
plugins = ["misbehaving"]
guards = ["absent-guard"]

[namespaces."/broken-guard"]
plugins = ["misbehaving"]
guards = ["broken"]

[namespaces."/wrong-kind-guard"]
plugins = ["misbehaving"]
guards = ["misbehaving"]

[namespaces."/absent-validator"]
plugins = ["misbehaving"]
[namespaces."/absent-validator".validators]
"slow-join" = ["absent-validator"]

[namespaces."/absent-filter"]
plugins = ["misbehaving"]
filters = ["absent-filter"]

[namespaces."/ack-errors"]
plugins = ["misbehaving"]
ack_errors = true
"#;

/// The fault gateway: `misbehaving.wasm`, and `broken.wasm`, which is not a component.
async fn faults() -> (TestGateway, TempDir) {
    plugin_gateway(
        &["misbehaving"],
        &[("broken.wasm", b"\0asm but nothing more")],
        FAULTS,
    )
    .await
}

/// A socket admitted to namespace `name` of `gw`.
fn socket(gw: &TestGateway, name: &str) -> DirectSocket {
    DirectSocket::join(gw.namespaces.get(name).expect("namespace served"))
}

/// The events among Socket.IO packets queued for a socket of namespace `nsp`:
/// `[name, args…]` each.
fn events(nsp: &str, sent: &[String]) -> Vec<Value> {
    let prefix = if nsp == "/" {
        "42".to_owned()
    } else {
        format!("42{nsp},")
    };
    sent.iter()
        .map(|packet| {
            let body = packet
                .strip_prefix(&prefix)
                .unwrap_or_else(|| panic!("not an event of {nsp}: {packet}"));
            serde_json::from_str(body).expect("event JSON")
        })
        .collect()
}

/// Awaits a plugin call, which must end well within `SOON` whatever the plugin does.
async fn call(s: &DirectSocket, name: &str, arg: Value) -> Option<Vec<Value>> {
    tokio::time::timeout(SOON, s.event(name, arg))
        .await
        .unwrap_or_else(|_| panic!("`{name}` did not end"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guard_or_validator_that_cannot_run_fails_closed() {
    let (gw, _dir) = faults().await;
    // The handler, when it runs, joins `in` and acks "joined": the control case.
    let mut open = socket(&gw, "/");
    let arg = json!({ "room": "in", "ms": 0 });
    assert_eq!(
        call(&open, "slow-join", arg.clone()).await,
        Some(vec![json!("joined")])
    );
    assert!(open.rooms().iter().any(|r| &**r == "in"));
    assert_eq!(open.sent(), Vec::<String>::new());

    for nsp in [
        "/absent-guard",
        "/broken-guard",
        "/wrong-kind-guard",
        "/absent-validator",
    ] {
        let mut s = socket(&gw, nsp);
        assert_eq!(call(&s, "slow-join", arg.clone()).await, None, "{nsp}: no ack");
        assert!(
            !s.rooms().iter().any(|r| &**r == "in"),
            "{nsp}: the handler ran behind a guard or validator that could not run"
        );
        assert_eq!(events(nsp, &s.sent()), [json!(["error", internal()])], "{nsp}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_its_filter_a_failure_shows_only_an_internal_error() {
    let (gw, _dir) = faults().await;
    let mut s = socket(&gw, "/absent-filter");
    for event in ["trap", "loop", "oom"] {
        assert_eq!(call(&s, event, json!({})).await, None, "{event}");
        assert_eq!(
            events("/absent-filter", &s.sent()),
            [json!(["error", internal()])],
            "what `{event}` showed the client"
        );
    }
    // A plugin's own WsException still reaches the client as it wrote it.
    assert_eq!(call(&s, "emit-then-fail", json!({})).await, None);
    assert_eq!(
        events("/absent-filter", &s.sent()),
        [json!(["error", { "message": "failed after emitting", "code": "WS_ERROR" }])]
    );
    assert_eq!(call(&s, "fine", json!({})).await, Some(vec![json!("ok")]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trap_a_loop_or_unbounded_memory_fails_that_call_only() {
    let (gw, _dir) = faults().await;
    let mut bad = socket(&gw, "/");
    let other = socket(&gw, "/");
    // Another client is answered while a call loops toward its deadline.
    let looping = tokio::spawn({
        let bad = DirectSocket::join(gw.namespaces.get("/").expect("/"));
        async move { (bad.event("loop", json!({})).await, bad) }
    });
    assert_eq!(call(&other, "fine", json!({})).await, Some(vec![json!("ok")]));
    let (ack, mut looped) = tokio::time::timeout(SOON, looping)
        .await
        .expect("the loop is cut at its deadline")
        .expect("task");
    assert_eq!(ack, None);
    assert_eq!(events("/", &looped.sent()), [json!(["error", internal()])]);

    for event in ["trap", "oom", "trap"] {
        assert_eq!(call(&bad, event, json!({})).await, None, "{event}");
        assert_eq!(
            events("/", &bad.sent()),
            [json!(["error", internal()])],
            "{event}"
        );
        // The failed instance is gone; the next call gets a sound one.
        assert_eq!(
            call(&bad, "fine", json!({})).await,
            Some(vec![json!("ok")]),
            "after {event}"
        );
    }
    assert!(
        bad.socket.connected() && other.socket.connected(),
        "nobody was disconnected"
    );
}

/// On a runtime of one thread, a call spinning toward its deadline leaves that thread
/// to the other connections between epoch ticks: calls the thread takes up meanwhile
/// are answered while the spinning one still runs.
#[tokio::test(flavor = "current_thread")]
async fn a_call_spinning_to_its_deadline_does_not_stall_its_thread() {
    let (gw, _dir) = plugin_gateway(
        &["misbehaving"],
        &[],
        "[plugins.limits]\ndeadline_ms = 1500\n\n[namespaces.\"/\"]\nplugins = [\"misbehaving\"]\n",
    )
    .await;
    let looping = tokio::spawn({
        let bad = socket(&gw, "/");
        async move { bad.event("loop", json!({})).await }
    });
    // Let the spawned call start spinning on the thread before the control calls.
    tokio::task::yield_now().await;
    let other = socket(&gw, "/");
    for i in 0..5 {
        assert_eq!(
            call(&other, "fine", json!({})).await,
            Some(vec![json!("ok")]),
            "control call {i}"
        );
        assert!(
            !looping.is_finished(),
            "control call {i} waited for the spinning call"
        );
    }
    let ack = tokio::time::timeout(SOON, looping)
        .await
        .expect("the loop is cut at its deadline")
        .expect("task");
    assert_eq!(ack, None, "the spinning call failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_call_emits_nothing() {
    let (gw, _dir) = faults().await;
    let mut watcher = socket(&gw, "/");
    let mut bad = socket(&gw, "/");
    // `emit-then-fail` broadcasts, then fails; `flood` asks for 100 000 emits.
    assert_eq!(call(&bad, "emit-then-fail", json!({})).await, None);
    assert_eq!(call(&bad, "flood", json!({})).await, None);
    assert_eq!(
        events("/", &bad.sent()),
        [
            json!(["error", { "message": "failed after emitting", "code": "WS_ERROR" }]),
            json!(["error", internal()]),
        ]
    );
    assert_eq!(
        watcher.sent(),
        Vec::<String>::new(),
        "the other socket received nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_ack_errors_a_failure_is_acked_as_well() {
    let (gw, _dir) = faults().await;
    let mut s = socket(&gw, "/ack-errors");
    assert_eq!(
        call(&s, "trap", json!({})).await,
        Some(vec![json!({ "error": internal() })])
    );
    assert_eq!(events("/ack-errors", &s.sent()), [json!(["error", internal()])]);
    // A success is acked plainly.
    assert_eq!(call(&s, "fine", json!({})).await, Some(vec![json!("ok")]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_that_leaves_during_a_slow_join_is_in_no_room() {
    let (gw, _dir) = plugin_gateway(
        &["misbehaving"],
        &[],
        "[plugins.limits]\ndeadline_ms = 5000\n\n[namespaces.\"/\"]\nplugins = [\"misbehaving\"]\n",
    )
    .await;
    let ns = gw.namespaces.get("/").expect("/").clone();
    let stays = socket(&gw, "/");
    let leaves = socket(&gw, "/");
    let (staying, leaving) = (stays.socket.clone(), leaves.socket.clone());
    let slow =
        |s: DirectSocket| async move { s.event("slow-join", json!({ "room": "late", "ms": 400 })).await };
    let calls = [tokio::spawn(slow(stays)), tokio::spawn(slow(leaves))];
    // Both calls are running (each joins at once, then works for 400 ms) when one
    // client goes away, as its connection closing removes it.
    tokio::time::sleep(Duration::from_millis(150)).await;
    ns.remove(&leaving, DisconnectReason::TransportClose);
    for call in calls {
        let ack = tokio::time::timeout(SOON, call)
            .await
            .expect("ends")
            .expect("task");
        assert_eq!(ack, Some(vec![json!("joined")]), "the call ran to the end");
    }
    assert!(
        ns.rooms_of(&leaving).is_empty(),
        "left, yet in {:?}",
        ns.rooms_of(&leaving)
    );
    let members: Vec<_> = ns
        .matching(&Targets::default().to("late"))
        .iter()
        .map(|s| s.id().clone())
        .collect();
    assert_eq!(
        members,
        [staying.id().clone()],
        "`late` holds the socket that stayed, only"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_dropped_drops_its_plugins_and_their_engine() {
    let (config, _dir) = plugin_config(
        &["misbehaving"],
        &[],
        "[namespaces.\"/\"]\nplugins = [\"misbehaving\"]\n",
    );
    let gateway = Gateway::new(&config).expect("gateway builds");
    // Not watched (`watch = false`): nothing but the gateway holds the registry.
    gateway
        .start(&config, &CancellationToken::new())
        .await
        .expect("gateway starts");
    let registry = Arc::downgrade(gateway.registry().expect("a registry"));
    let router = gateway.router();
    let s = DirectSocket::join(gateway.namespaces().get("/").expect("/"));
    assert_eq!(call(&s, "fine", json!({})).await, Some(vec![json!("ok")]));
    // The socket leaves (its plugin's on_disconnect runs in a task of its own).
    let ns = s.ns.clone();
    ns.remove(&s.socket, DisconnectReason::TransportClose);
    drop((s, ns, router, gateway));
    let gone = tokio::time::timeout(SOON, async {
        while registry.upgrade().is_some() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
    assert!(
        gone.await.is_ok(),
        "the registry outlived the gateway: a reference cycle keeps it (and the wasmtime engine) alive"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_event_reaches_every_handler_plugin_and_the_first_answer_wins() {
    let (gw, _dir) = plugin_gateway(
        &["misbehaving", "echo"],
        &[],
        "[plugins.limits]\ndeadline_ms = 100\n\n[namespaces.\"/\"]\nplugins = [\"misbehaving\", \"echo\"]\n",
    )
    .await;
    let mut s = socket(&gw, "/");
    let ns = s.ns.clone();
    let server_event = |name: &str, args: Vec<Value>| {
        let ns = ns.clone();
        let event = ServerEvent {
            name: name.to_owned(),
            args,
        };
        async move {
            tokio::time::timeout(SOON, ns.server_event(event))
                .await
                .expect("ends")
        }
    };
    // `misbehaving` does not answer `config-changed`; `echo` broadcasts its first
    // argument and answers with all of them.
    assert_eq!(
        server_event("config-changed", vec![json!({ "v": 2 }), json!("x")]).await,
        Some(json!([{ "v": 2 }, "x"]))
    );
    assert_eq!(events("/", &s.sent()), [json!(["config-changed", { "v": 2 }])]);
    // `misbehaving` traps (after emitting, which is not applied); `echo` still runs.
    assert_eq!(
        server_event("emit-then-trap", vec![json!(1)]).await,
        Some(json!([1]))
    );
    assert_eq!(
        events("/", &s.sent()),
        [json!(["emit-then-trap", 1])],
        "the trapped call's emit is not applied"
    );
    assert!(s.socket.connected(), "a trapping server event touches no socket");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_crosses_into_a_plugin_and_back_byte_for_byte() {
    use bytes::Bytes;
    use portico::protocol::socketio::{Payload, placeholder};
    let (gw, _dir) = plugin_gateway(&["echo"], &[], "[namespaces.\"/\"]\nplugins = [\"echo\"]\n").await;
    let s = socket(&gw, "/");
    let sent = Payload {
        args: vec![
            json!({ "a": placeholder(0), "list": [placeholder(1), { "deep": placeholder(2) }] }).into(),
        ],
        attachments: vec![
            Bytes::from_static(b"\x00\x01\xfe\xff"),
            Bytes::new(),
            Bytes::from(vec![7u8; 300_000]),
        ],
    };
    let ack = tokio::time::timeout(SOON, s.event_with("bin", sent.clone()))
        .await
        .expect("ends")
        .expect("acked");
    assert_eq!(ack, sent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_reads_its_socket_through_the_handle_and_a_bad_placeholder_is_refused() {
    let (gw, _dir) = faults().await;
    let mut headers = http::HeaderMap::new();
    headers.insert("x-team", http::HeaderValue::from_static("blue"));
    let handshake = portico::router::Handshake {
        auth: json!({ "token": "t" }),
        request: portico::engineio::RequestInfo {
            headers: Arc::new(headers),
            query: "EIO=4&room=a".into(),
            ..Default::default()
        },
        user: Some(json!({ "sub": "u1" })),
    };
    let mut s = DirectSocket::join_with(gw.namespaces.get("/").expect("/"), handshake);
    s.ns.join(&s.socket, &["lobby".into()]);
    let id = s.socket.id().to_string();
    // Its own room, the one it joined, and its user's (an identified socket is in it).
    let mut rooms = vec![id.clone(), "lobby".to_owned(), "user:u1".to_owned()];
    rooms.sort();
    let ack = call(&s, "whoami", json!(null)).await.expect("acked");
    let mut told = ack[0].clone();
    let mut told_rooms: Vec<String> = serde_json::from_value(told["rooms"].take()).expect("rooms");
    told_rooms.sort();
    assert_eq!(told_rooms, rooms);
    assert_eq!(
        told,
        json!({ "id": id, "namespace": "/", "user": { "sub": "u1" }, "auth": { "token": "t" }, "query": "EIO=4&room=a", "team": "blue", "rooms": null })
    );
    assert_eq!(call(&s, "bad-placeholder", json!(null)).await, None);
    assert_eq!(events("/", &s.sent()), [json!(["error", internal()])]);
    assert_eq!(call(&s, "fine", json!({})).await, Some(vec![json!("ok")]));
}

#[tokio::test]
async fn a_plugin_built_against_another_contract_version_is_refused_naming_both() {
    // All the gateway reads to tell a plugin's world: the interface it exports.
    let component = wat::parse_str(
        r#"(component
            (instance $handler)
            (export "portico:plugin/handler@0.1.0" (instance $handler)))"#,
    )
    .expect("valid component text");
    let dir = crate::support::temp_dir("old-contract");
    let path = dir.path().join("old.wasm");
    std::fs::write(&path, component).expect("write");
    let runtime = portico::plugins::runtime::Runtime::new(&dir.path().join("cache")).expect("runtime");
    let (_, err) = portico::plugins::check::check(&runtime, &path)
        .await
        .expect_err("refused");
    let err = err.to_string();
    assert!(
        err.contains("portico:plugin@0.1.0")
            && err.contains(&format!("@{}", portico::plugins::CONTRACT_VERSION)),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_threads_busy_instance_falls_back_on_the_bounded_pool() {
    let (gw, _dir) = plugin_gateway(
        &["misbehaving"],
        &[],
        "[plugins.limits]\npool_size = 1\ndeadline_ms = 2000\n\n[namespaces.\"/\"]\nplugins = [\"misbehaving\"]\n",
    )
    .await;
    let plugin = gw.plugin("misbehaving");
    let sockets: Vec<DirectSocket> = (0..3).map(|_| socket(&gw, "/")).collect();
    // Three calls at once on this one thread, each spinning (and yielding at every
    // epoch tick): the first has the thread's instance, the second the pool's only
    // one, the third waits for it.
    let slow = |i: usize| {
        call(
            &sockets[i],
            "slow-join",
            json!({ "room": format!("r{i}"), "ms": 40 }),
        )
    };
    let (a, b, c) = tokio::join!(slow(0), slow(1), slow(2));
    for answer in [a, b, c] {
        assert_eq!(answer, Some(vec![json!("joined")]));
    }
    assert_eq!(
        plugin.instantiated(),
        2,
        "the thread's own (the one made at load) and the pool's one; never a third"
    );
    for _ in 0..5 {
        assert_eq!(
            call(&sockets[0], "fine", json!({})).await,
            Some(vec![json!("ok")])
        );
    }
    assert_eq!(
        plugin.instantiated(),
        2,
        "calls one at a time reuse the thread's instance"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_warm_instance_is_replaced_after_its_calls_or_once_its_memory_grew() {
    let (gw, _dir) = plugin_gateway(
        &["misbehaving"],
        &[],
        "[plugins.limits]\npool_size = 1\nrecycle_after_calls = 3\nrecycle_memory_mb = 8\n\n[namespaces.\"/\"]\nplugins = [\"misbehaving\"]\n",
    )
    .await;
    let plugin = gw.plugin("misbehaving");
    let s = socket(&gw, "/");
    // The instance that checked the component at load serves the first calls.
    assert_eq!(plugin.instantiated(), 1);
    for _ in 0..3 {
        assert_eq!(call(&s, "fine", json!({})).await, Some(vec![json!("ok")]));
    }
    assert_eq!(
        (plugin.instantiated(), plugin.recycled()),
        (1, 1),
        "replaced after its 3rd call"
    );
    assert_eq!(call(&s, "fine", json!({})).await, Some(vec![json!("ok")]));
    assert_eq!(plugin.instantiated(), 2, "the next call got a fresh one");
    // Growing past 8 MiB (within the 64 MiB cap) succeeds, and costs the instance.
    assert_eq!(
        call(&s, "grow", json!({ "mb": 12 })).await,
        Some(vec![json!("grown")])
    );
    assert_eq!(plugin.recycled(), 2, "an instance that grew is not kept");
    assert_eq!(call(&s, "fine", json!({})).await, Some(vec![json!("ok")]));
    assert_eq!(plugin.instantiated(), 3);
    // A small allocation keeps it.
    assert_eq!(
        call(&s, "grow", json!({ "mb": 1 })).await,
        Some(vec![json!("grown")])
    );
    assert_eq!((plugin.instantiated(), plugin.recycled()), (3, 2));
}
