use std::collections::BTreeSet;
use std::path::Path;

use axum::body::Body;
use http::{Method, Request, StatusCode};
use tower::ServiceExt as _;

use super::*;
use crate::config::Config;
use crate::server::Gateway;

fn config(extra: &str) -> Config {
    let cache = std::env::temp_dir().join("portico-http-tests-cache");
    let text = format!(
        "[plugins]\ndir = \"/nonexistent\"\ncache_dir = \"{}\"\nwatch = false\n{extra}",
        cache.display()
    );
    let config = Config::from_toml(&text, Path::new("test.toml")).expect("parses");
    config.validate().expect("valid");
    config
}

const FULL: &str = r#"
[namespaces."/"]
[namespaces."/chat"]
[api]
key = "0123456789abcdef-test"
[http.routes]
"POST /notifications/send" = "notifications"
"GET /notifications/send" = "notifications"
"DELETE /items" = "items"
"#;

/// (path, method) pairs of an OpenAPI document.
fn documented(doc: &serde_json::Value) -> BTreeSet<(String, String)> {
    doc["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .expect("path item")
                .keys()
                .map(move |method| (path.clone(), method.to_ascii_uppercase()))
        })
        .collect()
}

#[test]
fn the_document_lists_exactly_the_routes() {
    let config = config(FULL);
    let table = routes(&config);
    let doc = openapi::document(&table);
    assert_eq!(doc["openapi"], "3.1.0");
    let routed: BTreeSet<(String, String)> = table
        .iter()
        .map(|r| (r.path.clone(), r.method.to_string()))
        .collect();
    assert_eq!(documented(&doc), routed);
    for expected in [
        ("/socket.io/", "GET"),
        ("/socket.io", "POST"),
        ("/ws/{namespace}", "GET"),
        ("/api/v1/emit", "POST"),
        ("/api/v1/disconnect", "POST"),
        ("/api/v1/presence", "GET"),
        ("/api/v1/openapi.json", "GET"),
        ("/notifications/send", "POST"),
        ("/notifications/send", "GET"),
        ("/items", "DELETE"),
    ] {
        assert!(
            routed.contains(&(expected.0.to_owned(), expected.1.to_owned())),
            "{expected:?}"
        );
    }
    let ids: Vec<&str> = documented(&doc)
        .iter()
        .map(|(path, method)| {
            doc["paths"][path][method.to_ascii_lowercase()]["operationId"]
                .as_str()
                .expect("operationId")
        })
        .collect();
    let unique: BTreeSet<&str> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len(), "operation ids are unique: {ids:?}");
}

#[test]
fn without_a_key_the_operator_api_is_not_served_or_documented() {
    let table = routes(&config(""));
    assert!(
        !table
            .iter()
            .any(|r| r.path.starts_with("/api/v1/") && r.path != "/api/v1/openapi.json"),
        "{table:?}"
    );
}

async fn status(app: &axum::Router, method: Method, path: &str) -> StatusCode {
    let request = Request::builder()
        .method(method)
        .uri(path)
        .body(Body::empty())
        .expect("request");
    app.clone().oneshot(request).await.expect("infallible").status()
}

#[tokio::test]
async fn every_documented_route_is_routed_and_nothing_else() {
    let config = config(FULL);
    let gateway = Gateway::new(&config).expect("gateway");
    let app = gateway.router();
    let doc: serde_json::Value = serde_json::from_str(&gateway.openapi()).expect("json");
    for (path, method) in documented(&doc) {
        let path = path.replace("{namespace}", "chat");
        let method = Method::from_bytes(method.as_bytes()).expect("method");
        let got = status(&app, method.clone(), &path).await;
        assert!(
            got != StatusCode::NOT_FOUND && got != StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path} answered {got}"
        );
    }
    // The probe can fail: what is not in the table is not routed.
    assert_eq!(status(&app, Method::GET, "/nope").await, StatusCode::NOT_FOUND);
    assert_eq!(
        status(&app, Method::POST, "/healthz").await,
        StatusCode::METHOD_NOT_ALLOWED
    );
    assert_eq!(
        status(&app, Method::PUT, "/notifications/send").await,
        StatusCode::METHOD_NOT_ALLOWED
    );
    // The operator API refuses a call without the key, and a plugin route whose plugin
    // is not loaded is a 503.
    assert_eq!(
        status(&app, Method::POST, "/api/v1/emit").await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        status(&app, Method::DELETE, "/items").await,
        StatusCode::SERVICE_UNAVAILABLE
    );
}
