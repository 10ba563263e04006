//! The seed's `WsValidationPipe`: a payload that is missing or falsy fails with
//! `Validation failed: No data provided`, one that is not an object (`typeof value !==
//! 'object'`: arrays pass, as in JavaScript) with `Validation failed: Data must be an
//! object`; anything else passes unchanged.

use portico_sdk::{Env, Validator, Value, Violation, plugin};

/// The pipe.
pub struct WsValidationPipe;

/// Whether JavaScript finds `value` falsy (`!value`).
fn falsy(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(_) | Value::Object(_) => false,
    }
}

fn failed(message: &str) -> Vec<Violation> {
    vec![Violation {
        property: String::new(),
        message: message.to_owned(),
    }]
}

#[plugin]
impl Validator for WsValidationPipe {
    fn validate(_env: &Env, _event: &str, payload: Value) -> Result<Value, Vec<Violation>> {
        if falsy(&payload) {
            return Err(failed("Validation failed: No data provided"));
        }
        if !matches!(payload, Value::Object(_) | Value::Array(_)) {
            return Err(failed("Validation failed: Data must be an object"));
        }
        Ok(payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use portico_sdk::json;
    use portico_sdk::testing::MockHost;

    fn validate(payload: Value) -> Result<Value, String> {
        let host = MockHost::new();
        WsValidationPipe::validate(&Env::new(&host), "createMessage", payload)
            .map_err(|v| v[0].message.clone())
    }

    #[test]
    fn falsy_payloads_have_no_data_and_primitives_are_not_objects() {
        for falsy in [json!(null), json!(false), json!(0), json!(0.0), json!("")] {
            assert_eq!(validate(falsy), Err("Validation failed: No data provided".into()));
        }
        for primitive in [json!(true), json!(1), json!("text")] {
            assert_eq!(
                validate(primitive),
                Err("Validation failed: Data must be an object".into())
            );
        }
        for object in [json!({}), json!({"text": "hi"}), json!([1])] {
            assert_eq!(validate(object.clone()), Ok(object));
        }
    }
}
