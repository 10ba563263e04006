//! Errors and violations, with the codes Portico's examples use.

use serde_json::Value;

/// An error a plugin raises; the client sees `{message, code}` (after the filters).
#[derive(Debug, Clone, PartialEq)]
pub struct Error {
    /// A stable code, like `WS_ERROR`.
    pub code: String,
    /// A message safe to show the client.
    pub message: String,
    /// Optional extra data for the client.
    pub data: Option<Value>,
}

impl Error {
    /// An error with any code.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Error {
        Error {
            code: code.into(),
            message: message.into(),
            data: None,
        }
    }

    /// `WS_ERROR`: what a NestJS `WsException` becomes.
    pub fn ws(message: impl Into<String>) -> Error {
        Error::new("WS_ERROR", message)
    }

    /// `VALIDATION_ERROR`.
    pub fn validation(message: impl Into<String>) -> Error {
        Error::new("VALIDATION_ERROR", message)
    }

    /// `INTERNAL_ERROR` with the client-safe message `Internal error`; `detail` is logged
    /// by the caller, not sent.
    pub fn internal(_detail: impl Into<String>) -> Error {
        Error::new("INTERNAL_ERROR", "Internal error")
    }

    /// Attaches extra data.
    pub fn with_data(mut self, data: Value) -> Error {
        self.data = Some(data);
        self
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for Error {}

/// One failed validation rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The property.
    pub property: String,
    /// class-validator's message for it.
    pub message: String,
}
