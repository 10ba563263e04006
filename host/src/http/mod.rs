//! The gateway's HTTP surface, as one table of [`Route`]s that both the axum router
//! and the OpenAPI document are built from, so neither can list a path the other lacks.
//!
//! # Layout
//! - [`api`]: the operator API (`/api/v1/emit`, `disconnect`, `presence`) behind the API key.
//! - [`plugin_route`]: the `[http.routes]`, each served by an `http-handler` plugin.
//! - [`admin_ui`]: the Admin UI's pages at `/admin/`.
//! - [`admin_plugins`]: Portico's plugins page beside it.
//! - [`openapi`]: the OpenAPI 3.1 document of every route, at `/api/v1/openapi.json`.

pub mod admin_plugins;
pub mod admin_ui;
pub mod api;
pub mod openapi;
pub mod plugin_route;

use std::collections::BTreeMap;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter, any, on};
use http::Method;
use tower_http::cors::CorsLayer;

use crate::config::Config;
use crate::server::Gateway;

/// What answers a route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// Engine.IO polling and WebSocket upgrade (`server.path`, with and without the `/`).
    EngineIo,
    /// The native WebSocket endpoint for namespace `/`.
    Native,
    /// The native WebSocket endpoint for the namespace in the path.
    NativeNamespace,
    /// Liveness.
    Healthz,
    /// Readiness: the cluster link, when there is one.
    Readyz,
    /// Prometheus counters.
    Metrics,
    /// Who is online in a namespace (operator API).
    Presence,
    /// Emit to a namespace (operator API).
    Emit,
    /// Disconnect sockets (operator API).
    Disconnect,
    /// The sockets of a namespace's rooms on every node (operator API).
    Sockets,
    /// This surface's OpenAPI document.
    OpenApi,
    /// A route of `[http.routes]`, served by the named plugin.
    Plugin(String),
}

/// One route: its path as OpenAPI writes it (`/ws/{namespace}`), the methods it is
/// documented for, and what answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The path; `{name}` is a parameter.
    pub path: String,
    /// The method.
    pub method: Method,
    /// What answers it.
    pub endpoint: Endpoint,
}

/// Every route `config` serves.
pub fn routes(config: &Config) -> Vec<Route> {
    let route = |path: &str, method: Method, endpoint: Endpoint| Route {
        path: path.to_owned(),
        method,
        endpoint,
    };
    let mut routes = Vec::new();
    for path in [
        config.server.path.as_str(),
        config.server.path.trim_end_matches('/'),
    ] {
        routes.push(route(path, Method::GET, Endpoint::EngineIo));
        routes.push(route(path, Method::POST, Endpoint::EngineIo));
    }
    if config.native.enabled {
        routes.push(route(&config.native.path, Method::GET, Endpoint::Native));
        let named = format!("{}/{{namespace}}", config.native.path);
        routes.push(route(&named, Method::GET, Endpoint::NativeNamespace));
    }
    routes.push(route("/healthz", Method::GET, Endpoint::Healthz));
    routes.push(route("/readyz", Method::GET, Endpoint::Readyz));
    routes.push(route("/metrics", Method::GET, Endpoint::Metrics));
    routes.push(route("/api/v1/openapi.json", Method::GET, Endpoint::OpenApi));
    if config.api.enabled_key().is_some() {
        routes.push(route("/api/v1/presence", Method::GET, Endpoint::Presence));
        routes.push(route("/api/v1/emit", Method::POST, Endpoint::Emit));
        routes.push(route("/api/v1/disconnect", Method::POST, Endpoint::Disconnect));
        routes.push(route("/api/v1/sockets", Method::GET, Endpoint::Sockets));
    }
    for plugin in config.plugin_routes() {
        routes.push(route(
            &plugin.path,
            plugin.method,
            Endpoint::Plugin(plugin.plugin),
        ));
    }
    routes
}

/// The axum router for `routes`; `cors` wraps the Engine.IO endpoint.
pub fn router(gateway: Gateway, routes: &[Route], cors: Option<CorsLayer>) -> Router {
    // One method router per path, so several methods can share it.
    let mut paths: BTreeMap<String, MethodRouter<Gateway>> = BTreeMap::new();
    for route in routes {
        let (path, handler) = match &route.endpoint {
            // Every method reaches the Engine.IO endpoint (it answers errors in its own
            // JSON), and the native one (which explains a missing upgrade).
            Endpoint::EngineIo => {
                let handler = any(engine_io);
                let handler = match &cors {
                    Some(cors) => handler.layer(cors.clone()),
                    None => handler,
                };
                (route.path.clone(), handler)
            }
            Endpoint::Native => (route.path.clone(), any(native_root)),
            Endpoint::NativeNamespace => (
                route.path.replace("{namespace}", "{*namespace}"),
                any(native_named),
            ),
            Endpoint::Healthz => (route.path.clone(), on(filter(&route.method), healthz)),
            Endpoint::Readyz => (route.path.clone(), on(filter(&route.method), readyz)),
            Endpoint::Sockets => (route.path.clone(), on(filter(&route.method), api::sockets)),
            Endpoint::Metrics => (route.path.clone(), on(filter(&route.method), metrics)),
            Endpoint::OpenApi => (route.path.clone(), on(filter(&route.method), openapi_json)),
            Endpoint::Presence => (route.path.clone(), on(filter(&route.method), api::presence)),
            Endpoint::Emit => (route.path.clone(), on(filter(&route.method), api::emit)),
            Endpoint::Disconnect => (route.path.clone(), on(filter(&route.method), api::disconnect)),
            Endpoint::Plugin(plugin) => {
                let plugin = plugin.clone();
                let handler = on(
                    filter(&route.method),
                    move |State(gateway): State<Gateway>, req: Request| {
                        let plugin = plugin.clone();
                        async move { plugin_route::serve(&gateway, &plugin, req).await }
                    },
                );
                (route.path.clone(), handler)
            }
        };
        let merged = match paths.remove(&path) {
            Some(existing) if route.endpoint == Endpoint::EngineIo => existing,
            Some(existing) => existing.merge(handler),
            None => handler,
        };
        paths.insert(path, merged);
    }
    let app = paths
        .into_iter()
        .fold(Router::new(), |app, (path, handler)| app.route(&path, handler));
    let app = match gateway.admin_ui_dir() {
        Some(dir) => app.merge(admin_ui::router(&dir)),
        None => app,
    };
    let app = match gateway.admin() {
        Some(_) => app
            .route("/admin/plugins", axum::routing::get(admin_plugins::page))
            .route("/admin/plugins.json", axum::routing::get(admin_plugins::json)),
        None => app,
    };
    app.with_state(gateway)
}

/// Why a request body could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyError {
    /// Over the limit.
    TooLarge,
    /// The connection failed while reading it.
    Unreadable,
}

/// The answer to a new connection while the gateway shuts down: HTTP 503 `{message,
/// code: "SHUTTING_DOWN"}`, so a client retries (elsewhere, behind a balancer).
pub fn shutting_down() -> axum::response::Response {
    use axum::response::IntoResponse as _;
    (
        http::StatusCode::SERVICE_UNAVAILABLE,
        axum::Json(serde_json::json!({ "message": "server shutting down", "code": "SHUTTING_DOWN" })),
    )
        .into_response()
}

/// Reads a whole body of at most `limit` bytes.
pub async fn read_body(body: Body, limit: usize) -> Result<bytes::Bytes, BodyError> {
    axum::body::to_bytes(body, limit).await.map_err(|err| {
        if std::error::Error::source(&err).is_some_and(|e| e.is::<http_body_util::LengthLimitError>()) {
            crate::metrics::limit_refused("max_payload");
            BodyError::TooLarge
        } else {
            BodyError::Unreadable
        }
    })
}

/// The axum filter for a method of the table.
fn filter(method: &Method) -> MethodFilter {
    MethodFilter::try_from(method.clone()).unwrap_or(MethodFilter::GET)
}

async fn engine_io(State(gateway): State<Gateway>, req: Request) -> Response {
    gateway.engine().handle(req).await
}

async fn native_root(State(gateway): State<Gateway>, req: Request<Body>) -> Response {
    gateway.native().handle("/", req)
}

async fn native_named(
    State(gateway): State<Gateway>,
    Path(nsp): Path<String>,
    req: Request<Body>,
) -> Response {
    gateway.native().handle(&format!("/{nsp}"), req)
}

async fn healthz() -> &'static str {
    "ok"
}

/// Ready once listening with its plugins loaded (the router only serves from then on),
/// unless shutdown has begun or the node is in a cluster whose Redis link is down:
/// then 503 with why, while the node goes on serving its own clients.
async fn readyz(State(gateway): State<Gateway>) -> Response {
    let cluster = gateway.cluster().map(crate::cluster::Cluster::ready);
    let plugins = gateway.registry().map_or(0, |r| r.len());
    let reason = if gateway.draining() {
        Some("shutting down".to_owned())
    } else {
        cluster.clone().and_then(Result::err)
    };
    let checks = serde_json::json!({
        "listening": true,
        "plugins_loaded": plugins,
        "cluster": match &cluster {
            None => "off",
            Some(Ok(())) => "connected",
            Some(Err(_)) => "down",
        },
    });
    match reason {
        None => axum::Json(serde_json::json!({ "ready": true, "checks": checks })).into_response(),
        Some(why) => (
            http::StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(serde_json::json!({ "ready": false, "reason": why, "checks": checks })),
        )
            .into_response(),
    }
}

async fn metrics() -> Response {
    (
        [(http::header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        crate::metrics::render(),
    )
        .into_response()
}

async fn openapi_json(State(gateway): State<Gateway>) -> Response {
    (
        [(http::header::CONTENT_TYPE, "application/json")],
        gateway.openapi().to_string(),
    )
        .into_response()
}

#[cfg(test)]
mod tests;
