//! The Engine.IO layer alone, for the official Engine.IO protocol test suite
//! (`socketio/engine.io-protocol`, `test-suite/`): path `/engine.io/`, ping interval
//! 300 ms, ping timeout 200 ms, max payload 1 000 000, every message (text or binary)
//! echoed back to its sender.
//!
//! ```text
//! cargo run --release -p portico --example engineio_echo -- 127.0.0.1:3000
//! ```

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::routing::any;
use tower_http::cors::CorsLayer;

use portico::engineio::{Engine, EngineConfig, EngineHandler, RequestInfo, Session};
use portico::outbound::{Connection, Outbound};
use portico::protocol::engineio::{Frame, Message};
use portico::reason::DisconnectReason;

/// Sends every message back on the session it came from.
struct Echo;

impl EngineHandler for Echo {
    type Conn = Session;

    fn on_open(&self, session: &Session, _: &RequestInfo) -> Session {
        session.clone()
    }

    async fn on_message(&self, session: &Session, message: Message) {
        let frame = match message {
            Message::Text(text) => Frame::message(&text),
            Message::Binary(bytes) => Frame::Binary(bytes),
        };
        let _ = session.send(Outbound::Frame(frame));
    }

    fn on_close(&self, _: &Session, _: DisconnectReason) {}
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let addr: SocketAddr = std::env::args()
        .nth(1)
        .as_deref()
        .unwrap_or("127.0.0.1:3000")
        .parse()?;
    let config = EngineConfig {
        ping_interval: Duration::from_millis(300),
        ping_timeout: Duration::from_millis(200),
        max_payload: 1_000_000,
        upgrade_timeout: Duration::from_secs(10),
        queue_capacity: 1024,
        connections: Default::default(),
        // Off, as Node's engine.io has it.
        compression: Default::default(),
    };
    let engine = Engine::new(config, Echo);
    let app = Router::new()
        .route("/engine.io/", any(handle))
        .layer(CorsLayer::very_permissive())
        .with_state(engine);
    let listener = portico::server::bind(addr, 1024)?;
    println!("listening on {}", listener.local_addr()?);
    // Portico's accept loop: its WebSocket layer reads the upgraded TcpStream directly.
    let frontend = portico::accept::Frontend {
        app,
        header_timeout: Duration::from_secs(10),
    };
    portico::accept::serve(
        listener,
        frontend.shared(),
        tokio_util::sync::CancellationToken::new(),
    )
    .await;
    Ok(())
}

async fn handle(State(engine): State<Engine<Echo>>, req: Request) -> axum::response::Response {
    engine.handle(req).await
}
