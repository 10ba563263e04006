//! The smallest useful handler: every event is acked with its own payload; a server
//! event (another node's `serverSideEmit`) is broadcast to the namespace with its
//! first argument and answered with all of them.

use portico_sdk::{Ctx, Error, Handler, Reply, ServerCtx, Value, plugin};

/// The echo plugin.
pub struct Echo;

#[plugin]
impl Handler for Echo {
    fn on_event(ctx: &mut Ctx, _event: &str) -> Result<Reply, Error> {
        Ok(Reply(Some(ctx.payload_json().to_owned())))
    }

    fn on_server_event(ctx: &mut ServerCtx, event: &str, args: &[Value]) -> Option<Value> {
        let first = args.first().unwrap_or(&Value::Null);
        // Refused only for a reserved name; the answer goes back either way.
        let _ = ctx.here().broadcast().emit(event, first);
        Some(Value::Array(args.to_vec()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use portico_sdk::SocketInfo;
    use portico_sdk::testing::{MockHost, Recorded};

    #[test]
    fn acks_with_the_payload_and_emits_nothing() {
        let host = MockHost::new();
        let mut ctx = Ctx::new(&host, SocketInfo::default(), r#"{"a":[1,2]}"#.into());
        assert_eq!(
            Echo::on_event(&mut ctx, "anything"),
            Ok(Reply(Some(r#"{"a":[1,2]}"#.into())))
        );
        assert!(host.recorded().is_empty());
    }

    #[test]
    fn a_server_event_is_broadcast_here_and_answered_with_its_arguments() {
        let host = MockHost::new();
        let mut ctx = ServerCtx::new(&host, "/".into());
        let args = [portico_sdk::json!({ "v": 2 }), portico_sdk::json!("x")];
        assert_eq!(
            Echo::on_server_event(&mut ctx, "config-changed", &args),
            Some(portico_sdk::json!([{ "v": 2 }, "x"]))
        );
        assert_eq!(
            host.recorded(),
            vec![Recorded::Emit {
                namespace: None,
                event: "config-changed".into(),
                data: portico_sdk::json!({ "v": 2 }),
                to: portico_sdk::Target::All,
                except_rooms: vec![],
                except_sender: false,
            }]
        );
    }
}
