//! The config loader: any text parses, expands its `${VAR}`s, deserializes and
//! validates, or fails as a syntax, key, missing-variable or invalid-value error
//! (never as a failed read, and never a panic); a config that passes builds its
//! route table.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use portico_config::{Config, ConfigError};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Config::from_toml(text, Path::new("fuzz.toml")) {
        Ok(config) => match config.validate() {
            Ok(()) => {
                let _ = config.plugin_routes();
                let _ = config.reserved_paths();
            }
            Err(ConfigError::Invalid { .. }) => {}
            Err(other) => panic!("validation fails only as Invalid, got {other:?}"),
        },
        // A bad `${` is Invalid, naming its key, like a bad value.
        Err(
            ConfigError::Invalid { .. }
            | ConfigError::Key { .. }
            | ConfigError::Syntax { .. }
            | ConfigError::MissingEnv { .. },
        ) => {}
        Err(other) => panic!("parsing never reads a file, got {other:?}"),
    }
});
