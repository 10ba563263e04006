use super::env::expand_str;
use super::*;

fn lookup(var: &str) -> Option<String> {
    match var {
        "SECRET" => Some("s3cr\"et".to_owned()),
        "PORT" => Some("4000".to_owned()),
        _ => None,
    }
}

fn parse(text: &str) -> Result<Config, ConfigError> {
    let config = Config::from_toml(text, Path::new("test.toml"))?;
    config.validate()?;
    Ok(config)
}

#[test]
fn defaults_serve_without_a_file() {
    let config = Config::load(None).expect("defaults are valid");
    assert_eq!(config.server.listen.to_string(), "127.0.0.1:3000");
    assert_eq!(config.engineio.max_payload, 1_000_000);
    assert_eq!(config.namespaces.keys().collect::<Vec<_>>(), ["/"]);
    assert_eq!(config.namespaces["/"].handler, BuiltinHandler::Echo);
}

#[test]
fn an_empty_file_is_the_defaults() {
    let config = parse("").expect("valid");
    assert_eq!(config.engineio.ping_interval_ms, 25_000);
    assert!(config.native.enabled);
}

#[test]
fn expands_variables_with_defaults_and_escapes() {
    let e = |s: &str| expand_str(s, "k", &lookup);
    assert_eq!(e("a${SECRET}b").expect("set"), "as3cr\"etb");
    assert_eq!(e("${NOPE:-fallback}").expect("default"), "fallback");
    assert_eq!(e("${NOPE:-}").expect("empty default"), "");
    assert_eq!(e("$${SECRET}").expect("escaped"), "${SECRET}");
    assert_eq!(e("cost $5").expect("plain dollar"), "cost $5");
    assert!(matches!(e("${NOPE}"), Err(ConfigError::MissingEnv { var, .. }) if var == "NOPE"));
    assert!(matches!(e("${OPEN"), Err(ConfigError::Invalid { .. })));
    assert!(matches!(e("${A-B}"), Err(ConfigError::Invalid { .. })));
}

#[test]
fn expansion_reaches_nested_tables_and_arrays() {
    let mut table: toml::Table = "[cors]\norigins = [\"https://${HOST:-a.example}\"]\n"
        .parse()
        .expect("toml");
    env::expand_table(&mut table, "", &lookup).expect("expands");
    assert_eq!(table["cors"]["origins"][0].as_str(), Some("https://a.example"));
    let mut table: toml::Table = "[cors]\norigins = [\"${MISSING}\"]\n".parse().expect("toml");
    let err = env::expand_table(&mut table, "", &lookup).expect_err("missing");
    assert!(err.to_string().contains("cors.origins[0]"), "{err}");
}

#[test]
fn reads_every_section() {
    let config = parse(
        r#"
        [server]
        listen = "0.0.0.0:8080"
        backlog = 128
        path = "/io/"
        [engineio]
        ping_interval_ms = 300
        ping_timeout_ms = 200
        max_payload = 5000
        upgrade_timeout_ms = 1000
        [socketio]
        connect_timeout_ms = 1000
        max_attachments = 2
        [cors]
        origins = ["https://app.example.com", "https://admin.example.com"]
        credentials = true
        [native]
        path = "/native"
        [limits]
        outbound_queue = 16
        [namespaces."/"]
        handler = "conformance"
        [namespaces."/custom"]
        handler = "none"
        "#,
    )
    .expect("valid");
    assert_eq!(config.server.backlog, 128);
    assert_eq!(config.engineio.ping_interval(), Duration::from_millis(300));
    assert_eq!(config.socketio.connect_timeout(), Duration::from_secs(1));
    assert_eq!(config.limits.outbound_queue, 16);
    assert_eq!(config.namespaces["/custom"].handler, BuiltinHandler::None);
}

#[test]
fn errors_name_the_key() {
    let err = parse("[engineio]\nping_interval_ms = \"fast\"\n").expect_err("type");
    assert!(err.to_string().contains("engineio.ping_interval_ms"), "{err}");
    let err = parse("[engineio]\nping_intervall_ms = 1\n").expect_err("unknown key");
    assert!(err.to_string().contains("ping_intervall_ms"), "{err}");
    let err = parse("[namespaces.\"/\"]\nhandler = \"shout\"\n").expect_err("bad enum");
    assert!(err.to_string().contains("namespaces./.handler"), "{err}");
    let err = parse("[server\n").expect_err("syntax");
    assert!(matches!(err, ConfigError::Syntax { .. }), "{err}");
}

#[test]
fn validation_refuses_values_that_cannot_work() {
    let cases = [
        ("[server]\npath = \"socket.io\"", "server.path"),
        ("[server]\nbacklog = 0", "server.backlog"),
        ("[engineio]\nping_timeout_ms = 0", "engineio.ping_interval_ms"),
        ("[engineio]\nmax_payload = 0", "engineio.max_payload"),
        ("[limits]\noutbound_queue = 0", "limits.outbound_queue"),
        ("[limits]\nevent_burst = 0", "limits.event_burst"),
        ("[limits]\nrooms_per_socket = 0", "limits.rooms_per_socket"),
        (
            "[limits]\nnamespaces_per_client = 0",
            "limits.namespaces_per_client",
        ),
        (
            "[limits]\nhandshake_timeout_ms = 0",
            "limits.handshake_timeout_ms",
        ),
        ("[native]\npath = \"ws/\"", "native.path"),
        ("[native]\npath = \"/socket.io/ws\"", "native.path"),
        ("[namespaces.chat]", "namespaces.\"chat\""),
        ("[cors]\norigins = [\"example.com\"]", "cors.origins"),
        ("[cors]\norigins = [\"https://example.com/\"]", "cors.origins"),
        (
            "[cors]\norigins = [\"*\"]\ncredentials = true",
            "cors.credentials",
        ),
        (
            "[cors]\norigins = [\"https://a.example\", \"*\"]\ncredentials = true",
            "cors.credentials",
        ),
        (
            "[websocket.compression]\nlevel = 10",
            "websocket.compression.level",
        ),
        (
            "[socketio.recovery]\nmax_disconnection_ms = 0",
            "socketio.recovery.max_disconnection_ms",
        ),
        (
            "[socketio.recovery]\nmax_bytes = 0",
            "socketio.recovery.max_bytes",
        ),
        (
            "[socketio.recovery]\nmax_sessions = 0",
            "socketio.recovery.max_sessions",
        ),
    ];
    for (text, key) in cases {
        match parse(text) {
            Err(ConfigError::Invalid { key: got, .. }) => assert_eq!(got, key, "{text}"),
            other => panic!("{text}: expected invalid {key}, got {other:?}"),
        }
    }
}

#[test]
fn read_errors_name_the_file() {
    let err = Config::load(Some(Path::new("/nonexistent/portico.toml"))).expect_err("missing");
    assert!(err.to_string().contains("/nonexistent/portico.toml"), "{err}");
}

#[test]
fn http_routes_parse_and_refuse_what_cannot_be_served() {
    let config = parse(
        "[http.routes]\n\"POST /notifications/send\" = \"notifications\"\n\"get /a.b-c_d~e\" = \"x\"\n",
    )
    .expect("valid");
    let routes = config.plugin_routes();
    assert_eq!(
        routes,
        [
            PluginRoute {
                method: ::http::Method::POST,
                path: "/notifications/send".into(),
                plugin: "notifications".into(),
            },
            PluginRoute {
                method: ::http::Method::GET,
                path: "/a.b-c_d~e".into(),
                plugin: "x".into(),
            },
        ]
    );
    let refused = [
        ("\"/x\" = \"p\"", "write a route as"),
        ("\"TRACE /x\" = \"p\"", "`TRACE` is not one of"),
        ("\"GET x\" = \"p\"", "is not a literal path"),
        ("\"GET /users/{id}\" = \"p\"", "is not a literal path"),
        ("\"GET /x/\" = \"p\"", "is not a literal path"),
        (
            "\"GET /socket.io/x\" = \"p\"",
            "served by the gateway itself (`/socket.io/`)",
        ),
        ("\"GET /socket.io\" = \"p\"", "served by the gateway itself"),
        ("\"GET /ws\" = \"p\"", "served by the gateway itself (`/ws`)"),
        (
            "\"GET /ws/chat\" = \"p\"",
            "served by the gateway itself (`/ws/`)",
        ),
        (
            "\"POST /api/v1/emit\" = \"p\"",
            "served by the gateway itself (`/api/`)",
        ),
        ("\"GET /healthz\" = \"p\"", "served by the gateway itself"),
        ("\"GET /x\" = \"no such plugin\"", "is not a plugin name"),
        ("\"GET /x\" = \"p\"\n\"get /x\" = \"q\"", "GET /x is mapped twice"),
    ];
    for (routes, reason) in refused {
        let text = format!("[http.routes]\n{routes}\n");
        match parse(&text) {
            Err(ConfigError::Invalid { key, reason: got }) => {
                assert!(key.starts_with("http.routes."), "{text}: {key}");
                assert!(got.contains(reason), "{text}: {got}");
            }
            other => panic!("{text}: expected invalid, got {other:?}"),
        }
    }
    assert!(parse("[native]\nenabled = false\n[http.routes]\n\"GET /ws\" = \"p\"\n").is_ok());
}

#[test]
fn the_api_key_enables_the_api_and_must_not_be_short() {
    assert_eq!(parse("").expect("valid").api.enabled_key(), None);
    assert_eq!(
        parse("[api]\nkey = \"\"\n").expect("valid").api.enabled_key(),
        None,
        "empty disables"
    );
    let on = parse("[api]\nkey = \"0123456789abcdef\"\n").expect("valid");
    assert_eq!(on.api.enabled_key(), Some("0123456789abcdef"));
    match parse("[api]\nkey = \"short\"\n") {
        Err(ConfigError::Invalid { key, .. }) => assert_eq!(key, "api.key"),
        other => panic!("expected invalid api.key, got {other:?}"),
    }
    match parse("[http]\nmax_body_bytes = 0\n") {
        Err(ConfigError::Invalid { key, .. }) => assert_eq!(key, "http.max_body_bytes"),
        other => panic!("expected invalid, got {other:?}"),
    }
}

#[test]
fn the_cluster_is_local_unless_redis_is_named_in_the_file_or_the_environment() {
    let config = parse("").expect("valid");
    assert_eq!(config.cluster.adapter, AdapterKind::Local);
    assert_eq!(config.cluster.redis(), None);
    assert_eq!(config.cluster.key, "socket.io");

    let config =
        parse("[cluster]\nadapter = \"redis\"\nredis_url = \"redis://127.0.0.1:6390\"").expect("valid");
    assert_eq!(config.cluster.redis(), Some("redis://127.0.0.1:6390"));

    // PORTICO_REDIS_URL turns Redis on with its URL, whatever the file says.
    let mut config = parse("").expect("valid");
    config
        .cluster
        .apply_env(Some("redis://10.0.0.5:6379/2".to_owned()));
    config.validate().expect("valid");
    assert_eq!(config.cluster.redis(), Some("redis://10.0.0.5:6379/2"));
    let mut config = parse("").expect("valid");
    config.cluster.apply_env(Some(String::new()));
    assert_eq!(config.cluster.redis(), None, "an empty variable is unset");

    // The streams adapter keeps its kind when the variable gives the URL.
    let mut config =
        parse("[cluster]\nadapter = \"redis-streams\"\nredis_url = \"redis://a\"").expect("valid");
    assert_eq!(config.cluster.adapter, AdapterKind::RedisStreams);
    assert_eq!(config.cluster.stream_name, "socket.io");
    assert_eq!(config.cluster.stream_max_len, 10_000);
    config.cluster.apply_env(Some("redis://b".to_owned()));
    assert_eq!(config.cluster.adapter, AdapterKind::RedisStreams);
    assert_eq!(config.cluster.redis(), Some("redis://b"));

    for (text, key) in [
        ("[cluster]\nadapter = \"redis\"", "cluster.redis_url"),
        ("[cluster]\nkey = \"a#b\"", "cluster.key"),
        (
            "[cluster]\nrequests_timeout_ms = 0",
            "cluster.requests_timeout_ms",
        ),
        ("[cluster]\npublish_queue = 0", "cluster.publish_queue"),
        ("[cluster]\nadapter = \"redis-streams\"", "cluster.redis_url"),
        ("[cluster]\nstream_name = \"\"", "cluster.stream_name"),
        ("[cluster]\nstream_max_len = 0", "cluster.stream_max_len"),
    ] {
        match parse(text) {
            Err(ConfigError::Invalid { key: k, .. }) => assert_eq!(k, key, "{text}"),
            other => panic!("{text}: {other:?}"),
        }
    }
    assert!(matches!(
        parse("[cluster]\nadapter = \"etcd\""),
        Err(ConfigError::Key { .. })
    ));
}
