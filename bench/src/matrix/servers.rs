//! The servers of the matrix, and starting one pinned to a core.

use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context, bail};

/// A server the matrix runs: a program that prints `listening on 127.0.0.1:PORT` on its
/// standard output once it accepts connections on the port it was given (0 = any).
#[derive(Debug, Clone)]
pub struct ServerSpec {
    /// Its short name in tables (`portico`, `portico-wasm`, `portico-ts`, `socketioxide`,
    /// `raw`, `node`).
    pub name: &'static str,
    /// What it is, for the report.
    pub about: &'static str,
    /// The program.
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<OsString>,
    /// Extra environment.
    pub env: Vec<(OsString, OsString)>,
}

impl ServerSpec {
    /// The command line, for the report.
    pub fn command_line(&self, root: &Path) -> String {
        let show = |p: &Path| p.strip_prefix(root).unwrap_or(p).display().to_string();
        let mut parts: Vec<String> = self
            .env
            .iter()
            .map(|(k, v)| format!("{}={}", k.to_string_lossy(), show(Path::new(v))))
            .collect();
        parts.push(show(&self.program));
        parts.extend(self.args.iter().map(|a| show(Path::new(a))));
        parts.join(" ")
    }
}

/// Where the matrix finds its servers.
#[derive(Debug, Clone)]
pub struct Paths {
    /// The repository.
    pub root: PathBuf,
    /// The release `portico` binary.
    pub portico: PathBuf,
    /// A folder with the Rust `bench.wasm` alone.
    pub plugins: PathBuf,
    /// A folder with the TypeScript `bench-ts.wasm` alone.
    pub plugins_ts: PathBuf,
    /// The release socketioxide peer.
    pub socketioxide: PathBuf,
    /// The release raw peer (hyper + fastwebsockets, just enough framing).
    pub raw: PathBuf,
    /// The Node peer's folder (with its `node_modules`).
    pub node_peer: PathBuf,
}

/// Every server the matrix knows, in table order.
pub fn all(paths: &Paths) -> Vec<ServerSpec> {
    let portico = |config: &str| portico_args(paths, config);
    vec![
        ServerSpec {
            name: "portico",
            about: "Portico, events served by the built-in `bench` handler (bench/portico-builtin.toml)",
            program: paths.portico.clone(),
            args: portico("portico-builtin.toml"),
            env: vec![("RUST_LOG".into(), "warn".into())],
        },
        ServerSpec {
            name: "portico-wasm",
            about: "Portico, events served by the `bench` wasm plugin (bench/portico.toml, plugins/bench)",
            program: paths.portico.clone(),
            args: portico("portico.toml"),
            env: vec![
                ("RUST_LOG".into(), "warn".into()),
                ("PORTICO_PLUGINS_DIR".into(), paths.plugins.clone().into()),
            ],
        },
        ServerSpec {
            name: "portico-ts",
            about: "Portico, events served by the `bench-ts` TypeScript plugin (bench/portico-ts.toml, plugins-ts/bench)",
            program: paths.portico.clone(),
            args: portico("portico-ts.toml"),
            env: vec![
                ("RUST_LOG".into(), "warn".into()),
                ("PORTICO_PLUGINS_DIR".into(), paths.plugins_ts.clone().into()),
            ],
        },
        ServerSpec {
            name: "socketioxide",
            about: "socketioxide on axum/tokio (bench/peers/socketioxide)",
            program: paths.socketioxide.clone(),
            args: vec!["0".into()],
            env: Vec::new(),
        },
        ServerSpec {
            name: "raw",
            about: "hyper + fastwebsockets with just enough Engine.IO/Socket.IO framing for these events: the practical echo limit (bench/peers/raw)",
            program: paths.raw.clone(),
            args: vec!["0".into()],
            env: Vec::new(),
        },
        ServerSpec {
            name: "node",
            about: "Node socket.io v4 (bench/peers/node)",
            program: "node".into(),
            args: vec![paths.node_peer.join("server.mjs").into(), "0".into()],
            env: Vec::new(),
        },
    ]
}

/// `spec` as the flood scenarios run it: Portico's built-in handler with the limits a
/// production node has by default (bench/portico-flood.toml: no raised event rate, no
/// disconnect, so the flood goes on); the wasm variant is left out (the limit acts
/// before any plugin), the peers (which have no limits) run as they are.
pub fn with_default_limits(spec: &ServerSpec, paths: &Paths) -> Option<ServerSpec> {
    match spec.name {
        "portico" => Some(ServerSpec {
            about: "Portico, built-in `bench` handler, default limits (bench/portico-flood.toml)",
            args: portico_args(paths, "portico-flood.toml"),
            ..spec.clone()
        }),
        "portico-wasm" | "portico-ts" => None,
        _ => Some(spec.clone()),
    }
}

/// `spec` as the compression scenarios run it: Portico and Node, with permessage-deflate
/// on (`compress`: Portico with `bench/portico-deflate.toml`, zlib level 6 and a
/// 1024-byte threshold; Node with `perMessageDeflate: {threshold: 1024}`, its default
/// level) or as they are; the other servers are left out (socketioxide has no
/// permessage-deflate, the raw peer and the wasm variant add nothing here).
pub fn for_compression(spec: &ServerSpec, paths: &Paths, compress: bool) -> Option<ServerSpec> {
    match (spec.name, compress) {
        ("portico", true) => Some(ServerSpec {
            about: "Portico, built-in `bench` handler, permessage-deflate on (bench/portico-deflate.toml)",
            args: portico_args(paths, "portico-deflate.toml"),
            ..spec.clone()
        }),
        ("node", true) => {
            let mut env = spec.env.clone();
            env.push(("PER_MESSAGE_DEFLATE".into(), "1".into()));
            Some(ServerSpec {
                about: "Node socket.io v4 with perMessageDeflate {threshold: 1024} (bench/peers/node)",
                env,
                ..spec.clone()
            })
        }
        ("portico" | "node", false) => Some(spec.clone()),
        _ => None,
    }
}

/// `portico serve` with `bench/CONFIG` on a free port.
fn portico_args(paths: &Paths, config: &str) -> Vec<OsString> {
    vec![
        "serve".into(),
        "--config".into(),
        paths.root.join("bench").join(config).into(),
        "--listen".into(),
        "127.0.0.1:0".into(),
    ]
}

/// A started server; killed when dropped.
pub struct Running {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
}

impl Running {
    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Asks it to stop (SIGINT, so it can shut down and flush what it writes at exit)
    /// and waits up to `timeout` for it; killed after that.
    pub fn interrupt(mut self, timeout: Duration) -> anyhow::Result<()> {
        let _ = Command::new("kill")
            .arg("-INT")
            .arg(self.pid().to_string())
            .status();
        let deadline = std::time::Instant::now() + timeout;
        while std::time::Instant::now() < deadline {
            if self.child.try_wait()?.is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        bail!("did not stop within {timeout:?} of SIGINT")
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `spec`, pinned to `core` (when given), with its standard error in `log`, and
/// waits up to `timeout` for it to listen.
pub fn start(
    spec: &ServerSpec,
    core: Option<usize>,
    log: &Path,
    timeout: Duration,
) -> anyhow::Result<Running> {
    let mut command = pinned(core, &spec.program);
    command
        .args(&spec.args)
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?);
    let mut child = command
        .spawn()
        .with_context(|| format!("starting {} ({})", spec.name, spec.program.display()))?;
    let stdout = child.stdout.take().context("server stdout")?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut sent = false;
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if !sent && let Some(addr) = line.strip_prefix("listening on ") {
                sent = tx.send(addr.trim().to_owned()).is_ok();
            }
        }
    });
    let running = |addr: SocketAddr| Running { child, addr };
    match rx.recv_timeout(timeout) {
        Ok(addr) => match addr.parse() {
            Ok(addr) => Ok(running(addr)),
            Err(_) => {
                drop(running(SocketAddr::from(([127, 0, 0, 1], 0))));
                bail!("{} printed an odd address {addr:?}", spec.name)
            }
        },
        Err(_) => {
            drop(running(SocketAddr::from(([127, 0, 0, 1], 0))));
            bail!(
                "{} did not print `listening on ...` within {timeout:?}; see {}",
                spec.name,
                log.display()
            )
        }
    }
}

/// A command for `program`, run by `taskset -c CORE` when a core is given.
pub fn pinned(core: Option<usize>, program: &Path) -> Command {
    match core {
        Some(core) => {
            let mut command = Command::new("taskset");
            command.arg("-c").arg(core.to_string()).arg(program);
            command
        }
        None => Command::new(program),
    }
}

/// Whether `taskset` can run here.
pub fn have_taskset() -> bool {
    Command::new("taskset")
        .args(["-c", "0", "true"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A folder holding only the bench plugin `name` from `built`: a Portico server loads
/// every component of its folder at start, and under valgrind (whose CPU features miss
/// the compile cache) each one takes seconds to compile (minutes for a JavaScript one).
pub fn bench_plugin_dir(built: &Path, dir: &Path, name: &str) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "wasm") && !path.ends_with(name) {
            std::fs::remove_file(&path)?;
        }
    }
    std::fs::copy(built.join(name), dir.join(name)).with_context(|| {
        format!(
            "{}: build the plugins first (cargo xtask build)",
            built.join(name).display()
        )
    })?;
    Ok(dir.to_owned())
}
