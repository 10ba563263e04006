//! Assembles `target/admin-ui/`: the Socket.IO Admin UI's pages (`ui/dist` of npm
//! `@socket.io/admin-ui`, unchanged) with the two stylesheets its `index.html` loads
//! from CDNs (Roboto from Google Fonts, Material Design Icons from jsdelivr) served
//! from the same folder instead, so the UI works on a machine with no internet.
//! The packages are pinned in `deploy/admin-ui/package-lock.json`.

use std::path::Path;

use anyhow::{Context as _, bail};

/// The Roboto weights the UI's `index.html` asks Google Fonts for.
const ROBOTO_WEIGHTS: &[&str] = &["100", "300", "400", "500", "700", "900"];

/// The CDN links of the package's `index.html`, each replaced by local stylesheets.
const GOOGLE_ROBOTO: &str = r#"<link rel="stylesheet" href="https://fonts.googleapis.com/css?family=Roboto:100,300,400,500,700,900">"#;
const JSDELIVR_MDI: &str = r#"<link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/@mdi/font@latest/css/materialdesignicons.min.css">"#;

/// Installs the pinned packages (when missing) and writes `target/admin-ui/`; without
/// npm it says so and writes nothing, so a gateway build never needs Node.
pub fn assemble(root: &Path) -> anyhow::Result<()> {
    let packages = root.join("deploy/admin-ui");
    let npm = std::process::Command::new("npm")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !npm && !packages.join("node_modules/@socket.io/admin-ui").exists() {
        // `cargo xtask run` needs no Node; only the Admin UI's pages (and the e2e tests) do.
        eprintln!("xtask: npm not found; skipping the Admin UI's pages (target/admin-ui)");
        return Ok(());
    }
    if !packages.join("node_modules/@socket.io/admin-ui").exists() {
        // Its peer dependency (a socket.io server) is not needed for the pages.
        super::sh(
            std::process::Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund", "--legacy-peer-deps"])
                .current_dir(&packages),
        )?;
    }
    let modules = packages.join("node_modules");
    let out = root.join("target/admin-ui");
    let staging = root.join("target/.admin-ui.tmp");
    if staging.exists() {
        std::fs::remove_dir_all(&staging)?;
    }
    copy_dir(&modules.join("@socket.io/admin-ui/ui/dist"), &staging, &|name| {
        !name.ends_with(".map")
    })?;
    let mdi = modules.join("@mdi/font");
    copy_dir(&mdi.join("fonts"), &staging.join("vendor/mdi/fonts"), &|_| true)?;
    std::fs::create_dir_all(staging.join("vendor/mdi/css"))?;
    std::fs::copy(
        mdi.join("css/materialdesignicons.min.css"),
        staging.join("vendor/mdi/css/materialdesignicons.min.css"),
    )?;
    let roboto = modules.join("@fontsource/roboto");
    copy_dir(
        &roboto.join("files"),
        &staging.join("vendor/roboto/files"),
        &|name| {
            ROBOTO_WEIGHTS
                .iter()
                .any(|w| name.contains(&format!("-{w}-normal.")))
        },
    )?;
    for weight in ROBOTO_WEIGHTS {
        std::fs::copy(
            roboto.join(format!("{weight}.css")),
            staging.join(format!("vendor/roboto/{weight}.css")),
        )?;
    }
    let index = staging.join("index.html");
    let html = std::fs::read_to_string(&index).context("the package's index.html")?;
    if !html.contains(GOOGLE_ROBOTO) || !html.contains(JSDELIVR_MDI) {
        bail!(
            "{}: the CDN links to replace are not there (a new admin-ui version?)",
            index.display()
        );
    }
    let roboto_links: String = ROBOTO_WEIGHTS
        .iter()
        .map(|w| format!(r#"<link rel="stylesheet" href="vendor/roboto/{w}.css">"#))
        .collect();
    let html = html.replace(GOOGLE_ROBOTO, &roboto_links).replace(
        JSDELIVR_MDI,
        r#"<link rel="stylesheet" href="vendor/mdi/css/materialdesignicons.min.css">"#,
    );
    if html.contains("https://") {
        bail!("{}: still loads something from the internet", index.display());
    }
    std::fs::write(&index, html)?;
    if out.exists() {
        std::fs::remove_dir_all(&out)?;
    }
    std::fs::rename(&staging, &out)?;
    eprintln!("xtask: Admin UI pages in {}", out.display());
    Ok(())
}

/// Copies the files of `from` whose names `keep` accepts, folders included, to `to`.
fn copy_dir(from: &Path, to: &Path, keep: &dyn Fn(&str) -> bool) -> anyhow::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from).with_context(|| format!("{}", from.display()))? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            copy_dir(&path, &to.join(&name), keep)?;
        } else if keep(&name) {
            std::fs::copy(&path, to.join(&name))?;
        }
    }
    Ok(())
}
