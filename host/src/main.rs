//! The `portico` command: serve the gateway, or check a config file.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use portico::config::Config;

/// Portico: a real-time gateway for Socket.IO v4 and plain WebSocket clients.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// How log lines are written to stderr (levels from `PORTICO_LOG`, default `info`).
    #[arg(long, value_enum, default_value_t = LogFormat::Human, env = "PORTICO_LOG_FORMAT", global = true)]
    log_format: LogFormat,
}

/// The shape of log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    /// One readable line per event.
    Human,
    /// One JSON object per line, for log shippers.
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the gateway (the default when no command is given).
    Serve(ServeArgs),
    /// Load and validate a config file, then print the effective settings.
    Check {
        /// The TOML file to check.
        config: PathBuf,
    },
    /// Mint a signed development token with the config's HS* secret.
    Token(TokenArgs),
    /// Work with plugin components.
    #[command(subcommand)]
    Plugins(PluginsCommand),
}

#[derive(Debug, clap::Args)]
struct TokenArgs {
    /// The config whose `[auth]` secret signs the token.
    #[arg(long, short, env = "PORTICO_CONFIG")]
    config: Option<PathBuf>,
    /// The `sub` claim (user id).
    #[arg(long)]
    sub: String,
    /// The `name` and `username` claims.
    #[arg(long)]
    name: Option<String>,
    /// Lifetime: `90s`, `30m`, `1h`, `7d`.
    #[arg(long, default_value = "1h")]
    ttl: String,
}

#[derive(Debug, Subcommand)]
enum PluginsCommand {
    /// Print a component's world, imports and exports, and whether it would load.
    Check {
        /// The `.wasm` component.
        file: PathBuf,
    },
    /// Make a plugin crate of its own, ready to build and test.
    New(NewArgs),
}

#[derive(Debug, clap::Args)]
struct NewArgs {
    /// The plugin's name (the crate's, and the `.wasm` file's in the plugins folder).
    name: String,
    /// What the plugin is.
    #[arg(long, value_enum, default_value = "handler")]
    kind: NewKind,
    /// The folder to create (default: `./NAME`).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// The SDK as a path dependency on this folder (default: the `plugin-sdk` of the
    /// checkout this binary was built from, when it is still there).
    #[arg(long, conflicts_with = "sdk_git")]
    sdk_path: Option<PathBuf>,
    /// The SDK as a git dependency on this repository.
    #[arg(long)]
    sdk_git: Option<String>,
}

/// The plugin kinds, as `--kind` names them.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum NewKind {
    /// Events and connections (`@SubscribeMessage`).
    Handler,
    /// Payload validation (`ValidationPipe`).
    Validator,
    /// Event authorization (`CanActivate`).
    Guard,
    /// Client errors (exception filters).
    Filter,
    /// HTTP routes (a controller).
    Http,
}

#[derive(Debug, Default, clap::Args)]
struct ServeArgs {
    /// TOML config file; without it the embedded defaults serve `/` with the echo handler.
    #[arg(long, short, env = "PORTICO_CONFIG")]
    config: Option<PathBuf>,
    /// Listen address, overriding `server.listen`.
    #[arg(long, env = "PORTICO_LISTEN")]
    listen: Option<SocketAddr>,
    /// Reload the config whenever its file changes (it is always reloaded on SIGHUP).
    #[arg(long, env = "PORTICO_WATCH_CONFIG")]
    watch_config: bool,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let logs = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PORTICO_LOG").unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr);
    match cli.log_format {
        LogFormat::Human => logs.init(),
        LogFormat::Json => logs.json().flatten_event(true).init(),
    }
    match cli.command.unwrap_or(Command::Serve(ServeArgs::default())) {
        Command::Serve(args) => {
            // First: a series registered before the recorder would count nothing.
            portico::metrics::install()?;
            serve(args)
        }
        Command::Check { config } => {
            let config = portico::config::load(Some(&config))?;
            println!("{config:#?}");
            Ok(())
        }
        Command::Plugins(PluginsCommand::Check { file }) => check_plugin(&file),
        Command::Plugins(PluginsCommand::New(args)) => new_plugin(args),
        Command::Token(args) => mint_token(args),
    }
}

fn mint_token(args: TokenArgs) -> anyhow::Result<()> {
    let config = portico::config::load(args.config.as_deref())?;
    let auth = &config.auth;
    let algorithm: jsonwebtoken::Algorithm = auth
        .algorithms
        .first()
        .map(String::as_str)
        .unwrap_or("HS256")
        .parse()?;
    let secret = match (&auth.secret, algorithm) {
        (
            Some(secret),
            jsonwebtoken::Algorithm::HS256 | jsonwebtoken::Algorithm::HS384 | jsonwebtoken::Algorithm::HS512,
        ) => secret,
        _ => anyhow::bail!(
            "portico token signs with an HS* auth.secret; this config has none (set [auth] secret = \"${{JWT_SECRET}}\")"
        ),
    };
    let ttl = parse_ttl(&args.ttl)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let mut claims = serde_json::json!({ "sub": args.sub, "iat": now, "exp": now + ttl });
    if let Some(name) = args.name {
        claims["name"] = name.clone().into();
        claims["username"] = name.into();
    }
    if let Some(iss) = &auth.issuer {
        claims["iss"] = iss.clone().into();
    }
    if let Some(aud) = &auth.audience {
        claims["aud"] = aud.clone().into();
    }
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(algorithm),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )?;
    println!("{token}");
    Ok(())
}

/// Seconds in `90s`, `30m`, `1h`, `7d` (a bare number is seconds).
fn parse_ttl(ttl: &str) -> anyhow::Result<u64> {
    let (number, unit) = ttl.split_at(ttl.find(|c: char| !c.is_ascii_digit()).unwrap_or(ttl.len()));
    let n: u64 = number
        .parse()
        .map_err(|_| anyhow::anyhow!("--ttl `{ttl}`: expected like 90s, 30m, 1h, 7d"))?;
    let scale = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => anyhow::bail!("--ttl `{ttl}`: unit must be s, m, h or d"),
    };
    Ok(n * scale)
}

fn check_plugin(file: &std::path::Path) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let cache = Config::default().plugins.cache_dir();
        let engine = portico::plugins::runtime::Runtime::new(&cache)?;
        match portico::plugins::check::check(&engine, file).await {
            Ok(report) => {
                print!("{report}");
                Ok(())
            }
            Err((report, err)) => {
                print!("{report}");
                println!("would load: no");
                anyhow::bail!("{}: {err}", file.display())
            }
        }
    })
}

fn new_plugin(args: NewArgs) -> anyhow::Result<()> {
    use portico::plugins::Kind;
    use portico::plugins::scaffold::{self, SdkSource};
    let kind = match args.kind {
        NewKind::Handler => Kind::Handler,
        NewKind::Validator => Kind::Validator,
        NewKind::Guard => Kind::Guard,
        NewKind::Filter => Kind::Filter,
        NewKind::Http => Kind::Http,
    };
    let sdk = match (args.sdk_git, args.sdk_path) {
        (Some(url), _) => SdkSource::Git(url),
        (None, Some(path)) => SdkSource::Path(
            std::fs::canonicalize(&path).with_context(|| format!("--sdk-path {}", path.display()))?,
        ),
        (None, None) => {
            let built_from = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../plugin-sdk"));
            SdkSource::Path(std::fs::canonicalize(built_from).map_err(|_| {
                anyhow::anyhow!(
                    "this portico was not built from a checkout that is still here: name the SDK with --sdk-path DIR or --sdk-git URL"
                )
            })?)
        }
    };
    let dir = args.dir.unwrap_or_else(|| PathBuf::from(&args.name));
    let created = scaffold::create(&dir, &args.name, kind, &sdk)?;
    let dir = created.dir.display();
    println!(
        "created plugin `{}` (world portico:plugin/{kind}) in {dir}",
        args.name
    );
    println!();
    println!("  rustup target add wasm32-wasip2                  # once");
    println!("  cd {dir}");
    println!("  cargo test                                       # its logic, natively");
    println!("  cargo build --release --target wasm32-wasip2     # the component");
    println!(
        "  cp {} PLUGINS_DIR/{}   # live within a second",
        created.artifact.display(),
        created.plugin_file
    );
    Ok(())
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        // The same reader serves the start and every reload (SIGHUP, --watch-config).
        let reloads = portico::server::Reloads::new(args.config, args.listen, args.watch_config)?;
        let config = reloads.load()?;
        let addr = config.server.listen;
        let listener = portico::server::bind(addr, config.server.backlog)
            .with_context(|| format!("cannot listen on {addr}"))?;
        let local = listener.local_addr()?;
        let shutdown = CancellationToken::new();
        tokio::spawn(shutdown_on_signal(shutdown.clone()));
        let namespaces: Vec<String> = config.namespaces.keys().cloned().collect();
        let path = config.server.path.clone();
        portico::server::serve(Arc::new(config), listener, shutdown, Some(reloads), move || {
            tracing::info!(%local, path, ?namespaces, "portico listening");
            // Tests and scripts wait for this line on stdout to learn the port.
            println!("listening on {local}");
        })
        .await?;
        Ok(())
    })
}

async fn shutdown_on_signal(shutdown: CancellationToken) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(term) => term,
            Err(_) => {
                let _ = ctrl_c.await;
                return shutdown.cancel();
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    tracing::info!("shutting down");
    shutdown.cancel();
}
