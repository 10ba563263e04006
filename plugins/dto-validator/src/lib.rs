//! Validates payloads with class-validator's rules, read from the plugin config:
//!
//! ```toml
//! [plugins.settings.dto-validator.config.send_message]
//! whitelist = true
//! properties = { roomId = ["IsString", "IsNotEmpty"], text = ["IsString", "IsNotEmpty", { MaxLength = 1000 }] }
//! ```
//!
//! An event with no schema passes unchanged.

use std::collections::BTreeMap;

use portico_sdk::rules::Schema;
use portico_sdk::{Env, Level, Validator, Value, Violation, plugin};

/// The validator.
pub struct DtoValidator;

#[plugin]
impl Validator for DtoValidator {
    fn validate(env: &Env, event: &str, payload: Value) -> Result<Value, Vec<Violation>> {
        let schemas: BTreeMap<String, Schema> = match env.config() {
            Ok(schemas) => schemas,
            Err(err) => {
                env.log(Level::Error, &format!("invalid dto-validator config: {err}"));
                return Err(vec![Violation {
                    property: String::new(),
                    message: "Internal error".into(),
                }]);
            }
        };
        match schemas.get(event) {
            Some(schema) => schema.validate(payload),
            None => Ok(payload),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use portico_sdk::json;
    use portico_sdk::testing::MockHost;

    fn host() -> MockHost {
        MockHost::with_config(json!({
            "send_message": {
                "whitelist": true,
                "properties": {
                    "roomId": ["IsString", "IsNotEmpty"],
                    "text": ["IsString", "IsNotEmpty", {"MaxLength": 1000}],
                }
            }
        }))
    }

    #[test]
    fn validates_configured_events_and_passes_others() {
        let host = host();
        let env = Env::new(&host);
        let long = "x".repeat(1001);
        let err =
            DtoValidator::validate(&env, "send_message", json!({"roomId": "r", "text": long})).unwrap_err();
        assert_eq!(
            err[0].message,
            "text must be shorter than or equal to 1000 characters"
        );
        let ok = DtoValidator::validate(&env, "send_message", json!({"roomId": "r", "text": "hi", "x": 1}));
        assert_eq!(ok, Ok(json!({"roomId": "r", "text": "hi"})));
        assert_eq!(DtoValidator::validate(&env, "typing", json!(5)), Ok(json!(5)));
    }
}
