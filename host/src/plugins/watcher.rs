//! Watches the plugins folder and reloads what changed, debounced so a file written
//! in several steps (or renamed into place) loads once, complete.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use notify::{EventKind, RecursiveMode, Watcher};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::registry::{Registry, plugin_name};

/// Quiet time after the last change to a file before it is reloaded.
const DEBOUNCE: Duration = Duration::from_millis(150);

/// Watches until `stop` is cancelled. Fails only if the folder cannot be watched.
pub fn spawn(registry: Arc<Registry>, stop: CancellationToken) -> Result<(), notify::Error> {
    let (tx, mut rx) = mpsc::unbounded_channel::<String>();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let Ok(event) = event else { return };
        // Opening or reading a file (our own load does) is not a change; reacting to it
        // would reload forever.
        if !matches!(
            event.kind,
            EventKind::Create(_) | EventKind::Modify(_) | EventKind::Remove(_)
        ) {
            return;
        }
        for path in &event.paths {
            // A manifest change reloads its plugin too.
            let wasm = if path.extension().is_some_and(|e| e == "toml") {
                path.with_extension("wasm")
            } else {
                path.clone()
            };
            if let Some(name) = plugin_name(&wasm) {
                let _ = tx.send(name);
            }
        }
    })?;
    std::fs::create_dir_all(registry.dir()).map_err(notify::Error::io)?;
    watcher.watch(registry.dir(), RecursiveMode::NonRecursive)?;
    tokio::spawn(async move {
        let _watcher = watcher;
        let mut pending: HashMap<String, tokio::time::Instant> = HashMap::new();
        loop {
            let next_due = pending.values().min().copied();
            tokio::select! {
                () = stop.cancelled() => return,
                name = rx.recv() => match name {
                    Some(name) => { pending.insert(name, tokio::time::Instant::now() + DEBOUNCE); }
                    None => return,
                },
                () = sleep_until(next_due) => {
                    let now = tokio::time::Instant::now();
                    let due: Vec<String> = pending.iter().filter(|(_, at)| **at <= now).map(|(n, _)| n.clone()).collect();
                    for name in due {
                        pending.remove(&name);
                        let _ = registry.reload(&name).await;
                    }
                }
            }
        }
    });
    Ok(())
}

async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
