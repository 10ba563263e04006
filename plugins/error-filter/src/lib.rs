//! The seed's `WsExceptionFilter` (the `/chat` gateway's): the client's `error` event
//! is exactly `{message, code}`. A `WsException` keeps its message with `WS_ERROR`, a
//! validation failure its class-validator messages with `VALIDATION_ERROR`, and
//! anything else is `{message: "Internal error", code: "INTERNAL_ERROR"}`: internal
//! detail never reaches the client, and extra data is never attached.

use portico_sdk::{Env, Error, Filter, Value, json, plugin};

/// The filter.
pub struct ErrorFilter;

#[plugin]
impl Filter for ErrorFilter {
    fn catch(_env: &Env, _event: &str, _payload: &Value, error: Error) -> Option<Value> {
        Some(match error.code.as_str() {
            "WS_ERROR" | "VALIDATION_ERROR" => json!({ "message": error.message, "code": error.code }),
            _ => json!({ "message": "Internal error", "code": "INTERNAL_ERROR" }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use portico_sdk::testing::MockHost;

    fn catch(error: Error) -> Option<Value> {
        let host = MockHost::new();
        let env = Env::new(&host);
        ErrorFilter::catch(&env, "e", &json!({}), error)
    }

    #[test]
    fn ws_and_validation_errors_keep_message_and_code_and_nothing_else() {
        assert_eq!(
            catch(Error::ws("Access denied to this room")),
            Some(json!({"message": "Access denied to this room", "code": "WS_ERROR"}))
        );
        let invalid = Error::validation("text should not be empty").with_data(json!({"violations": []}));
        assert_eq!(
            catch(invalid),
            Some(json!({"message": "text should not be empty", "code": "VALIDATION_ERROR"}))
        );
    }

    #[test]
    fn anything_else_is_internal_without_detail() {
        for error in [
            Error::new("INTERNAL_ERROR", "stack trace here"),
            Error::new("TOKEN_EXPIRED", "whatever"),
        ] {
            assert_eq!(
                catch(error),
                Some(json!({"message": "Internal error", "code": "INTERNAL_ERROR"}))
            );
        }
    }
}
