//! An HTTP request served by an `http-handler` plugin: the request goes in whole, the
//! response is checked before anything of it is sent, and the emits the call made are
//! applied when its status is below 400.

use http::{HeaderName, HeaderValue, StatusCode};

use super::bindings::{HttpRequest, HttpResponse};
use super::effects::{self, Caller, EffectError};
use super::registry::Registry;
use super::{CallError, Kind};

/// Why a plugin could not answer a request. Each is a 5xx to the client and a log line.
#[derive(Debug, Clone, thiserror::Error)]
pub enum HttpCallError {
    /// No plugin of that name is loaded.
    #[error("plugin `{0}` is not loaded")]
    NotLoaded(String),
    /// The plugin is loaded but is not an `http-handler-plugin`.
    #[error("plugin `{plugin}` is a {kind}, not an http-handler-plugin")]
    WrongKind {
        /// The plugin.
        plugin: String,
        /// What it is.
        kind: Kind,
    },
    /// The call trapped, ran out of time or memory.
    #[error("plugin `{plugin}` failed: {error}")]
    Call {
        /// The plugin.
        plugin: String,
        /// How.
        error: CallError,
    },
    /// The plugin answered something that cannot be sent.
    #[error("plugin `{plugin}` answered a bad response: {what}")]
    BadResponse {
        /// The plugin.
        plugin: String,
        /// What is wrong with it.
        what: String,
    },
    /// The plugin asked for effects that were refused.
    #[error("plugin `{plugin}`: {error}")]
    Effects {
        /// The plugin.
        plugin: String,
        /// Why they were refused.
        error: EffectError,
    },
}

impl HttpCallError {
    /// The status the client receives: 503 while the plugin is missing, else 500.
    pub fn status(&self) -> StatusCode {
        match self {
            HttpCallError::NotLoaded(_) => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// Calls `plugin` with `request`; `max_body` bounds the response body and any emit
/// payload.
pub async fn call(
    registry: &Registry,
    plugin: &str,
    request: &HttpRequest,
    max_body: usize,
) -> Result<http::Response<Vec<u8>>, HttpCallError> {
    let loaded = registry
        .get(plugin)
        .ok_or_else(|| HttpCallError::NotLoaded(plugin.to_owned()))?;
    if loaded.kind() != Kind::Http {
        return Err(HttpCallError::WrongKind {
            plugin: plugin.to_owned(),
            kind: loaded.kind(),
        });
    }
    let outcome = loaded
        .handle_http(request)
        .await
        .map_err(|error| HttpCallError::Call {
            plugin: plugin.to_owned(),
            error,
        })?;
    let response = checked(outcome.value, max_body).map_err(|what| HttpCallError::BadResponse {
        plugin: plugin.to_owned(),
        what,
    })?;
    if response.status().as_u16() < 400 {
        let namespaces = registry.namespaces();
        let caller = Caller {
            namespaces: &namespaces,
            namespace: None,
            socket: None,
            max_payload: max_body,
        };
        effects::apply(&caller, outcome.effects).map_err(|error| HttpCallError::Effects {
            plugin: plugin.to_owned(),
            error,
        })?;
    }
    Ok(response)
}

/// The plugin's answer as a response, or what makes it unsendable.
fn checked(answer: HttpResponse, max_body: usize) -> Result<http::Response<Vec<u8>>, String> {
    let status = StatusCode::from_u16(answer.status)
        .ok()
        .filter(|_| (100..=599).contains(&answer.status))
        .ok_or_else(|| format!("status {} is not an HTTP status", answer.status))?;
    if answer.body.len() > max_body {
        return Err(format!(
            "body of {} bytes is over http.max_body_bytes ({max_body})",
            answer.body.len()
        ));
    }
    let mut response = http::Response::new(answer.body);
    *response.status_mut() = status;
    for (name, value) in answer.headers {
        let header =
            HeaderName::from_bytes(name.as_bytes()).map_err(|_| format!("`{name}` is not a header name"))?;
        let value =
            HeaderValue::from_str(&value).map_err(|_| format!("header `{name}` has an invalid value"))?;
        response.headers_mut().append(header, value);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, headers: &[(&str, &str)], body: &[u8]) -> HttpResponse {
        HttpResponse {
            status,
            headers: headers
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
            body: body.to_vec(),
        }
    }

    #[test]
    fn a_good_answer_becomes_the_response() {
        let response =
            checked(answer(201, &[("content-type", "application/json")], b"{}"), 10).expect("a good answer");
        assert_eq!(response.status(), StatusCode::CREATED);
        assert_eq!(response.headers()["content-type"], "application/json");
        assert_eq!(response.body(), b"{}");
    }

    #[test]
    fn bad_answers_are_refused_with_the_reason() {
        let refused = |a: HttpResponse| checked(a, 4).expect_err("refused");
        assert_eq!(refused(answer(99, &[], b"")), "status 99 is not an HTTP status");
        assert_eq!(refused(answer(600, &[], b"")), "status 600 is not an HTTP status");
        assert_eq!(
            refused(answer(200, &[], b"12345")),
            "body of 5 bytes is over http.max_body_bytes (4)"
        );
        assert_eq!(
            refused(answer(200, &[("bad name", "x")], b"")),
            "`bad name` is not a header name"
        );
        assert_eq!(
            refused(answer(200, &[("x-a", "line\nbreak")], b"")),
            "header `x-a` has an invalid value"
        );
    }
}
