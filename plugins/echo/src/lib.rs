//! The smallest useful handler: every event is acked with its own payload, binary
//! attachments included, passed through without being parsed or copied; a server
//! event (another node's `serverSideEmit`) is broadcast to the namespace with its
//! first argument and answered with all of them.

use portico_sdk::{Ctx, Error, Handler, Reply, ServerCtx, Value, plugin};

/// The echo plugin.
pub struct Echo;

#[plugin]
impl Handler for Echo {
    fn on_event(ctx: &mut Ctx, _event: &str) -> Result<Reply, Error> {
        Reply::raw(ctx.take_payload())
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
    use portico_sdk::Payload;
    use portico_sdk::testing::{MockHost, Recorded};

    #[test]
    fn acks_with_the_payload_and_its_attachments_and_emits_nothing() {
        let host = MockHost::new();
        let payload = Payload {
            json: r#"{"a":[1,2],"b":{"_placeholder":true,"num":0}}"#.into(),
            attachments: vec![vec![0, 255, 7]],
        };
        let mut ctx = Ctx::new(&host, payload.clone());
        assert_eq!(Echo::on_event(&mut ctx, "anything"), Reply::raw(payload));
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
                attachments: vec![],
                to: portico_sdk::Target::All,
                except_rooms: vec![],
                except_sender: false,
            }]
        );
    }
}
