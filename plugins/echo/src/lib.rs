//! The smallest useful handler: every event is acked with its own payload.

use portico_sdk::{Ctx, Error, Handler, Reply, plugin};

/// The echo plugin.
pub struct Echo;

#[plugin]
impl Handler for Echo {
    fn on_event(ctx: &mut Ctx, _event: &str) -> Result<Reply, Error> {
        Ok(Reply(Some(ctx.payload_json().to_owned())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use portico_sdk::SocketInfo;
    use portico_sdk::testing::MockHost;

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
}
