//! Where reloaded configs come from: the file the gateway started with, read again on
//! `SIGHUP` and, with `--watch-config`, each time it changes.
//!
//! The watch is on the file's folder, so a file replaced by a rename (as editors and
//! `mv` do) or a Kubernetes ConfigMap (whose `..data` link is swapped) is seen.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::{EventKind, RecursiveMode, Watcher};
use tokio::sync::mpsc;

use crate::config::{Config, ConfigError};

/// Quiet time after the last change to the file before it is read: an editor's
/// write-then-rename, or a `cp` in several writes, is read once, complete.
const DEBOUNCE: Duration = Duration::from_millis(200);

/// Requests to reload the config, and the config each one reads.
pub struct Reloads {
    path: Option<PathBuf>,
    /// `--listen`, which overrides `server.listen` in every config read.
    listen: Option<SocketAddr>,
    #[cfg(unix)]
    hangup: Option<tokio::signal::unix::Signal>,
    changes: Option<FileChanges>,
}

/// The config file's folder, watched.
struct FileChanges {
    _watcher: notify::RecommendedWatcher,
    changed: mpsc::UnboundedReceiver<()>,
}

/// Why reloads cannot be watched for.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    /// `--watch-config` with no config file.
    #[error("--watch-config needs a config file (--config)")]
    NoFile,
    /// The signal handler could not be installed.
    #[error("cannot listen for SIGHUP: {0}")]
    Signal(std::io::Error),
    /// The folder cannot be watched.
    #[error("cannot watch {path}: {source}")]
    Watch {
        /// The folder.
        path: PathBuf,
        /// Why.
        source: notify::Error,
    },
}

impl Reloads {
    /// Reloads of `path` (the defaults when `None`, as at start) on `SIGHUP`, and on
    /// every change of the file when `watch`; `listen` overrides `server.listen`.
    pub fn new(
        path: Option<PathBuf>,
        listen: Option<SocketAddr>,
        watch: bool,
    ) -> Result<Reloads, WatchError> {
        let changes = match (&path, watch) {
            (_, false) => None,
            (None, true) => return Err(WatchError::NoFile),
            (Some(path), true) => Some(FileChanges::watch(path)?),
        };
        Ok(Reloads {
            #[cfg(unix)]
            hangup: Some(
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
                    .map_err(WatchError::Signal)?,
            ),
            path,
            listen,
            changes,
        })
    }

    /// Waits for the next request to reload, then reads the config: the new one, or
    /// why it does not load.
    pub async fn next(&mut self) -> Result<Config, ConfigError> {
        let trigger = tokio::select! {
            () = hangup(&mut self.hangup) => "SIGHUP",
            () = file_changed(&mut self.changes) => "config file changed",
        };
        tracing::info!(trigger, file = ?self.path, "reloading the config");
        self.load()
    }

    /// The config as the gateway would read it at start.
    pub fn load(&self) -> Result<Config, ConfigError> {
        let mut config = crate::config::load(self.path.as_deref())?;
        if let Some(listen) = self.listen {
            config.server.listen = listen;
        }
        Ok(config)
    }
}

/// Resolves at the next `SIGHUP`.
#[cfg(unix)]
async fn hangup(signal: &mut Option<tokio::signal::unix::Signal>) {
    if let Some(signal) = signal
        && signal.recv().await.is_some()
    {
        return;
    }
    std::future::pending().await
}

/// Resolves once the file has changed and then been quiet for [`DEBOUNCE`].
async fn file_changed(changes: &mut Option<FileChanges>) {
    let Some(changes) = changes else {
        return std::future::pending().await;
    };
    if changes.changed.recv().await.is_none() {
        return std::future::pending().await;
    }
    loop {
        match tokio::time::timeout(DEBOUNCE, changes.changed.recv()).await {
            Ok(Some(())) => continue,
            Ok(None) | Err(_) => return,
        }
    }
}

impl FileChanges {
    fn watch(path: &Path) -> Result<FileChanges, WatchError> {
        let name = path.file_name().map(ToOwned::to_owned);
        let folder = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
            _ => PathBuf::from("."),
        };
        let (tx, changed) = mpsc::unbounded_channel();
        let failed = |source| WatchError::Watch {
            path: folder.clone(),
            source,
        };
        let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            let Ok(event) = event else { return };
            // Reading the file (a reload does) is not a change.
            if !matches!(
                event.kind,
                EventKind::Create(_) | EventKind::Modify(_) | EventKind::Remove(_)
            ) {
                return;
            }
            let ours = event.paths.iter().any(|p| {
                let file = p.file_name();
                file == name.as_deref() || file.is_some_and(|f| f == "..data")
            });
            if ours {
                let _ = tx.send(());
            }
        })
        .map_err(failed)?;
        watcher
            .watch(&folder, RecursiveMode::NonRecursive)
            .map_err(failed)?;
        Ok(FileChanges {
            _watcher: watcher,
            changed,
        })
    }
}
