//! A route of `[http.routes]`: the request read whole (within `http.max_body_bytes`),
//! handed to its `http-handler` plugin, and the plugin's checked answer sent back.
//! Whatever goes wrong on the gateway's side is a JSON error in NestJS's shape
//! (`{statusCode, message}`) and one log line; the detail is never sent.

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde_json::json;

use super::BodyError;
use crate::plugins::bindings::HttpRequest;
use crate::plugins::http::{HttpCallError, call as call_plugin};
use crate::server::Gateway;

/// Serves `req` with `plugin`.
pub async fn serve(gateway: &Gateway, plugin: &str, req: Request) -> Response {
    let limit = gateway.max_body_bytes();
    let (parts, body) = req.into_parts();
    let body = match super::read_body(body, limit).await {
        Ok(body) => body,
        Err(BodyError::TooLarge) => {
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!("Request body larger than {limit} bytes"),
            );
        }
        Err(BodyError::Unreadable) => return error(StatusCode::BAD_REQUEST, "Cannot read the request body"),
    };
    let request = HttpRequest {
        method: parts.method.as_str().to_owned(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().unwrap_or_default().to_owned(),
        headers: parts
            .headers
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_owned(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: body.to_vec(),
    };
    let Some(registry) = gateway.registry() else {
        // Validated at start-up: routes exist only with a registry.
        return error(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable");
    };
    match call_plugin(registry, plugin, &request, limit).await {
        Ok(response) => response.map(axum::body::Body::from).into_response(),
        Err(err) => {
            tracing::warn!(plugin, method = %parts.method, path = parts.uri.path(), %err, "plugin route failed");
            let status = err.status();
            let message = match err {
                HttpCallError::NotLoaded(_) => "Service Unavailable",
                _ => "Internal server error",
            };
            error(status, message)
        }
    }
}

/// A JSON error as NestJS sends its built-in exceptions.
fn error(status: StatusCode, message: &str) -> Response {
    (
        status,
        axum::Json(json!({ "statusCode": status.as_u16(), "message": message })),
    )
        .into_response()
}
