//! `cargo xtask`: build, run and test Portico from a fresh checkout.
//!
//! - `cargo xtask run [-- ARGS]`: build in release (gateway and example plugins) and
//!   serve `deploy/chat.toml` on 127.0.0.1:3000: single node, in memory, no Redis.
//! - `cargo xtask build`: the release binary, the Engine.IO conformance example, the
//!   example plugins (wasm32-wasip2 components, and the TypeScript ones of `plugins-ts/`
//!   built with `plugin-sdk-ts/`; all copied to `target/plugins/`), and the Admin UI's
//!   pages with their fonts (`target/admin-ui/`).
//! - `cargo xtask test [--skip-lint] [--skip-e2e] [--skip-fuzz] [--skip-bench]`:
//!   formatting, clippy, unit and integration tests (the TypeScript SDK's and plugins'
//!   under Node too), then the e2e suite with the real socket.io-client (npm install as
//!   needed) against the release binary (the seed's `/chat` suite a second time on
//!   `deploy/chat-ts.toml`, the TypeScript chat plugin), then a short
//!   run of every fuzz target (cargo-fuzz installed on nightly as needed), then the
//!   benchmark matrix's `--quick` smoke (it checks that every server and scenario runs
//!   and loses nothing, never how fast).
//! - `cargo xtask fuzz [TARGET] [SECONDS]`: fuzz one or all decoders (and the config loader).
//! - `cargo xtask bench [--quick] [ARGS]`: Portico against socketioxide and Node
//!   socket.io, side by side (bench/README.md); writes bench/RESULTS.md.
//! - `cargo xtask soak [--minutes N] [--clients C]` (not in CI): churning connections
//!   for N minutes; fails if the server's memory or descriptors keep growing.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, bail};

mod admin_ui;
mod soak;

/// Inputs each fuzz target runs during `cargo xtask test` (a few seconds each).
const SMOKE_RUNS: u32 = 300_000;

/// The fuzz targets in `fuzz/fuzz_targets/`.
const FUZZ_TARGETS: &[&str] = &["engineio", "socketio", "native", "wsframe", "cluster", "config"];

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = root();
    std::env::set_current_dir(&root)?;
    match args.first().map(String::as_str) {
        Some("build") => build(&root),
        Some("run") => run(&root, &args[1..]),
        Some("test") => test(&root, &args[1..]),
        Some("bench") => run_bench(&root, &args[1..]),
        Some("soak") => soak::run(&root, &args[1..]),
        Some("fuzz") => {
            let secs = args.get(2).map(|s| s.parse()).transpose()?.unwrap_or(60);
            let budget = [format!("-max_total_time={secs}")];
            match args.get(1) {
                Some(target) => fuzz(&root, &[target.as_str()], Corpus::Explore, &budget),
                None => fuzz(&root, FUZZ_TARGETS, Corpus::Explore, &budget),
            }
        }
        _ => {
            eprintln!(
                "usage: cargo xtask <run [-- ARGS] | build | bench [--quick] [ARGS] | test [--skip-lint] [--skip-e2e] [--skip-fuzz] [--skip-bench] | fuzz [TARGET] [SECONDS] | soak [--minutes N] [--clients C]>"
            );
            std::process::exit(2);
        }
    }
}

/// The workspace root (the parent of this crate).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// Runs a command, failing with its command line if it fails.
fn sh(cmd: &mut Command) -> anyhow::Result<()> {
    eprintln!("xtask: {cmd:?}");
    let status = cmd.status().with_context(|| format!("cannot start {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed with {status}");
    }
    Ok(())
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()))
}

fn build(root: &Path) -> anyhow::Result<()> {
    sh(cargo().args(["build", "--release", "-p", "portico", "--bins", "--examples"]))?;
    build_plugins(root)?;
    build_ts_plugins(root)?;
    admin_ui::assemble(root)
}

/// The TypeScript plugins `build_ts_plugins` makes.
const TS_PLUGINS: &[&str] = &["chat-ts", "dto-validator-ts", "bench-ts"];

/// Builds the TypeScript SDK and, with it, the example plugins of `plugins-ts/` (each
/// a componentize-js component) into `target/plugins/`; then has the gateway compile
/// each once (`portico plugins check` fills the plugin cache), so the first server to
/// load them starts at once instead of compiling SpiderMonkey for seconds.
fn build_ts_plugins(root: &Path) -> anyhow::Result<()> {
    let sdk = root.join("plugin-sdk-ts");
    npm_ci(&sdk, "@bytecodealliance/componentize-js")?;
    sh(npm().args(["run", "build"]).current_dir(&sdk))?;
    let examples = root.join("plugins-ts");
    npm_ci(&examples, "@portico/plugin-sdk")?;
    sh(npm().args(["run", "build"]).current_dir(&examples))?;
    for name in TS_PLUGINS {
        let status = Command::new(root.join("target/release/portico"))
            .args(["plugins", "check"])
            .arg(root.join("target/plugins").join(format!("{name}.wasm")))
            .stdout(std::process::Stdio::null())
            .status()
            .context("running portico plugins check")?;
        if !status.success() {
            bail!("target/plugins/{name}.wasm does not load");
        }
    }
    Ok(())
}

/// The TypeScript SDK's tests and the example TypeScript plugins', under Node.
fn test_ts(root: &Path) -> anyhow::Result<()> {
    let sdk = root.join("plugin-sdk-ts");
    npm_ci(&sdk, "@bytecodealliance/componentize-js")?;
    sh(npm().args(["test"]).current_dir(&sdk))?;
    let examples = root.join("plugins-ts");
    npm_ci(&examples, "@portico/plugin-sdk")?;
    sh(npm().args(["test"]).current_dir(&examples))
}

fn npm() -> Command {
    Command::new("npm")
}

/// Builds every example plugin for `wasm32-wasip2` and copies the components to
/// `target/plugins/`.
fn build_plugins(root: &Path) -> anyhow::Result<()> {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()?;
    if !String::from_utf8_lossy(&installed.stdout)
        .lines()
        .any(|t| t.trim() == "wasm32-wasip2")
    {
        sh(Command::new("rustup").args(["target", "add", "wasm32-wasip2"]))?;
    }
    let plugins = root.join("plugins");
    sh(cargo()
        .args(["build", "--release", "--target", "wasm32-wasip2"])
        .current_dir(&plugins))?;
    let out = root.join("target/plugins");
    std::fs::create_dir_all(&out)?;
    let built = plugins.join("target/wasm32-wasip2/release");
    for entry in std::fs::read_dir(&built)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "wasm") {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().replace('_', "-"))
                .unwrap_or_default();
            // Only the example plugins: tests build other crates into this target dir
            // (to reuse its compiled dependencies).
            let crate_dir = plugins.join(name.trim_end_matches(".wasm"));
            if !crate_dir.join("Cargo.toml").is_file() {
                continue;
            }
            // Copy then rename, so a running gateway never sees a half-written file.
            let tmp = out.join(format!(".{name}.tmp"));
            std::fs::copy(&path, &tmp)?;
            std::fs::rename(&tmp, out.join(&name))?;
        }
    }
    Ok(())
}

fn run(root: &Path, args: &[String]) -> anyhow::Result<()> {
    build(root)?;
    let args = args.strip_prefix(&["--".to_owned()]).unwrap_or(args);
    let mut cmd = Command::new(root.join("target/release/portico"));
    if args.is_empty() {
        // The example plugins from target/plugins/: "/" echo, "/chat" the seed's chat.
        cmd.args(["serve", "--config"]).arg(root.join("deploy/chat.toml"));
        if std::env::var_os("JWT_SECRET").is_none() {
            eprintln!("xtask: JWT_SECRET is not set; using a development secret (never in production)");
            cmd.env("JWT_SECRET", "portico-dev-secret");
        }
    }
    sh(cmd.args(args).current_dir(root))
}

fn test(root: &Path, flags: &[String]) -> anyhow::Result<()> {
    let skip = |what: &str| flags.iter().any(|f| f == &format!("--skip-{what}"));
    if !skip("lint") {
        sh(cargo().args(["fmt", "--all", "--", "--check"]))?;
        sh(cargo().args(["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"]))?;
        let plugins = root.join("plugins");
        sh(cargo()
            .args(["fmt", "--all", "--", "--check"])
            .current_dir(&plugins))?;
        sh(cargo()
            .args(["clippy", "--all-targets", "--", "-D", "warnings"])
            .current_dir(&plugins))?;
    }
    // The in-process plugin tests (host/tests/it/plugins.rs) load the built components.
    build_plugins(root)?;
    sh(cargo().args(["test", "--workspace"]))?;
    // Plugin logic is plain Rust: test it natively.
    sh(cargo().args(["test"]).current_dir(root.join("plugins")))?;
    test_ts(root)?;
    if !skip("e2e") {
        build(root)?;
        e2e(root)?;
    }
    if !skip("fuzz") {
        // The committed seeds, a fixed seed and run count: the same inputs every time on
        // every machine, so CI cannot flake; `cargo xtask fuzz` explores.
        fuzz(
            root,
            FUZZ_TARGETS,
            Corpus::Smoke,
            &["-seed=1".to_owned(), format!("-runs={SMOKE_RUNS}")],
        )?;
    }
    if !skip("bench") {
        run_bench(root, &["--quick".to_owned()])?;
    }
    eprintln!("xtask: all tests passed");
    Ok(())
}

/// Installs a node folder's locked packages unless `package` is there already.
fn npm_ci(dir: &Path, package: &str) -> anyhow::Result<()> {
    if dir.join("node_modules").join(package).exists() {
        return Ok(());
    }
    sh(Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(dir))
}

/// Builds every server of the benchmark matrix and the load generator, then runs
/// `portico-bench matrix` with `args`.
fn run_bench(root: &Path, args: &[String]) -> anyhow::Result<()> {
    build(root)?;
    sh(cargo().args(["build", "--release", "-p", "portico-bench"]))?;
    // The socketioxide and raw peers are packages of their own; they share this
    // target directory.
    for peer in ["socketioxide", "raw"] {
        sh(cargo()
            .args(["build", "--release", "--manifest-path"])
            .arg(root.join(format!("bench/peers/{peer}/Cargo.toml")))
            .env("CARGO_TARGET_DIR", root.join("target")))?;
    }
    // The newest package of its package.json, as for e2e; the cluster scenario needs Redis.
    npm_ci(&root.join("bench/peers/node"), "@socket.io/redis-adapter")?;
    ensure_redis()?;
    sh(Command::new(root.join("target/release/portico-bench"))
        .args(["matrix", "--root"])
        .arg(root)
        .args(args))
}

/// Makes sure Chromium is at `/usr/bin/chromium` (the Admin UI's browser test drives
/// it headless through playwright-core): Debian's package when it is missing and we
/// run as root, else a clear error.
fn ensure_chromium() -> anyhow::Result<()> {
    if Path::new("/usr/bin/chromium").exists() || std::env::var_os("CHROMIUM").is_some() {
        return Ok(());
    }
    apt_install(
        "chromium",
        "the Admin UI's browser test needs Chromium at /usr/bin/chromium (Debian: `sudo apt-get install chromium`, \
         or set CHROMIUM to its path); install it, or skip the e2e tests with `cargo xtask test --skip-e2e`",
    )
}

/// Installs Debian `package` with apt-get when we run as root, else fails with `help`.
fn apt_install(package: &str, help: &str) -> anyhow::Result<()> {
    let found = |cmd: &str| {
        Command::new(cmd)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    let root_user = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0");
    if !root_user || !found("apt-get") {
        bail!("{help}");
    }
    eprintln!("xtask: installing {package} (apt-get)");
    let install = || {
        sh(Command::new("apt-get")
            .args(["install", "-y", "--no-install-recommends", package])
            .env("DEBIAN_FRONTEND", "noninteractive"))
    };
    if install().is_err() {
        sh(Command::new("apt-get").arg("update"))?;
        install()?;
    }
    Ok(())
}

/// Makes sure `redis-server` is on the PATH (the cluster tests start their own):
/// Debian's package when it is missing and we run as root, else a clear error.
fn ensure_redis() -> anyhow::Result<()> {
    let found = |cmd: &str| {
        Command::new(cmd)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if found("redis-server") {
        return Ok(());
    }
    apt_install(
        "redis-server",
        "the cluster tests need `redis-server` (Debian/Ubuntu: `sudo apt-get install redis-server`; \
         macOS: `brew install redis`); install it, or skip these with `cargo xtask test --skip-e2e`",
    )
}

fn e2e(root: &Path) -> anyhow::Result<()> {
    let dir = root.join("e2e");
    ensure_redis()?;
    ensure_chromium()?;
    // The newest package of package.json: a folder installed before it was added gets it.
    npm_ci(&dir, "@msgpack/msgpack")?;
    let mut tests: Vec<String> = std::fs::read_dir(&dir)?
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .filter(|name| name.ends_with(".test.mjs"))
        .collect();
    tests.sort();
    let node_test = || {
        let mut cmd = Command::new("node");
        cmd.args(["--test", "--test-concurrency=1", "--test-timeout=180000"])
            .current_dir(&dir)
            .env("PORTICO_BIN", root.join("target/release/portico"))
            .env(
                "ENGINEIO_ECHO_BIN",
                root.join("target/release/examples/engineio_echo"),
            );
        cmd
    };
    sh(node_test().args(&tests))?;
    // The same /chat suite on the TypeScript chat plugin and validator.
    sh(node_test()
        .arg("seed-chat.test.mjs")
        .env("PORTICO_E2E_DEPLOY", "deploy/chat-ts.toml"))
}

/// Where a fuzz run starts from and what it keeps.
#[derive(Clone, Copy)]
enum Corpus {
    /// The committed seeds (`fuzz/seeds/<target>`) only; what the run finds goes to a
    /// scratch folder emptied first, so every smoke run sees the same inputs.
    Smoke,
    /// The seeds and `fuzz/corpus/<target>`, which keeps what the run finds.
    Explore,
}

fn fuzz(root: &Path, targets: &[&str], corpus: Corpus, budget: &[String]) -> anyhow::Result<()> {
    let has_fuzz = Command::new("cargo")
        .args(["+nightly", "fuzz", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_fuzz {
        sh(Command::new("rustup").args(["toolchain", "install", "nightly", "--profile", "minimal"]))?;
        sh(Command::new("cargo").args(["install", "cargo-fuzz", "--locked"]))?;
    }
    for target in targets {
        let seeds = root.join("fuzz/seeds").join(target);
        let grows = match corpus {
            Corpus::Smoke => root.join("target/fuzz-smoke").join(target),
            Corpus::Explore => root.join("fuzz/corpus").join(target),
        };
        if matches!(corpus, Corpus::Smoke) && grows.exists() {
            std::fs::remove_dir_all(&grows)?;
        }
        std::fs::create_dir_all(&grows)?;
        // libFuzzer writes new inputs to the first folder and only reads the others.
        sh(Command::new("cargo")
            .args(["+nightly", "fuzz", "run", target])
            .arg(&grows)
            .arg(&seeds)
            .arg("--")
            .args(budget)
            .current_dir(root)
            .env_remove("CARGO")
            .env_remove("RUSTUP_TOOLCHAIN"))?;
    }
    Ok(())
}
