//! Benchmark peer: the least a server can do to answer the bench's events, on the
//! same stack as Portico (hyper for the upgrade, fastwebsockets for the frames, tokio),
//! so the matrix shows how far Portico is from the machine's practical limit.
//!
//!   peer-raw [PORT]      (0 or nothing = a free port)
//!
//! Binds to 127.0.0.1 only and prints `listening on 127.0.0.1:PORT` once it accepts
//! connections. Stops on SIGTERM/SIGINT. Speaks Engine.IO v4 over WebSocket only
//! (`/socket.io/?EIO=4&transport=websocket`): the open packet, a ping every 25 s, the
//! CONNECT of namespace `/`, and these events (`42[ack id][name, arg]`):
//! - `echo` (with an ack): acks the argument unchanged (its JSON text, never parsed);
//! - `join` (`{"room": name}`, with an ack): joins the room, acks `{"joined": name}`;
//! - `bcast` (`{"room": name, "payload": any}`): sends `msg` with `payload` to every
//!   socket in the room, the sender included, encoded once.
//!
//! Anything else is ignored. Accepted connections get `TCP_NODELAY`, like the others.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use fastwebsockets::{Frame, OpCode, Payload, WebSocketError};
use http_body_util::Empty;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use serde_json::value::RawValue;
use tokio::sync::mpsc;

/// Rooms by name, each with its members' outgoing queues by connection id.
type Rooms = Arc<Mutex<HashMap<String, HashMap<u64, mpsc::UnboundedSender<Bytes>>>>>;

const OPEN: &str =
    r#"0{"sid":"raw","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#;
const PING_INTERVAL: Duration = Duration::from_secs(25);

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
            eprintln!("usage: peer-raw [PORT]   (got {})", arg.unwrap_or_default());
            std::process::exit(2);
        }
    };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on {}", listener.local_addr()?)?;
        out.flush()?;
    }
    let rooms: Rooms = Arc::default();
    let ids = Arc::new(AtomicU64::new(0));
    let shutdown = shutdown_signal()?;
    let accept = async {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let _ = tcp.set_nodelay(true);
            let (rooms, ids) = (rooms.clone(), ids.clone());
            tokio::spawn(async move {
                let service =
                    service_fn(move |req| upgrade(req, rooms.clone(), ids.fetch_add(1, Ordering::Relaxed)));
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(tcp), service)
                    .with_upgrades()
                    .await;
            });
        }
    };
    tokio::select! {
        () = accept => {}
        () = shutdown => {}
    }
    Ok(())
}

async fn upgrade(
    mut req: Request<Incoming>,
    rooms: Rooms,
    id: u64,
) -> Result<Response<Empty<Bytes>>, WebSocketError> {
    if !fastwebsockets::upgrade::is_upgrade_request(&req) {
        let mut response = Response::new(Empty::new());
        *response.status_mut() = StatusCode::BAD_REQUEST;
        return Ok(response);
    }
    let (response, fut) = fastwebsockets::upgrade::upgrade(&mut req)?;
    tokio::spawn(async move {
        if let Ok(ws) = fut.await {
            serve(ws, rooms, id).await;
        }
    });
    Ok(response)
}

/// One client: a reader that answers its own events directly, and a writer that
/// sends what others queue for it (room messages) and the pings.
async fn serve(ws: fastwebsockets::WebSocket<TokioIo<hyper::upgrade::Upgraded>>, rooms: Rooms, id: u64) {
    let (mut read, write) = ws.split(tokio::io::split);
    let write = Arc::new(tokio::sync::Mutex::new(write));
    let (tx, mut rx) = mpsc::unbounded_channel::<Bytes>();
    let writer = tokio::spawn({
        let write = write.clone();
        async move {
            let mut ping =
                tokio::time::interval_at(tokio::time::Instant::now() + PING_INTERVAL, PING_INTERVAL);
            loop {
                let text = tokio::select! {
                    text = rx.recv() => match text {
                        Some(text) => text,
                        None => break,
                    },
                    _ = ping.tick() => Bytes::from_static(b"2"),
                };
                let mut write = write.lock().await;
                if write
                    .write_frame(Frame::text(Payload::Borrowed(&text)))
                    .await
                    .is_err()
                {
                    break;
                }
            }
        }
    });
    let mut obligated = |_frame: Frame<'_>| async { Ok::<(), WebSocketError>(()) };
    let mut reply = Some(Bytes::from_static(OPEN.as_bytes()));
    loop {
        if let Some(text) = reply.take()
            && write
                .lock()
                .await
                .write_frame(Frame::text(Payload::Borrowed(&text)))
                .await
                .is_err()
        {
            break;
        }
        let Ok(frame) = read.read_frame(&mut obligated).await else {
            break;
        };
        match frame.opcode {
            OpCode::Close => break,
            OpCode::Text => reply = answer(&frame.payload, &tx, &rooms, id),
            _ => {}
        }
    }
    for members in rooms.lock().unwrap_or_else(|p| p.into_inner()).values_mut() {
        members.remove(&id);
    }
    drop(tx);
    let _ = writer.await;
}

/// Answers one Engine.IO text packet: the reply to the sender, if any; room
/// messages go to the members' queues.
fn answer(packet: &[u8], tx: &mpsc::UnboundedSender<Bytes>, rooms: &Rooms, id: u64) -> Option<Bytes> {
    match packet {
        b"40" => Some(Bytes::from(format!(r#"40{{"sid":"raw-{id}"}}"#))),
        [b'4', b'2', rest @ ..] => {
            let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
            let (ack, body) = rest.split_at(digits);
            let body = std::str::from_utf8(body).ok()?;
            let args = serde_json::from_str::<Vec<&RawValue>>(body).ok()?;
            let (name, arg) = (args.first()?, args.get(1)?);
            let reply = |json: &str| {
                (!ack.is_empty()).then(|| {
                    let mut out = Vec::with_capacity(4 + ack.len() + json.len());
                    out.extend_from_slice(b"43");
                    out.extend_from_slice(ack);
                    out.push(b'[');
                    out.extend_from_slice(json.as_bytes());
                    out.push(b']');
                    Bytes::from(out)
                })
            };
            match name.get() {
                r#""echo""# => reply(arg.get()),
                r#""join""# => {
                    let Join { room } = serde_json::from_str(arg.get()).ok()?;
                    rooms
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .entry(room.to_owned())
                        .or_default()
                        .insert(id, tx.clone());
                    reply(&format!(r#"{{"joined":{}}}"#, serde_json::Value::from(room)))
                }
                r#""bcast""# => {
                    let Bcast { room, payload } = serde_json::from_str(arg.get()).ok()?;
                    let frame = Bytes::from(format!(r#"42["msg",{}]"#, payload.get()));
                    if let Some(members) = rooms.lock().unwrap_or_else(|p| p.into_inner()).get(room) {
                        for member in members.values() {
                            let _ = member.send(frame.clone());
                        }
                    }
                    None
                }
                _ => None,
            }
        }
        _ => None,
    }
}
