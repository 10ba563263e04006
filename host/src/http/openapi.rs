//! The OpenAPI 3.1 document of the gateway's HTTP surface, made from the same route
//! table as the router: every path the gateway serves, and no other.

use serde_json::{Map, Value, json};

use super::{Endpoint, Route};

/// The document for `routes`.
pub fn document(routes: &[Route]) -> Value {
    let mut paths = Map::new();
    for route in routes {
        let item = paths.entry(route.path.clone()).or_insert_with(|| json!({}));
        item[route.method.as_str().to_ascii_lowercase()] = operation(route);
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Portico",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The HTTP surface of a Portico gateway: Socket.IO and plain WebSocket endpoints, health and metrics, the operator API, and the routes served by HTTP plugins.",
        },
        "paths": paths,
        "components": components(),
    })
}

fn operation(route: &Route) -> Value {
    let json_error = |description: &str| json!({ "description": description, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } });
    let text = |description: &str| json!({ "description": description, "content": { "text/plain": { "schema": { "type": "string" } } } });
    let unauthorized = json_error("No or a wrong `Authorization: Bearer` key.");
    let namespace_param = json!({ "name": "namespace", "in": "path", "required": true, "schema": { "type": "string" }, "description": "The namespace without its leading `/` (`chat` joins `/chat`)." });
    match &route.endpoint {
        Endpoint::EngineIo if route.method == http::Method::GET => json!({
            "operationId": format!("engineio_get{}", suffix(route)),
            "summary": "Engine.IO v4: open a session, long-poll, or upgrade to WebSocket",
            "tags": ["realtime"],
            "parameters": engineio_params(),
            "responses": {
                "101": { "description": "Switched to WebSocket (`transport=websocket`)." },
                "200": text("An open packet, or queued packets for the session."),
                "400": engineio_error("Bad request: unknown transport or session, bad handshake method, unsupported protocol version."),
                "403": engineio_error("Forbidden: the request may not be upgraded."),
            },
        }),
        Endpoint::EngineIo => json!({
            "operationId": format!("engineio_post{}", suffix(route)),
            "summary": "Engine.IO v4: send packets over long-polling",
            "tags": ["realtime"],
            "parameters": engineio_params(),
            "requestBody": { "required": true, "content": { "text/plain": { "schema": { "type": "string" } } } },
            "responses": {
                "200": text("`ok`"),
                "400": engineio_error("Bad request: unknown session, undecodable payload, a POST already in progress."),
                "413": { "description": "Body over `engineio.max_payload`." },
            },
        }),
        Endpoint::Native => json!({
            "operationId": "native_root",
            "summary": "Plain WebSocket with NestJS `{event, data}` framing, namespace `/`",
            "tags": ["realtime"],
            "responses": {
                "101": { "description": "Switched to WebSocket." },
                "400": json_error("Not a WebSocket upgrade."),
                "401": json_error("The namespace needs a token and none, or a bad one, was given."),
            },
        }),
        Endpoint::NativeNamespace => json!({
            "operationId": "native_namespace",
            "summary": "Plain WebSocket with NestJS `{event, data}` framing, the namespace in the path",
            "tags": ["realtime"],
            "parameters": [namespace_param],
            "responses": {
                "101": { "description": "Switched to WebSocket." },
                "400": json_error("Not a WebSocket upgrade."),
                "401": json_error("The namespace needs a token and none, or a bad one, was given."),
                "404": json_error("The namespace is not served."),
            },
        }),
        Endpoint::Healthz => json!({
            "operationId": "healthz",
            "summary": "Liveness: answers while the process serves",
            "tags": ["operations"],
            "responses": { "200": text("`ok`") },
        }),
        Endpoint::Readyz => {
            let checks = json!({ "type": "object", "properties": {
                "listening": { "type": "boolean" },
                "plugins_loaded": { "type": "integer" },
                "cluster": { "type": "string", "enum": ["off", "connected", "down"] },
            } });
            json!({
                "operationId": "readyz",
                "summary": "Readiness: 503 with the reason while the cluster's Redis link is down or shutdown has begun",
                "tags": ["operations"],
                "responses": {
                    "200": { "description": "Ready.", "content": { "application/json": { "schema": { "type": "object", "properties": { "ready": { "type": "boolean" }, "checks": checks } } } } },
                    "503": { "description": "Not ready, and why.", "content": { "application/json": { "schema": { "type": "object", "properties": { "ready": { "type": "boolean" }, "reason": { "type": "string" }, "checks": checks } } } } },
                },
            })
        }
        Endpoint::Sockets => json!({
            "operationId": "sockets",
            "summary": "The sockets of a namespace (or of some of its rooms) on every node: fetchSockets",
            "tags": ["operator"],
            "security": [{ "apiKey": [] }],
            "parameters": [
                { "name": "namespace", "in": "query", "required": false, "schema": { "type": "string", "default": "/" } },
                { "name": "room", "in": "query", "required": false, "description": "Only sockets in this room.", "schema": { "type": "string" } },
            ],
            "responses": {
                "200": { "description": "`{namespace, sockets: [{id, handshake, rooms, data}]}`.", "content": { "application/json": { "schema": { "type": "object" } } } },
                "401": unauthorized,
                "404": json_error("The namespace is not served."),
                "503": json_error("Another node did not answer in time, or Redis is away."),
            },
        }),
        Endpoint::Metrics => json!({
            "operationId": "metrics",
            "summary": "Prometheus counters and gauges",
            "tags": ["operations"],
            "responses": { "200": text("Prometheus text exposition format 0.0.4.") },
        }),
        Endpoint::OpenApi => json!({
            "operationId": "openapi",
            "summary": "This document",
            "tags": ["operations"],
            "responses": { "200": { "description": "OpenAPI 3.1.", "content": { "application/json": { "schema": { "type": "object" } } } } },
        }),
        Endpoint::Presence => json!({
            "operationId": "presence",
            "summary": "Users online in a namespace, counted once across their sockets",
            "tags": ["operator"],
            "security": [{ "apiKey": [] }],
            "parameters": [{ "name": "namespace", "in": "query", "required": false, "schema": { "type": "string", "default": "/" } }],
            "responses": {
                "200": { "description": "Who is online.", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Presence" } } } },
                "401": unauthorized,
                "404": json_error("The namespace is not served."),
            },
        }),
        Endpoint::Emit => json!({
            "operationId": "emit",
            "summary": "Emit an event to a namespace's rooms, users and sockets",
            "description": "The recipients are the union of `rooms`, `users` (room `user:<id>`) and `sockets`, or the whole namespace when none is named, minus the members of `except`.",
            "tags": ["operator"],
            "security": [{ "apiKey": [] }],
            "requestBody": { "required": true, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/EmitRequest" } } } },
            "responses": {
                "200": { "description": "Emitted.", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Ok" } } } },
                "400": json_error("Not JSON, or a field is missing or wrong (the message names it)."),
                "401": unauthorized,
                "404": json_error("The namespace is not served."),
                "413": json_error("Body over `http.max_body_bytes`."),
            },
        }),
        Endpoint::Disconnect => json!({
            "operationId": "disconnect",
            "summary": "Disconnect a namespace's sockets by room, user or id",
            "tags": ["operator"],
            "security": [{ "apiKey": [] }],
            "requestBody": { "required": true, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/DisconnectRequest" } } } },
            "responses": {
                "200": { "description": "Disconnected.", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Disconnected" } } } },
                "400": json_error("Not JSON, no target named, or a field is wrong (the message names it)."),
                "401": unauthorized,
                "404": json_error("The namespace is not served."),
                "413": json_error("Body over `http.max_body_bytes`."),
            },
        }),
        Endpoint::Plugin(plugin) => json!({
            "operationId": format!("plugin_{}_{}", route.method.as_str().to_ascii_lowercase(), route.path.trim_start_matches('/').replace(['/', '.', '-', '~'], "_")),
            "summary": format!("Served by the `{plugin}` plugin"),
            "tags": ["plugins"],
            "requestBody": { "required": false, "content": { "*/*": { "schema": {} } } },
            "responses": {
                "default": { "description": "What the plugin answers." },
                "413": nest_error("Body over `http.max_body_bytes`."),
                "500": nest_error("The plugin trapped, ran past its deadline, or answered something that cannot be sent."),
                "503": nest_error("The plugin is not loaded."),
            },
        }),
    }
}

/// Tells the two Engine.IO paths (with and without the trailing `/`) apart.
fn suffix(route: &Route) -> &'static str {
    if route.path.ends_with('/') {
        ""
    } else {
        "_no_slash"
    }
}

fn engineio_params() -> Value {
    json!([
        { "name": "EIO", "in": "query", "required": true, "schema": { "type": "string", "enum": ["4"] } },
        { "name": "transport", "in": "query", "required": true, "schema": { "type": "string", "enum": ["polling", "websocket"] } },
        { "name": "sid", "in": "query", "required": false, "schema": { "type": "string" }, "description": "The session, after the handshake." },
    ])
}

fn engineio_error(description: &str) -> Value {
    json!({ "description": description, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/EngineIoError" } } } })
}

fn nest_error(description: &str) -> Value {
    json!({ "description": description, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/NestError" } } } })
}

fn components() -> Value {
    let strings = json!({ "type": "array", "items": { "type": "string" } });
    let user_ids = json!({ "type": "array", "items": { "type": ["string", "number"] }, "description": "User ids (`sub`); each addresses room `user:<id>`." });
    json!({
        "securitySchemes": {
            "apiKey": { "type": "http", "scheme": "bearer", "description": "The `[api] key` of the gateway's config." },
        },
        "schemas": {
            "Error": {
                "type": "object",
                "required": ["message"],
                "properties": { "message": { "type": "string" } },
            },
            "NestError": {
                "type": "object",
                "required": ["statusCode", "message"],
                "properties": { "statusCode": { "type": "integer" }, "message": { "type": "string" } },
            },
            "EngineIoError": {
                "type": "object",
                "required": ["code", "message"],
                "properties": { "code": { "type": "integer" }, "message": { "type": "string" } },
            },
            "Ok": {
                "type": "object",
                "required": ["ok"],
                "properties": { "ok": { "const": true } },
            },
            "Disconnected": {
                "type": "object",
                "required": ["ok", "disconnected"],
                "properties": { "ok": { "const": true }, "disconnected": { "type": "integer", "minimum": 0 } },
            },
            "EmitRequest": {
                "type": "object",
                "required": ["namespace", "event", "data"],
                "additionalProperties": false,
                "properties": {
                    "namespace": { "type": "string", "examples": ["/chat"] },
                    "event": { "type": "string", "minLength": 1, "description": "Not one Socket.IO reserves (`connect`, `disconnect`, …)." },
                    "data": { "description": "The event's one argument, any JSON value." },
                    "rooms": strings,
                    "except": strings,
                    "users": user_ids,
                    "sockets": strings,
                },
            },
            "DisconnectRequest": {
                "type": "object",
                "required": ["namespace"],
                "additionalProperties": false,
                "properties": {
                    "namespace": { "type": "string" },
                    "rooms": strings,
                    "users": user_ids,
                    "sockets": strings,
                },
            },
            "Presence": {
                "type": "object",
                "required": ["namespace", "users"],
                "properties": {
                    "namespace": { "type": "string" },
                    "users": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["userId", "username", "sockets"],
                            "properties": {
                                "userId": { "type": "string" },
                                "username": { "type": "string" },
                                "sockets": { "type": "integer", "minimum": 1 },
                            },
                        },
                    },
                },
            },
        },
    })
}
