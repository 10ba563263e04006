//! The events every server in `cargo xtask bench` offers, as a handler plugin:
//!
//! - `echo`: acks its payload unchanged;
//! - `join {room}`: joins the sender to `room` and acks `{"joined": room}`;
//! - `bcast {room, payload}`: emits `msg` with `payload` to the whole room, sender included.
//!
//! Payloads are passed through as raw JSON text, never parsed into values: this is
//! how a plugin author keeps a relay cheap.

use portico_sdk::{Ctx, Error, Handler, Reply, plugin};
use serde::Deserialize;
use serde_json::value::RawValue;

/// The benchmark plugin.
pub struct Bench;

#[derive(Deserialize)]
struct Join<'a> {
    #[serde(borrow)]
    room: &'a str,
}

#[derive(Deserialize)]
struct Bcast<'a> {
    #[serde(borrow)]
    room: &'a str,
    #[serde(borrow)]
    payload: &'a RawValue,
}

fn parse<'a, T: Deserialize<'a>>(json: &'a str) -> Result<T, Error> {
    serde_json::from_str(json).map_err(|e| Error::validation(e.to_string()))
}

#[plugin]
impl Handler for Bench {
    fn on_event(ctx: &mut Ctx, event: &str) -> Result<Reply, Error> {
        match event {
            "echo" => Reply::raw(ctx.take_payload()),
            "join" => {
                let Join { room } = parse(ctx.payload_json())?;
                ctx.join(room);
                Reply::ack(&serde_json::json!({ "joined": room }))
            }
            "bcast" => {
                let Bcast { room, payload } = parse(ctx.payload_json())?;
                ctx.to_room(room).emit("msg", &payload)?;
                Reply::none()
            }
            other => Err(Error::new("unknown_event", format!("no such event: {other}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use portico_sdk::Target;
    use portico_sdk::testing::{MockHost, Recorded};

    fn call(host: &MockHost, event: &str, payload: &str) -> Result<Reply, Error> {
        let mut ctx = Ctx::new(host, payload);
        Bench::on_event(&mut ctx, event)
    }

    #[test]
    fn echo_acks_the_payload_unchanged() {
        let host = MockHost::new();
        let reply = call(&host, "echo", r#"{"t":1,"p":"xx"}"#);
        assert_eq!(reply, Reply::raw(r#"{"t":1,"p":"xx"}"#));
        assert!(host.recorded().is_empty());
    }

    #[test]
    fn join_joins_and_acks_the_room() {
        let host = MockHost::new();
        let reply = call(&host, "join", r#"{"room":"r1"}"#);
        assert_eq!(reply, Reply::raw(r#"{"joined":"r1"}"#));
        assert_eq!(host.recorded().len(), 1);
        assert!(matches!(&host.recorded()[0], Recorded::Join { room, .. } if room == "r1"));
    }

    #[test]
    fn bcast_relays_the_raw_payload_to_the_room_sender_included() {
        let host = MockHost::new();
        let reply = call(&host, "bcast", r#"{"room":"r1","payload":{"s":7, "t":1.5}}"#);
        assert_eq!(reply, Ok(Reply(None)));
        let recorded = host.recorded();
        assert_eq!(recorded.len(), 1, "{recorded:?}");
        match &recorded[0] {
            Recorded::Emit {
                event,
                data,
                to,
                except_sender,
                ..
            } => {
                assert_eq!(event, "msg");
                assert_eq!(data, &serde_json::json!({"s": 7, "t": 1.5}));
                assert_eq!(to, &Target::Rooms(vec!["r1".into()]));
                assert!(!except_sender);
            }
            other => panic!("expected an emit, got {other:?}"),
        }
    }

    #[test]
    fn a_malformed_command_is_a_validation_error() {
        let host = MockHost::new();
        let err = call(&host, "bcast", r#"{"room":1}"#).unwrap_err();
        assert_eq!(err.code, "VALIDATION_ERROR");
        assert!(call(&host, "nope", "null").is_err());
    }
}
