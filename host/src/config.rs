//! The configuration, from the `portico-config` crate (parsing, `${ENV}`, validation),
//! and the checks that need the gateway's own libraries: that the `[auth]` keys load
//! and that a Redis URL parses.

use std::path::Path;

pub use portico_config::*;

/// Loads and validates `path` (the defaults when `None`), then [`verify`]s it.
pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
    let config = Config::load(path)?;
    verify(&config)?;
    Ok(config)
}

/// What [`Config::validate`] cannot check alone: the auth keys load (when a namespace
/// authenticates) and the cluster's Redis URL parses.
pub fn verify(config: &Config) -> Result<(), ConfigError> {
    if config.namespaces.values().any(|ns| ns.auth != AuthMode::None) {
        crate::auth::Verifier::new(&config.auth).map_err(|e| ConfigError::Invalid {
            key: "auth".to_owned(),
            reason: e.to_string(),
        })?;
    }
    if let Some(url) = config.cluster.redis()
        && let Err(e) = redis::Client::open(url)
    {
        return Err(ConfigError::Invalid {
            key: "cluster.redis_url".to_owned(),
            reason: format!("not a Redis URL: {e}"),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verified(text: &str) -> Result<Config, ConfigError> {
        let config = Config::from_toml(text, Path::new("test.toml"))?;
        config.validate()?;
        verify(&config)?;
        Ok(config)
    }

    #[test]
    fn keys_that_do_not_load_and_urls_that_do_not_parse_are_refused_by_name() {
        let cases = [
            (
                "[cluster]\nadapter = \"redis\"\nredis_url = \"http://x\"",
                "cluster.redis_url",
            ),
            ("[namespaces.\"/\"]\nauth = \"required\"", "auth"),
        ];
        for (text, key) in cases {
            match verified(text) {
                Err(ConfigError::Invalid { key: got, .. }) => assert_eq!(got, key, "{text}"),
                other => panic!("{text}: expected invalid {key}, got {other:?}"),
            }
        }
        verified("[auth]\nsecret = \"s\"\n[namespaces.\"/\"]\nauth = \"required\"").expect("a secret loads");
    }
}
