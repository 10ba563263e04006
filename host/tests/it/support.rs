//! A gateway built from a TOML config and driven in-process: polling requests go
//! through its router (no socket at all); WebSocket tests need hyper's upgrade, so
//! they get the same router served on a loopback port and a raw client that can
//! send exactly the frames a test wants (fragments, bad masks, nothing at all).

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::routing::any;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use portico::config::Config;
use portico::engineio::{Engine, EngineConfig};
use portico::limits::ConnectionLimits;
use portico::native::{NativeConfig, NativeEndpoint};
use portico::router::Namespaces;
use portico::server::Gateway;
use portico::socketio::{SocketIo, SocketIoConfig};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

pub use crate::raw_ws::{RawWs, Received};

/// How long a test waits for something that should happen at once.
pub const SOON: Duration = Duration::from_secs(5);

/// A gateway (or just its Socket.IO and native endpoints) and its router, shut down
/// when dropped.
pub struct TestGateway {
    /// The Engine.IO endpoint.
    pub engine: Engine<SocketIo>,
    /// The namespaces served.
    pub namespaces: Namespaces,
    /// The HTTP routes.
    pub router: Router,
    /// The loaded plugins, when the config has a plugins folder.
    pub registry: Option<std::sync::Arc<portico::plugins::registry::Registry>>,
    shutdown: CancellationToken,
}

impl Drop for TestGateway {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl TestGateway {
    /// Builds and starts (plugins loaded) the gateway of `toml`.
    pub async fn new(toml: &str) -> TestGateway {
        let config = Config::from_toml(toml, Path::new("it.toml")).expect("test config parses");
        config.validate().expect("test config is valid");
        TestGateway::from_config(&config).await
    }

    /// Builds and starts (plugins loaded) the gateway of `config`.
    pub async fn from_config(config: &Config) -> TestGateway {
        let gateway = Gateway::new(config).expect("gateway builds");
        let shutdown = CancellationToken::new();
        gateway.start(config, &shutdown).await.expect("gateway starts");
        let router = gateway.router();
        TestGateway {
            engine: gateway.engine().clone(),
            namespaces: gateway.namespaces().clone(),
            router,
            registry: gateway.registry().cloned(),
            shutdown,
        }
    }

    /// The loaded version of plugin `name`.
    pub fn plugin(&self, name: &str) -> std::sync::Arc<portico::plugins::instance::Plugin> {
        self.registry
            .as_ref()
            .and_then(|r| r.get(name))
            .unwrap_or_else(|| panic!("plugin {name} is loaded"))
    }

    /// Serves `namespaces` (handlers of the test's own) on `/socket.io/` and `/ws`,
    /// with the default settings.
    pub fn with_namespaces(namespaces: Namespaces) -> TestGateway {
        let config = Config::default();
        let socketio = SocketIo::new(SocketIoConfig::from_config(&config), namespaces.clone());
        let connections = std::sync::Arc::new(ConnectionLimits::from_config(&config.limits));
        let engine = Engine::new(EngineConfig::from_config(&config, connections.clone()), socketio);
        let native = NativeEndpoint::new(
            NativeConfig::from_config(&config, connections),
            namespaces.clone(),
        );
        let router = Router::new()
            .route(
                "/socket.io/",
                any({
                    let engine = engine.clone();
                    move |req: Request<Body>| {
                        let engine = engine.clone();
                        async move { engine.handle(req).await }
                    }
                }),
            )
            .route(
                "/ws",
                any(move |req: Request<Body>| std::future::ready(native.handle("/", req))),
            );
        TestGateway {
            engine,
            namespaces,
            router,
            registry: None,
            shutdown: CancellationToken::new(),
        }
    }

    /// Sends one request through the router.
    pub async fn request(&self, req: Request<Body>) -> (StatusCode, String) {
        let response = self
            .router
            .clone()
            .oneshot(req)
            .await
            .expect("the router is infallible");
        let status = response.status();
        let body = response.into_body().collect().await.expect("body").to_bytes();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    /// Opens a polling session; returns its sid (the `0` packet is checked).
    pub async fn open_polling(&self) -> String {
        let (status, body) = self.get("/socket.io/?EIO=4&transport=polling").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let open = body.strip_prefix('0').expect("an open packet");
        let open: serde_json::Value = serde_json::from_str(open).expect("open JSON");
        open["sid"].as_str().expect("a sid").to_owned()
    }

    /// A polling session already connected to Socket.IO namespace `/`.
    pub async fn socketio_polling(&self) -> String {
        let sid = self.open_polling().await;
        assert_eq!(self.post(&sid, "40").await, (StatusCode::OK, "ok".to_owned()));
        let (status, body) = self.poll(&sid).await;
        assert_eq!(status, StatusCode::OK);
        assert!(body.starts_with("40{\"sid\":"), "CONNECT answered: {body}");
        sid
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> (StatusCode, String) {
        self.request(Request::get(path).body(Body::empty()).expect("request"))
            .await
    }

    /// A long-poll GET for `sid`.
    pub async fn poll(&self, sid: &str) -> (StatusCode, String) {
        self.get(&format!("/socket.io/?EIO=4&transport=polling&sid={sid}"))
            .await
    }

    /// A long-poll GET for `sid` left pending in the background. The tests run on a
    /// current-thread runtime and the request never leaves the process, so once the
    /// test next awaits anything, the GET holds the session's poll.
    pub fn spawn_poll(&self, sid: &str) -> tokio::task::JoinHandle<(StatusCode, String)> {
        let req = Request::get(format!("/socket.io/?EIO=4&transport=polling&sid={sid}"))
            .body(Body::empty())
            .expect("request");
        let router = self.router.clone();
        tokio::spawn(async move {
            let response = router.oneshot(req).await.expect("the router is infallible");
            let status = response.status();
            let body = response.into_body().collect().await.expect("body").to_bytes();
            (status, String::from_utf8_lossy(&body).into_owned())
        })
    }

    /// A polling POST of `body` for `sid`.
    pub async fn post(&self, sid: &str, body: &str) -> (StatusCode, String) {
        let req = Request::post(format!("/socket.io/?EIO=4&transport=polling&sid={sid}"))
            .header("content-type", "text/plain;charset=UTF-8")
            .body(Body::from(body.to_owned()))
            .expect("request");
        self.request(req).await
    }

    /// Serves the router on a free loopback port, for WebSocket clients.
    pub async fn listen(&self) -> SocketAddr {
        let listener = portico::server::bind("127.0.0.1:0".parse().expect("addr"), 128).expect("bind");
        let addr = listener.local_addr().expect("addr");
        let frontend = portico::accept::Frontend {
            app: self.router.clone(),
            header_timeout: std::time::Duration::from_secs(10),
        };
        tokio::spawn(portico::accept::serve(
            listener,
            frontend.shared(),
            self.shutdown.clone(),
        ));
        addr
    }
}

pub use tempfile::TempDir;

/// A new empty folder under the system temp dir whose name starts with `prefix`,
/// removed when dropped.
pub fn temp_dir(prefix: &str) -> TempDir {
    tempfile::Builder::new()
        .prefix(&format!("portico-it-{prefix}-"))
        .tempdir()
        .expect("create a temp dir")
}

/// The example plugins' components, as `cargo xtask build` leaves them (or
/// `PORTICO_PLUGINS_DIR`).
pub fn built_plugins() -> std::path::PathBuf {
    std::env::var_os("PORTICO_PLUGINS_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/plugins"))
}

/// The config of a gateway serving plugins from a folder of its own holding copies of
/// the built components `plugins` (each `NAME.wasm`) and the files `extra` (name,
/// bytes), with `toml` after its `[plugins]` section; and that folder. The compile
/// cache is shared by every test, so each component is compiled once.
pub fn plugin_config(plugins: &[&str], extra: &[(&str, &[u8])], toml: &str) -> (Config, TempDir) {
    let dir = temp_dir("plugins");
    let built = built_plugins();
    for name in plugins {
        let from = built.join(format!("{name}.wasm"));
        std::fs::copy(&from, dir.path().join(format!("{name}.wasm"))).unwrap_or_else(|e| {
            panic!(
                "{} ({e}): the in-process plugin tests need the example plugins built first: cargo xtask build",
                from.display()
            )
        });
    }
    for (name, bytes) in extra {
        std::fs::write(dir.path().join(name), bytes).expect("write a plugin file");
    }
    let cache = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/it-plugin-cache");
    let toml = format!(
        "[plugins]\ndir = {:?}\nwatch = false\ncache_dir = {:?}\n\n{toml}",
        dir.path().display().to_string(),
        cache.display().to_string(),
    );
    let config = Config::from_toml(&toml, Path::new("it.toml")).expect("test config parses");
    config.validate().expect("test config is valid");
    (config, dir)
}

/// A started gateway of [`plugin_config`], and its plugins folder.
pub async fn plugin_gateway(plugins: &[&str], extra: &[(&str, &[u8])], toml: &str) -> (TestGateway, TempDir) {
    let (config, dir) = plugin_config(plugins, extra, toml);
    (TestGateway::from_config(&config).await, dir)
}

/// A Socket.IO socket admitted to a namespace with no transport under it: the test
/// hands its handler events directly and reads what was queued for it.
pub struct DirectSocket {
    /// Its namespace.
    pub ns: std::sync::Arc<portico::router::Namespace>,
    /// The socket.
    pub socket: portico::router::Socket,
    rx: portico::outbound::Receiver,
}

impl DirectSocket {
    /// A new socket in `ns`, admitted as the connect pipeline admits one.
    pub fn join(ns: &std::sync::Arc<portico::router::Namespace>) -> DirectSocket {
        DirectSocket::join_with(ns, portico::router::Handshake::default())
    }

    /// The same, with what the client presented.
    pub fn join_with(
        ns: &std::sync::Arc<portico::router::Namespace>,
        handshake: portico::router::Handshake,
    ) -> DirectSocket {
        let (outbox, rx) = portico::outbound::Outbox::new(64);
        let socket = portico::router::Socket::new(
            ns.name(),
            std::sync::Arc::new(outbox),
            portico::router::Framing::SocketIo,
            handshake,
        );
        ns.admit(&socket);
        DirectSocket {
            ns: ns.clone(),
            socket,
            rx,
        }
    }

    /// The rooms it is in, its own included.
    pub fn rooms(&self) -> Vec<portico::router::Room> {
        self.ns.rooms_of(&self.socket)
    }

    /// Hands its handler the event `name` with the one argument `arg`, the client
    /// asking for an ack; returns the ack's arguments (`None`: no ack).
    pub async fn event(&self, name: &str, arg: serde_json::Value) -> Option<Vec<serde_json::Value>> {
        let payload = portico::protocol::socketio::Payload::json(vec![arg]);
        self.event_with(name, payload).await.map(|ack| ack.values())
    }

    /// The same with a whole payload (arguments and attachments); returns the ack's.
    pub async fn event_with(
        &self,
        name: &str,
        payload: portico::protocol::socketio::Payload,
    ) -> Option<portico::protocol::socketio::Payload> {
        let event = portico::router::handler::IncomingEvent {
            name: name.to_owned(),
            payload,
            wants_ack: true,
        };
        self.ns.handler().on_event(&self.ns, &self.socket, event).await
    }

    /// The Socket.IO packets queued for it since the last call, as text.
    pub fn sent(&mut self) -> Vec<String> {
        use portico::protocol::engineio::Frame;
        let mut texts = Vec::new();
        while let Some(item) = self.rx.try_recv() {
            for frame in item.frames() {
                if let Frame::Text(text) = frame {
                    texts.push(String::from_utf8_lossy(&text).into_owned());
                }
            }
        }
        texts
    }
}
