//! Measures the per-event cost of a plugin call through the host runtime: the echo
//! component, warm-instance pool vs a fresh instance per call.
//!
//! ```text
//! cargo xtask build   # builds target/plugins/echo.wasm
//! cargo run --release -p portico --example plugin_overhead -- target/plugins/echo.wasm 20000
//! cargo run --release -p portico --example plugin_overhead -- target/plugins/bench.wasm 20000 echo
//! ```
//!
//! Arguments: the component, the number of calls, the event name (default `e`), and
//! `pooled` or `per-call` to measure only that isolation. Under callgrind, two runs
//! that differ only in the number of calls give the instructions per call:
//!
//! ```text
//! valgrind --tool=callgrind target/release/examples/plugin_overhead target/plugins/echo.wasm 2000 e pooled
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use portico::builtin::echo::Echo;
use portico::config::{Isolation, PluginSettings, PluginsConfig};
use portico::plugins::bindings::Payload;
use portico::plugins::registry::Registry;
use portico::plugins::runtime::Runtime;
use portico::plugins::state::CallSocket;
use portico::router::{Framing, Handshake, Namespace, Socket};
use portico::store::MemoryStore;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let wasm = std::path::PathBuf::from(args.next().unwrap_or_else(|| "target/plugins/echo.wasm".into()));
    let calls: u32 = args.next().map(|n| n.parse()).transpose()?.unwrap_or(20_000);
    let event = args.next().unwrap_or_else(|| "e".into());
    let only = args.next();
    let dir = tempdir()?;
    std::fs::copy(&wasm, dir.join("echo.wasm"))?;
    let runtime = Runtime::new(&PluginsConfig::default().cache_dir())?;
    // A socket that sends nowhere: the echo acks, and the ack is all this measures.
    let ns = Namespace::new("/", Arc::new(Echo));
    let (outbox, _rx) = portico::outbound::Outbox::new(64);
    let socket = CallSocket {
        socket: Socket::new("/", Arc::new(outbox), Framing::SocketIo, Handshake::default()),
        ns,
    };
    let payload = Payload {
        json: r#"{"n":1}"#.into(),
        attachments: Vec::new(),
    };
    println!("| isolation | calls | µs per call (mean) |");
    println!("|---|---:|---:|");
    for isolation in [Isolation::Pooled, Isolation::PerCall] {
        let name = match isolation {
            Isolation::Pooled => "pooled",
            Isolation::PerCall => "per-call",
        };
        if only.as_deref().is_some_and(|only| only != name) {
            continue;
        }
        let mut config = PluginsConfig {
            dir: dir.clone(),
            ..PluginsConfig::default()
        };
        config.settings.insert(
            "echo".into(),
            PluginSettings {
                isolation: Some(isolation),
                ..Default::default()
            },
        );
        let registry = Registry::new(runtime.clone(), config, Arc::new(MemoryStore::default()));
        registry.reload("echo").await?;
        let plugin = registry
            .get("echo")
            .ok_or_else(|| anyhow::anyhow!("echo did not load"))?;
        // Warm up, then measure.
        for _ in 0..1000 {
            plugin.on_event(&socket, &event, &payload).await?;
        }
        let start = Instant::now();
        for _ in 0..calls {
            let outcome = plugin.on_event(&socket, &event, &payload).await?;
            std::hint::black_box(outcome);
        }
        let per_call = start.elapsed() / calls;
        println!("| {isolation:?} | {calls} | {:.2} |", micros(per_call));
    }
    Ok(())
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn tempdir() -> std::io::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("portico-overhead-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
