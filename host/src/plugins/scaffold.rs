//! `portico plugins new`: a plugin crate of its own, of any kind, in any folder: the
//! SDK as a path or git dependency, `crate-type`, a size-tuned release profile, an
//! empty `[workspace]` (so it never joins an enclosing one), and an example with a
//! native test on [`MockHost`](../../../portico_sdk/testing/struct.MockHost.html).

use std::path::{Path, PathBuf};

use super::Kind;

/// Where the new crate gets `portico-sdk` from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SdkSource {
    /// A checkout's `plugin-sdk` folder.
    Path(PathBuf),
    /// A git repository holding the SDK.
    Git(String),
}

/// Why a crate could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    /// The name cannot be a crate's (or a plugin file's).
    #[error(
        "`{0}` is not a plugin name: use lower-case letters, digits, `-` and `_`, starting with a letter"
    )]
    BadName(String),
    /// The folder is already there.
    #[error("{0} already exists: choose another name, or remove it")]
    Exists(PathBuf),
    /// Writing a file failed.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
}

/// A crate made by [`create`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    /// Its folder.
    pub dir: PathBuf,
    /// The component a release build writes, relative to `dir` (Cargo turns `-` into
    /// `_` in it).
    pub artifact: PathBuf,
    /// The file name to give it in a plugins folder: the plugin's name, `.wasm`.
    pub plugin_file: String,
}

/// The files of a new plugin crate named `name`, as (path in the crate, contents).
pub fn files(name: &str, kind: Kind, sdk: &SdkSource) -> Result<Vec<(&'static str, String)>, ScaffoldError> {
    check_name(name)?;
    let sdk = match sdk {
        SdkSource::Path(path) => format!("{{ path = {} }}", toml_string(&path.to_string_lossy())),
        SdkSource::Git(url) => format!("{{ git = {} }}", toml_string(url)),
    };
    let source = match kind {
        Kind::Handler => include_str!("scaffold/handler.rs.tmpl"),
        Kind::Validator => include_str!("scaffold/validator.rs.tmpl"),
        Kind::Guard => include_str!("scaffold/guard.rs.tmpl"),
        Kind::Filter => include_str!("scaffold/filter.rs.tmpl"),
        Kind::Http => include_str!("scaffold/http.rs.tmpl"),
    };
    let fill = |template: &str| template.replace("{{name}}", name).replace("{{sdk}}", &sdk);
    Ok(vec![
        ("Cargo.toml", fill(include_str!("scaffold/Cargo.toml.tmpl"))),
        ("src/lib.rs", fill(source)),
        (".gitignore", include_str!("scaffold/gitignore.tmpl").to_owned()),
    ])
}

/// Writes a new crate for plugin `name` into `dir`, which must not exist yet.
pub fn create(dir: &Path, name: &str, kind: Kind, sdk: &SdkSource) -> Result<Created, ScaffoldError> {
    let files = files(name, kind, sdk)?;
    if dir.exists() {
        return Err(ScaffoldError::Exists(dir.to_owned()));
    }
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| ScaffoldError::Io { path, source }
    };
    for (relative, contents) in files {
        let path = dir.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        std::fs::write(&path, contents).map_err(io(&path))?;
    }
    Ok(Created {
        dir: dir.to_owned(),
        artifact: Path::new("target/wasm32-wasip2/release").join(format!("{}.wasm", name.replace('-', "_"))),
        plugin_file: format!("{name}.wasm"),
    })
}

fn check_name(name: &str) -> Result<(), ScaffoldError> {
    let mut chars = name.chars();
    let starts_well = chars.next().is_some_and(|c| c.is_ascii_lowercase());
    let rest_ok = chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if starts_well && rest_ok && name.len() <= 64 {
        Ok(())
    } else {
        Err(ScaffoldError::BadName(name.to_owned()))
    }
}

/// `s` as a TOML basic string.
fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const KINDS: [(Kind, &str); 5] = [
        (Kind::Handler, "impl Handler for Plugin"),
        (Kind::Validator, "impl Validator for Plugin"),
        (Kind::Guard, "impl Guard for Plugin"),
        (Kind::Filter, "impl Filter for Plugin"),
        (Kind::Http, "impl HttpHandler for Plugin"),
    ];

    #[test]
    fn each_kind_gets_its_trait_a_test_and_a_standalone_manifest() {
        let sdk = SdkSource::Path(PathBuf::from(r#"/src/a "quoted" dir/plugin-sdk"#));
        for (kind, implementation) in KINDS {
            let files = files("shout", kind, &sdk).expect("files");
            let get = |name: &str| &files.iter().find(|(n, _)| *n == name).expect(name).1;
            let manifest: toml::Table = toml::from_str(get("Cargo.toml")).expect("valid TOML");
            assert_eq!(manifest["package"]["name"].as_str(), Some("shout"));
            assert_eq!(
                manifest["dependencies"]["portico-sdk"]["path"].as_str(),
                Some(r#"/src/a "quoted" dir/plugin-sdk"#)
            );
            assert!(manifest["workspace"].is_table(), "a workspace of its own");
            assert_eq!(manifest["lib"]["crate-type"].as_array().map(Vec::len), Some(2));
            let source = get("src/lib.rs");
            assert!(
                source.contains(implementation) && source.contains("#[plugin]"),
                "{kind}"
            );
            assert!(
                source.contains("#[cfg(test)]") && source.contains("MockHost"),
                "{kind}"
            );
            assert!(!source.contains("{{"), "{kind}: every placeholder filled");
        }
    }

    #[test]
    fn a_git_sdk_and_the_artifact_name_cargo_writes() {
        let git = SdkSource::Git("https://example.com/portico.git".into());
        let files = files("room-guard", Kind::Guard, &git).expect("files");
        let manifest: toml::Table = toml::from_str(&files[0].1).expect("TOML");
        assert_eq!(
            manifest["dependencies"]["portico-sdk"]["git"].as_str(),
            Some("https://example.com/portico.git")
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let created =
            create(&dir.path().join("room-guard"), "room-guard", Kind::Guard, &git).expect("created");
        assert_eq!(
            created.artifact,
            Path::new("target/wasm32-wasip2/release/room_guard.wasm")
        );
        assert_eq!(created.plugin_file, "room-guard.wasm");
        assert!(created.dir.join("src/lib.rs").is_file());
        assert!(matches!(
            create(&created.dir, "room-guard", Kind::Guard, &git),
            Err(ScaffoldError::Exists(_))
        ));
    }

    #[test]
    fn names_that_cannot_be_a_crate_are_refused() {
        for bad in ["", "Shout", "1st", "-x", "a b", "a/b", "ünï"] {
            assert!(
                matches!(
                    files(bad, Kind::Handler, &SdkSource::Git("g".into())),
                    Err(ScaffoldError::BadName(_))
                ),
                "{bad:?}"
            );
        }
    }
}
