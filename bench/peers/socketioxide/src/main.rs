//! Benchmark peer: a socketioxide Socket.IO v5 server (axum glue) with the same
//! events as `bench/peers/node/server.mjs`, so one load generator drives both.
//!
//!   peer-socketioxide [PORT]      (0 or nothing = a free port)
//!
//! Binds to 127.0.0.1 only and prints `listening on 127.0.0.1:PORT` once it accepts
//! connections. Stops on SIGTERM/SIGINT. Default socketioxide options (path
//! `/socket.io/`, pingInterval 25 s, pingTimeout 20 s, polling + websocket), except the
//! max payload, raised from socketioxide's 100 kB to 1 MB (socket.io's
//! `maxHttpBufferSize` default). Accepted connections get `TCP_NODELAY`, as Node's HTTP
//! server and Portico give theirs by default: without it, Nagle's algorithm held small
//! writes for the peer's delayed ACK (a 50-member fan-out ran at 90k deliveries/s, the
//! load generator 90% idle).
//!
//! Events on namespace "/":
//! - `echo` (any JSON, with an ack): acks the payload unchanged.
//! - `join` (`{"room": name}`, with an ack): joins the room, acks `{"joined": name}`.
//! - `bcast` (`{"room": name, "payload": any}`): emits `msg` with `payload` to every
//!   socket in the room, the sender included.

use serde::Deserialize;
use serde_json::{Value, json};
use axum::serve::ListenerExt;
use socketioxide::SocketIo;
use socketioxide::extract::{AckSender, Data, SocketRef};

#[derive(Deserialize)]
struct Join {
    room: String,
}

#[derive(Deserialize)]
struct Bcast {
    room: String,
    payload: Value,
}

async fn on_connect(socket: SocketRef) {
    socket.on("echo", async |Data::<Value>(data), ack: AckSender| {
        ack.send(&data).ok();
    });
    socket.on(
        "join",
        async |socket: SocketRef, Data::<Join>(join), ack: AckSender| {
            socket.join(join.room.clone());
            ack.send(&json!({ "joined": join.room })).ok();
        },
    );
    socket.on("bcast", async |socket: SocketRef, Data::<Bcast>(bcast)| {
        socket.within(bcast.room).emit("msg", &bcast.payload).await.ok();
    });
}

/// Installs the SIGTERM/SIGINT handlers now; the future resolves on either signal.
fn shutdown_signal() -> std::io::Result<impl Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    })
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let arg = std::env::args().nth(1);
    let port: u16 = match arg.as_deref().map(str::parse) {
        None => 0,
        Some(Ok(port)) => port,
        Some(Err(_)) => {
            eprintln!("usage: peer-socketioxide [PORT]   (got {})", arg.unwrap());
            std::process::exit(2);
        }
    };

    let (layer, io) = SocketIo::builder().max_payload(1_000_000).build_layer();
    io.ns("/", on_connect);
    let app = axum::Router::new().layer(layer);

    let shutdown = shutdown_signal()?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on {}", listener.local_addr()?)?;
        out.flush()?;
    }

    let listener = listener.tap_io(|tcp| {
        // A failure here only costs latency; the connection is still served.
        let _ = tcp.set_nodelay(true);
    });
    tokio::select! {
        res = axum::serve(listener, app) => res?,
        () = shutdown => {}
    }
    io.close().await;
    Ok(())
}
