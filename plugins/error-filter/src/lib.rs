//! The seed's `WsExceptionFilter`: the client receives `{message, code}` (plus
//! `data` when the error carries it). Internal errors never show their detail.

use portico_sdk::{ClientError, Env, Error, Filter, plugin};

/// The filter.
pub struct ErrorFilter;

#[plugin]
impl Filter for ErrorFilter {
    fn catch(_env: &Env, _event: &str, error: Error) -> Option<ClientError> {
        let (message, data) = if error.code == "INTERNAL_ERROR" {
            ("Internal error".to_owned(), None)
        } else {
            (error.message, error.data)
        };
        Some(ClientError {
            message,
            code: error.code,
            data,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use portico_sdk::SocketInfo;
    use portico_sdk::testing::MockHost;

    #[test]
    fn keeps_message_and_code_and_hides_internal_detail() {
        let host = MockHost::new();
        let env = Env::new(&host, SocketInfo::default());
        let out = ErrorFilter::catch(&env, "e", Error::ws("Access denied to this room"));
        assert_eq!(
            out.map(|c| (c.message, c.code)),
            Some(("Access denied to this room".into(), "WS_ERROR".into()))
        );
        let internal = Error::new("INTERNAL_ERROR", "stack trace here");
        assert_eq!(
            ErrorFilter::catch(&env, "e", internal).map(|c| c.message),
            Some("Internal error".into())
        );
    }
}
