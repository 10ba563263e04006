//! A handler that misbehaves on request, so tests can show the gateway contains it:
//!
//! - `loop`: spins forever (cut at the deadline);
//! - `trap`: panics (a trap);
//! - `oom`: allocates until the memory cap stops it;
//! - `flood`: asks for more emits than one call may make;
//! - `emit-then-fail`: emits, then fails (the outbox must emit nothing);
//! - `slow-join` `{room, ms}`: joins `room`, then works for `ms` milliseconds before
//!   it returns (so a test can disconnect the client while the join waits to apply);
//! - `grow` `{mb}`: allocates `mb` MiB, touches it, frees it and acks `"grown"` (its
//!   instance's memory stays that large: a wasm memory never shrinks);
//! - `store` `{key, bytes}`: sets kv `key` to a value of `bytes` bytes and acks the
//!   number of keys it has set so far (the host's store limits trap it past them);
//! - `bad-placeholder`: acks a placeholder whose attachment it does not send;
//! - `whoami`: acks what its socket handle tells (`{id, namespace, user, auth, query,
//!   rooms}` and the `x-team` header as `team`), so a test sees the handle read through;
//! - anything else: acked with `"ok"`.
//!
//! As server events (another node's `serverSideEmit`), `trap` panics and `emit-then-trap`
//! emits, then panics; anything else is not answered.
//!
//! With `lifecycle_room` in its config, it tells that room of every socket's life:
//! `lifecycle {event: "connect", id}` from `on_connect` and `lifecycle {event:
//! "disconnect", id, reason}` from `on_disconnect`, so a test sees what the plugin saw.

use portico_sdk::{Ctx, Error, Handler, Payload, Reply, ServerCtx, Value, json, plugin};

/// What `slow-join` is asked.
#[derive(serde::Deserialize)]
struct SlowJoin {
    room: String,
    ms: u64,
}

/// What `store` is asked.
#[derive(serde::Deserialize)]
struct StoreValue {
    key: String,
    bytes: usize,
}

/// What `grow` is asked.
#[derive(serde::Deserialize)]
struct Grow {
    mb: usize,
}

/// Its config.
#[derive(serde::Deserialize, Default)]
struct Config {
    /// Where `lifecycle` events go; none: not sent.
    #[serde(default)]
    lifecycle_room: Option<String>,
}

/// Tells the lifecycle room, if configured, of `event` on the caller's socket.
fn lifecycle(ctx: &mut Ctx, event: &str, reason: Option<&str>) -> Result<(), Error> {
    let config: Config = ctx.config().unwrap_or_default();
    let Some(room) = config.lifecycle_room else {
        return Ok(());
    };
    let id = ctx.socket().id().to_owned();
    ctx.to_room(&room).emit(
        "lifecycle",
        &json!({ "event": event, "id": id, "reason": reason }),
    )
}

/// The misbehaving plugin.
pub struct Misbehaving;

#[plugin]
impl Handler for Misbehaving {
    fn on_connect(ctx: &mut Ctx) -> Result<(), Error> {
        lifecycle(ctx, "connect", None)
    }

    fn on_disconnect(ctx: &mut Ctx, reason: &str) {
        let _ = lifecycle(ctx, "disconnect", Some(reason));
    }

    fn on_event(ctx: &mut Ctx, event: &str) -> Result<Reply, Error> {
        match event {
            "loop" => {
                let mut n: u64 = 0;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            "trap" => panic!("misbehaving: asked to trap"),
            "oom" => {
                // Reserved, not written: filling 64 MiB raced the 50 ms deadline, so
                // the call sometimes failed as a deadline instead of at the memory cap.
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(Vec::with_capacity(1 << 20));
                    std::hint::black_box(&hoard);
                }
            }
            "flood" => {
                // Ten times what one call may ask for (1 024), and quick: 100 000 emits
                // took close to the 50 ms deadline, so the call sometimes failed as a
                // deadline instead of as too many effects.
                for i in 0..10_000u32 {
                    ctx.broadcast().emit("flood", &i)?;
                }
                Reply::ack(&"flooded")
            }
            "emit-then-fail" => {
                ctx.broadcast().emit("should-not-arrive", &true)?;
                Err(Error::ws("failed after emitting"))
            }
            "slow-join" => {
                let SlowJoin { room, ms } = ctx.payload()?;
                ctx.join(&room);
                let started = std::time::Instant::now();
                while started.elapsed() < std::time::Duration::from_millis(ms) {
                    std::hint::spin_loop();
                }
                Reply::ack(&"joined")
            }
            "grow" => {
                let Grow { mb } = ctx.payload()?;
                let block = vec![1u8; mb << 20];
                std::hint::black_box(&block);
                Reply::ack(&"grown")
            }
            "store" => {
                let StoreValue { key, bytes } = ctx.payload()?;
                ctx.store().set(&key, &"v".repeat(bytes), None);
                Reply::ack(&ctx.store().incr("stored", 1))
            }
            "bad-placeholder" => Reply::raw(Payload {
                json: r#"[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#.into(),
                attachments: vec![vec![1]],
            }),
            "whoami" => {
                let socket = ctx.socket();
                let user: Option<Value> = socket.user();
                let auth: Value =
                    portico_sdk::serde_json::from_str(socket.auth_json()).unwrap_or(Value::Null);
                Reply::ack(&json!({
                    "id": socket.id(),
                    "namespace": socket.namespace(),
                    "user": user,
                    "auth": auth,
                    "query": socket.query(),
                    "team": socket.header("x-team"),
                    "rooms": socket.rooms(),
                }))
            }
            _ => Reply::ack(&"ok"),
        }
    }
    fn on_server_event(ctx: &mut ServerCtx, event: &str, _args: &[Value]) -> Option<Value> {
        match event {
            "trap" => panic!("misbehaving: asked to trap on a server event"),
            "emit-then-trap" => {
                let _ = ctx.here().broadcast().emit("should-not-arrive", &true);
                panic!("misbehaving: trapped after emitting")
            }
            _ => None,
        }
    }
}
