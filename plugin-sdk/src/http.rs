//! HTTP for [`HttpHandler`](crate::HttpHandler) plugins: the [`Request`], the
//! [`Response`], and [`HttpError`], sent as the body a NestJS controller's
//! `HttpException` produces: `{"statusCode": 400, "message": "…", "error": "Bad Request"}`.
//!
//! ```
//! use portico_sdk::http::{HttpError, Request, Response};
//!
//! #[derive(Debug, serde::Deserialize)]
//! struct Ping { n: u32 }
//!
//! let req = Request { method: "POST".into(), body: br#"{"n": 1}"#.to_vec(), ..Request::default() };
//! let ping: Ping = req.json().unwrap();
//! let res = Response::json(201, &ping.n).unwrap();
//! assert_eq!((res.status, res.body.as_slice()), (201, b"1".as_slice()));
//!
//! let err = Request::default().json::<Ping>().unwrap_err();
//! assert_eq!((err.status, err.message.as_str()), (400, "Request body is not JSON"));
//! ```

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// A request, its body read whole by the gateway.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Request {
    /// The method in upper case.
    pub method: String,
    /// The path, like `/notifications/send`.
    pub path: String,
    /// The raw query string, without `?`.
    pub query: String,
    /// Header names in lower case, with their values.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Request {
    /// The first value of a header (the name in any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON: a 400 `Request body is not JSON` when it is not, and a 400
    /// naming the field when it does not fit `T` (`missing field `userId``).
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, HttpError> {
        let value = self.json_value()?;
        serde_json::from_value(value).map_err(|e| HttpError::bad_request(e.to_string()))
    }

    /// The body as a JSON value (400 when it is not JSON).
    pub fn json_value(&self) -> Result<Value, HttpError> {
        serde_json::from_slice(&self.body).map_err(|_| HttpError::bad_request("Request body is not JSON"))
    }
}

/// What the plugin answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status, 100 to 599.
    pub status: u16,
    /// Headers.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// A response with no headers and an empty body.
    pub fn empty(status: u16) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// `value` as `application/json`.
    pub fn json(status: u16, value: &impl Serialize) -> Result<Response, HttpError> {
        let body = serde_json::to_vec(value).map_err(|e| HttpError::internal(e.to_string()))?;
        Ok(Response {
            body,
            ..Response::empty(status)
        }
        .with_header("content-type", "application/json"))
    }

    /// `text` as `text/plain; charset=utf-8`.
    pub fn text(status: u16, text: &str) -> Response {
        Response {
            body: text.as_bytes().to_vec(),
            ..Response::empty(status)
        }
        .with_header("content-type", "text/plain; charset=utf-8")
    }

    /// Adds a header.
    pub fn with_header(mut self, name: &str, value: &str) -> Response {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }
}

/// An error answered as NestJS's `HttpException` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpError {
    /// The status, 400 to 599.
    pub status: u16,
    /// The message shown to the client.
    pub message: String,
}

impl HttpError {
    /// An error with any status.
    pub fn new(status: u16, message: impl Into<String>) -> HttpError {
        HttpError {
            status,
            message: message.into(),
        }
    }

    /// 400 Bad Request.
    pub fn bad_request(message: impl Into<String>) -> HttpError {
        HttpError::new(400, message)
    }

    /// 404 Not Found.
    pub fn not_found(message: impl Into<String>) -> HttpError {
        HttpError::new(404, message)
    }

    /// 500 with NestJS's `Internal server error`; `detail` is for the caller to log,
    /// never sent.
    pub fn internal(_detail: impl Into<String>) -> HttpError {
        HttpError::new(500, "Internal server error")
    }

    /// The response: `{statusCode, message, error}` (`error` is the reason phrase; a
    /// 500 has none, as in NestJS).
    pub fn into_response(self) -> Response {
        let mut body = json!({ "statusCode": self.status, "message": self.message });
        if let Some(reason) = reason(self.status).filter(|_| self.status != 500) {
            body["error"] = reason.into();
        }
        Response {
            body: body.to_string().into_bytes(),
            ..Response::empty(self.status)
        }
        .with_header("content-type", "application/json")
    }
}

impl From<crate::Error> for HttpError {
    /// A plugin error from a helper shared with socket handlers: validation is a 400,
    /// anything else a 500.
    fn from(error: crate::Error) -> HttpError {
        match error.code.as_str() {
            "VALIDATION_ERROR" | "WS_ERROR" => HttpError::bad_request(error.message),
            _ => HttpError::internal(error.message),
        }
    }
}

/// The reason phrase NestJS puts in `error`.
fn reason(status: u16) -> Option<&'static str> {
    Some(match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        413 => "Payload Too Large",
        415 => "Unsupported Media Type",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(res: &Response) -> Value {
        serde_json::from_slice(&res.body).expect("json body")
    }

    #[test]
    fn errors_have_nestjs_shape() {
        let res = HttpError::bad_request("userId should not be empty").into_response();
        assert_eq!(res.status, 400);
        assert_eq!(
            body(&res),
            json!({"statusCode": 400, "message": "userId should not be empty", "error": "Bad Request"})
        );
        assert_eq!(
            body(&HttpError::internal("secret detail").into_response()),
            json!({"statusCode": 500, "message": "Internal server error"})
        );
        assert_eq!(
            res.headers,
            vec![("content-type".to_owned(), "application/json".to_owned())]
        );
    }

    #[test]
    fn json_bodies_and_their_errors() {
        #[derive(serde::Deserialize, Debug, PartialEq)]
        #[serde(rename_all = "camelCase")]
        struct Send {
            user_id: String,
        }
        let req = |b: &str| Request {
            body: b.as_bytes().to_vec(),
            ..Request::default()
        };
        assert_eq!(
            req(r#"{"userId": "7"}"#).json::<Send>().map(|s| s.user_id),
            Ok("7".into())
        );
        assert_eq!(
            req("{oops").json::<Send>().map_err(|e| e.message),
            Err("Request body is not JSON".into())
        );
        assert_eq!(
            req("{}").json::<Send>().map_err(|e| (e.status, e.message)),
            Err((400, "missing field `userId`".into()))
        );
    }

    #[test]
    fn headers_are_found_in_any_case() {
        let req = Request {
            headers: vec![("content-type".into(), "application/json".into())],
            ..Request::default()
        };
        assert_eq!(req.header("Content-Type"), Some("application/json"));
        assert_eq!(req.header("accept"), None);
    }
}
