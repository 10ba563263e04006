//! Assembles the gateway from its config and serves it: the listener (with an explicit
//! backlog), the axum routes, CORS, live config reload and graceful shutdown.
//!
//! - [`reload`]: what a new config changes in the running gateway, and what waits for
//!   a restart.
//! - [`source`]: where reloaded configs come from (`SIGHUP`, `--watch-config`).

pub mod reload;
pub mod source;

use std::net::SocketAddr;
use std::sync::Arc;

use arc_swap::ArcSwap;
use axum::Router;
use http::{HeaderValue, Method};
use tokio::net::{TcpListener, TcpSocket};
use tokio_util::sync::CancellationToken;
use tower_http::cors::{AllowHeaders, AllowOrigin, CorsLayer};

use crate::admin::AdminUi;
use crate::auth::Verifier;
use crate::builtin;
use crate::cluster::Cluster;
use crate::config::{AuthMode, Config, CorsConfig, NamespaceConfig};
use crate::engineio::{Engine, EngineConfig};
use crate::limits::{ConnectionLimits, SocketLimits};
use crate::native::{NativeConfig, NativeEndpoint};
use crate::plugins::LoadError;
use crate::plugins::pipeline::Pipeline;
use crate::plugins::registry::Registry;
use crate::plugins::runtime::Runtime;
use crate::plugins::watcher;
use crate::router::EventHandler;
use crate::router::adapter::{Adapter, LocalAdapter};
use crate::router::namespace::NamespaceOptions;
use crate::router::presence::{LocalPresence, Presence};
use crate::router::recovery::{Journal, RecoverySettings};
use crate::router::{Namespace, Namespaces};
use crate::socketio::{SocketIo, SocketIoConfig};
use crate::store::{MemoryStore, RedisStore};

pub use reload::{ReloadError, ReloadReport};
pub use source::Reloads;

/// How long shutdown waits for connections to send their close frames.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// The running gateway's shared parts: a cheap handle, the state of every route.
#[derive(Clone)]
pub struct Gateway {
    engine: Engine<SocketIo>,
    native: NativeEndpoint,
    namespaces: Namespaces,
    /// The link to the other nodes, with the Redis adapter.
    cluster: Option<Cluster>,
    /// Stops the cluster link: only once the connections are drained, so what they
    /// send and leave behind while closing (sessions to resume elsewhere) reaches Redis.
    cluster_stop: CancellationToken,
    registry: Option<Arc<Registry>>,
    /// The Admin UI's server side, when `[admin_ui]` is set.
    admin: Option<Arc<AdminUi>>,
    /// The plugin chains of the namespaces plugins serve, by namespace name.
    pipelines: Arc<std::collections::BTreeMap<String, Arc<Pipeline>>>,
    /// Connections open at once, counted for both transports.
    connections: Arc<ConnectionLimits>,
    /// The operator API's key and limits, replaced by a reload.
    http: Arc<ArcSwap<HttpSettings>>,
    /// The config running: what the gateway was built from, with each reload applied.
    config: Arc<ArcSwap<Config>>,
    /// Held while a reload applies, so reloads run one at a time.
    reloading: Arc<tokio::sync::Mutex<()>>,
    /// Set when shutdown begins: `/readyz` says so, so a load balancer stops sending.
    draining: Arc<std::sync::atomic::AtomicBool>,
}

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Listening or serving failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The plugin engine could not be set up.
    #[error("{0}")]
    Plugins(#[from] LoadError),
    /// The auth configuration cannot work.
    #[error("{0}")]
    Auth(#[from] crate::auth::AuthSetupError),
    /// The cluster link cannot be set up.
    #[error("{0}")]
    Cluster(#[from] crate::cluster::ClusterError),
    /// The plugins folder cannot be watched.
    #[error("cannot watch the plugins folder: {0}")]
    Watch(String),
}

impl Gateway {
    /// Builds every layer from `config`; plugins are not loaded yet (see [`Gateway::start`]).
    pub fn new(config: &Config) -> Result<Gateway, ServeError> {
        let uses_plugins =
            config.namespaces.values().any(|ns| ns.uses_plugins()) || !config.http.routes.is_empty();
        let cluster = match config.cluster.redis() {
            Some(url) => Some(Cluster::new(&config.cluster, url)?),
            None => None,
        };
        let registry = if uses_plugins {
            let runtime = Runtime::new(&config.plugins.cache_dir())?;
            // In a cluster every node's plugins share one store.
            let store: Arc<dyn crate::store::Store> = match &cluster {
                Some(cluster) => Arc::new(RedisStore::new(cluster.clone())),
                None => Arc::new(MemoryStore::new(config.plugins.limits.kv_max_keys)),
            };
            Some(Arc::new(Registry::new(runtime, config.plugins.clone(), store)))
        } else {
            None
        };
        let verifier = verifier_for(config)?;
        let mut pipelines = std::collections::BTreeMap::new();
        let namespaces = config.namespaces.iter().map(|(name, ns)| {
            let handler: Arc<dyn EventHandler> = match &registry {
                Some(registry) if ns.uses_plugins() => {
                    let pipeline = Arc::new(Pipeline::new(registry.clone(), ns, config.engineio.max_payload));
                    pipelines.insert(name.clone(), pipeline.clone());
                    pipeline
                }
                _ => builtin::handler(ns.handler),
            };
            let options = namespace_options(ns, config, &verifier);
            let journal = ns
                .recovers(config.socketio.recovery.as_ref())
                .map(|recovery| Arc::new(Journal::new(RecoverySettings::from_config(recovery))));
            let (adapter, presence) = adapters(cluster.as_ref(), name, ns.presence, journal);
            Namespace::with_adapter(name, handler, options, adapter, presence)
        });
        // The Admin UI's namespace: its own handler, no token, the same adapter kind.
        let admin = config.admin_ui.as_ref().map(AdminUi::new);
        let admin_namespace = admin.iter().zip(&config.admin_ui).map(|(admin, settings)| {
            let options = NamespaceOptions {
                limits: SocketLimits::from_config(&config.limits),
                ..NamespaceOptions::default()
            };
            // Never recovered: the UI asks for everything again when it reconnects.
            let (adapter, presence) = adapters(cluster.as_ref(), &settings.namespace, false, None);
            Namespace::with_adapter(&settings.namespace, admin.handler(), options, adapter, presence)
        });
        let namespaces = Namespaces::new(namespaces.chain(admin_namespace));
        if let (Some(admin), Some(settings)) = (&admin, &config.admin_ui) {
            admin.attach(&settings.namespace, &namespaces);
        }
        if let Some(registry) = &registry {
            registry.set_namespaces(&namespaces);
        }
        // One count of open connections for both transports.
        let connections = Arc::new(ConnectionLimits::from_config(&config.limits));
        let socketio = SocketIo::new(SocketIoConfig::from_config(config), namespaces.clone());
        let engine = Engine::new(EngineConfig::from_config(config, connections.clone()), socketio);
        let native = NativeEndpoint::new(
            NativeConfig::from_config(config, connections.clone()),
            namespaces.clone(),
        );
        Ok(Gateway {
            engine,
            native,
            namespaces,
            cluster,
            cluster_stop: CancellationToken::new(),
            registry,
            pipelines: Arc::new(pipelines),
            admin,
            connections,
            http: Arc::new(ArcSwap::from_pointee(HttpSettings::from_config(config))),
            config: Arc::new(ArcSwap::from_pointee(config.clone())),
            reloading: Arc::default(),
            draining: Arc::default(),
        })
    }

    /// Connects to the cluster, loads the plugins and starts watching their folder.
    pub async fn start(&self, config: &Config, shutdown: &CancellationToken) -> Result<(), ServeError> {
        if let Some(cluster) = &self.cluster {
            cluster.start(&self.cluster_stop);
            tracing::info!(
                uid = cluster.uid(),
                key = cluster.key(),
                "cluster: Redis adapter on"
            );
        }
        if let (Some(admin), Some(settings)) = (&self.admin, &config.admin_ui)
            && let Some(namespace) = self.namespaces.get(&settings.namespace)
        {
            let (connections, engine) = (self.connections.clone(), self.engine.clone());
            namespace.spawn(admin.clone().send_stats(
                move || (connections.open(), engine.polling_sessions()),
                shutdown.clone(),
            ));
            tracing::info!(namespace = settings.namespace, mode = ?settings.mode, readonly = settings.readonly, "admin UI on");
        }
        let Some(registry) = &self.registry else {
            return Ok(());
        };
        registry.load_all().await;
        tracing::info!(dir = %registry.dir().display(), loaded = ?registry.names(), "plugins ready");
        if config.plugins.watch {
            watcher::spawn(registry.clone(), shutdown.clone())
                .map_err(|e| ServeError::Watch(e.to_string()))?;
        }
        Ok(())
    }

    /// The plugin registry, when any namespace uses plugins.
    pub fn registry(&self) -> Option<&Arc<Registry>> {
        self.registry.as_ref()
    }

    /// Drains and closes every connection: `/readyz` turns 503 and new connections are
    /// refused (`SHUTTING_DOWN`); readers take no more packets, the events being
    /// handled (plugin calls included) finish and their replies are flushed, then each
    /// connection closes as a transport close, so clients reconnect by themselves.
    /// All within [`SHUTDOWN_GRACE`]; what is left then is closed at once.
    pub async fn shutdown(&self) {
        self.draining.store(true, std::sync::atomic::Ordering::Release);
        let deadline = tokio::time::Instant::now() + SHUTDOWN_GRACE;
        tokio::join!(
            self.engine.shutdown(SHUTDOWN_GRACE),
            self.native.shutdown(SHUTDOWN_GRACE)
        );
        // Then what the connections left running: connect timers, each socket's
        // `on_disconnect`, handlers' own tasks; within the same grace.
        let _ = tokio::time::timeout_at(deadline, async {
            self.engine.handler().wait_tasks().await;
            for ns in self.namespaces.iter() {
                ns.wait_tasks().await;
            }
            // The link last: it publishes what is queued, then stops.
            self.cluster_stop.cancel();
            if let Some(cluster) = &self.cluster {
                cluster.wait_tasks().await;
            }
        })
        .await;
        self.cluster_stop.cancel();
    }

    /// Whether shutdown has begun.
    pub fn draining(&self) -> bool {
        self.draining.load(std::sync::atomic::Ordering::Acquire)
    }

    /// The link to the other nodes, when the Redis adapter is on.
    pub fn cluster(&self) -> Option<&Cluster> {
        self.cluster.as_ref()
    }

    /// The namespaces served.
    pub fn namespaces(&self) -> &Namespaces {
        &self.namespaces
    }

    /// The Engine.IO endpoint.
    pub fn engine(&self) -> &Engine<SocketIo> {
        &self.engine
    }

    /// The native WebSocket endpoint.
    pub fn native(&self) -> &NativeEndpoint {
        &self.native
    }

    /// The operator API key, when the API is enabled.
    pub fn api_key(&self) -> Option<Arc<str>> {
        self.http.load().api_key.clone()
    }

    /// Largest HTTP body of the operator API and plugin routes.
    pub fn max_body_bytes(&self) -> usize {
        self.http.load().max_body_bytes
    }

    /// The OpenAPI document, as JSON.
    pub fn openapi(&self) -> Arc<str> {
        self.http.load().openapi.clone()
    }

    /// The Admin UI's server side, when `[admin_ui]` is set.
    pub fn admin(&self) -> Option<&Arc<AdminUi>> {
        self.admin.as_ref()
    }

    /// The folder the Admin UI's pages are served from, when there is one.
    pub fn admin_ui_dir(&self) -> Option<std::path::PathBuf> {
        self.config().admin_ui.as_ref()?.ui_dir.clone()
    }

    /// The config running: the one it was built from, with each reload applied.
    pub fn config(&self) -> Arc<Config> {
        self.config.load_full()
    }

    /// The HTTP routes of the running config (see [`crate::http`]).
    pub fn router(&self) -> Router {
        let config = self.config();
        crate::http::router(
            self.clone(),
            &crate::http::routes(&config),
            cors_layer(&config.cors),
        )
    }

    /// The routes and header timeout the accept loop serves, as the running config
    /// has them.
    pub fn frontend(&self) -> crate::accept::Frontend {
        crate::accept::Frontend {
            app: self.router(),
            header_timeout: self.config().limits.handshake_timeout(),
        }
    }
}

/// The operator API's key and the HTTP limits, as one config has them.
struct HttpSettings {
    /// The operator API key, when the API is enabled.
    api_key: Option<Arc<str>>,
    /// Largest HTTP body of the operator API and plugin routes.
    max_body_bytes: usize,
    /// The OpenAPI document of every route, serialized once.
    openapi: Arc<str>,
}

impl HttpSettings {
    fn from_config(config: &Config) -> HttpSettings {
        HttpSettings {
            api_key: config.api.enabled_key().map(Arc::from),
            max_body_bytes: config.http.max_body_bytes,
            openapi: crate::http::openapi::document(&crate::http::routes(config))
                .to_string()
                .into(),
        }
    }
}

/// A namespace's adapter and presence: the cluster's, or this node's alone; either
/// keeps what it delivers in `journal` when connection state recovery is on.
fn adapters(
    cluster: Option<&Cluster>,
    name: &str,
    presence_events: bool,
    journal: Option<Arc<Journal>>,
) -> (Box<dyn Adapter>, Box<dyn Presence>) {
    match cluster {
        Some(cluster) => {
            let adapter = cluster.adapter(name, presence_events, journal);
            let presence = Box::new(adapter.presence());
            (Box::new(adapter), presence)
        }
        None => (
            Box::new(LocalAdapter::with_journal(journal)),
            Box::new(LocalPresence::default()),
        ),
    }
}

/// The token verifier, when a namespace authenticates: its keys read now.
fn verifier_for(config: &Config) -> Result<Option<Arc<Verifier>>, crate::auth::AuthSetupError> {
    if config.namespaces.values().any(|ns| ns.auth != AuthMode::None) {
        Ok(Some(Arc::new(Verifier::new(&config.auth)?)))
    } else {
        Ok(None)
    }
}

/// What one namespace's sockets are held to.
fn namespace_options(
    ns: &NamespaceConfig,
    config: &Config,
    verifier: &Option<Arc<Verifier>>,
) -> NamespaceOptions {
    NamespaceOptions {
        auth: ns.auth,
        verifier: verifier.clone(),
        presence_events: ns.presence,
        limits: SocketLimits::from_config(&config.limits),
        ack_errors: ns.ack_errors,
    }
}

/// The CORS layer for the configured origins, or none when no origin is allowed.
fn cors_layer(cors: &CorsConfig) -> Option<CorsLayer> {
    if cors.origins.is_empty() {
        return None;
    }
    let origin = if cors.origins.iter().any(|o| o == "*") {
        // Never with credentials: `Config::validate` refuses that combination.
        AllowOrigin::any()
    } else {
        AllowOrigin::list(cors.origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
    };
    let headers = if cors.credentials {
        AllowHeaders::mirror_request()
    } else {
        AllowHeaders::any()
    };
    Some(
        CorsLayer::new()
            .allow_origin(origin)
            .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
            .allow_headers(headers)
            .allow_credentials(cors.credentials),
    )
}

/// Binds `addr` with an explicit `backlog` (tokio's default of 128 overflows under a
/// connect storm).
pub fn bind(addr: SocketAddr, backlog: u32) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.set_nodelay(true)?;
    socket.bind(addr)?;
    socket.listen(backlog)
}

/// Serves `config` on `listener` until `shutdown` is cancelled, applying each config
/// `reloads` reads; `ready` runs once plugins are loaded and connections are about to
/// be accepted.
pub async fn serve(
    config: Arc<Config>,
    listener: TcpListener,
    shutdown: CancellationToken,
    reloads: Option<Reloads>,
    ready: impl FnOnce(),
) -> Result<(), ServeError> {
    let gateway = Gateway::new(&config)?;
    gateway.start(&config, &shutdown).await?;
    ready();
    let frontend = Arc::new(ArcSwap::from_pointee(gateway.frontend()));
    let tasks = tokio_util::task::TaskTracker::new();
    // Shutdown drains the sessions while the listener still serves their requests (a
    // polling client's last GET carries its close), then stops accepting.
    let stop_accepting = CancellationToken::new();
    tasks.spawn({
        let (gateway, stop, done) = (gateway.clone(), shutdown.clone(), stop_accepting.clone());
        async move {
            stop.cancelled().await;
            gateway.shutdown().await;
            done.cancel();
        }
    });
    if let Some(reloads) = reloads {
        tasks.spawn(apply_reloads(
            gateway,
            reloads,
            frontend.clone(),
            shutdown.clone(),
        ));
    }
    crate::accept::serve(listener, frontend, stop_accepting).await;
    tasks.close();
    tasks.wait().await;
    Ok(())
}

/// Reads each config `reloads` asks for and applies it, until `stop`; a config that
/// does not load or apply is logged and changes nothing.
async fn apply_reloads(
    gateway: Gateway,
    mut reloads: Reloads,
    frontend: Arc<ArcSwap<crate::accept::Frontend>>,
    stop: CancellationToken,
) {
    loop {
        let loaded = tokio::select! {
            () = stop.cancelled() => return,
            loaded = reloads.next() => loaded,
        };
        let applied = match loaded {
            Ok(config) => gateway.reload(config).await,
            Err(err) => {
                crate::metrics::config_reloaded(false);
                Err(ReloadError::Invalid(err))
            }
        };
        match applied {
            Ok(report) => {
                // Routes and CORS first, so whoever reads the report's line finds them.
                frontend.store(Arc::new(gateway.frontend()));
                report.log();
            }
            Err(err) => tracing::error!(%err, "config reload rejected; the running config stays"),
        }
    }
}
