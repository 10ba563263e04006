//! class-validator's decorators as data, so a validator plugin is driven by its
//! config. Messages are class-validator's own words; lengths count UTF-16 code units,
//! as JavaScript strings do.
//!
//! ```
//! use portico_sdk::rules::Schema;
//! use serde_json::json;
//!
//! let schema: Schema = serde_json::from_value(json!({
//!     "whitelist": true,
//!     "properties": {
//!         "text": ["IsString", "IsNotEmpty", {"MaxLength": 5}],
//!         "replyTo": ["IsOptional", "IsString"]
//!     }
//! })).unwrap();
//! let err = schema.validate(json!({"text": "too long"})).unwrap_err();
//! assert_eq!(err[0].message, "text must be shorter than or equal to 5 characters");
//! assert_eq!(schema.validate(json!({"text": "hi", "x": 1})).unwrap(), json!({"text": "hi"}));
//! ```

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::Violation;

/// One property's rule.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub enum Rule {
    /// `@IsOptional()`: `null` or absent skips the other rules.
    IsOptional,
    /// `@IsString()`.
    IsString,
    /// `@IsNotEmpty()`: not `""`, `null` or absent.
    IsNotEmpty,
    /// `@IsInt()`.
    IsInt,
    /// `@IsNumber()`.
    IsNumber,
    /// `@IsBoolean()`.
    IsBoolean,
    /// `@MaxLength(n)`, in UTF-16 code units.
    MaxLength(usize),
    /// `@MinLength(n)`, in UTF-16 code units.
    MinLength(usize),
}

/// The rules of one DTO class.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Schema {
    /// Drop properties that have no rules (`whitelist: true`).
    pub whitelist: bool,
    /// Refuse properties that have no rules (`forbidNonWhitelisted: true`).
    #[serde(rename = "forbidNonWhitelisted")]
    pub forbid_non_whitelisted: bool,
    /// Rules by property, checked in order.
    pub properties: BTreeMap<String, Vec<Rule>>,
}

impl Schema {
    /// The payload to pass on, or every violation (one per failed rule).
    pub fn validate(&self, payload: Value) -> Result<Value, Vec<Violation>> {
        let mut object = match payload {
            Value::Object(object) => object,
            // class-validator validates a non-object as an object with no properties.
            _ => Map::new(),
        };
        let mut violations = Vec::new();
        for (property, rules) in &self.properties {
            check(property, object.get(property), rules, &mut violations);
        }
        let unknown: Vec<String> = object
            .keys()
            .filter(|k| !self.properties.contains_key(*k))
            .cloned()
            .collect();
        for property in unknown {
            if self.forbid_non_whitelisted {
                violations.push(Violation {
                    message: format!("property {property} should not exist"),
                    property,
                });
            } else if self.whitelist {
                object.remove(&property);
            }
        }
        if violations.is_empty() {
            Ok(Value::Object(object))
        } else {
            Err(violations)
        }
    }
}

fn check(property: &str, value: Option<&Value>, rules: &[Rule], out: &mut Vec<Violation>) {
    let absent = matches!(value, None | Some(Value::Null));
    if absent && rules.contains(&Rule::IsOptional) {
        return;
    }
    for rule in rules {
        let failed = match (rule, value) {
            (Rule::IsOptional, _) => None,
            (Rule::IsString, Some(Value::String(_))) => None,
            (Rule::IsString, _) => Some(format!("{property} must be a string")),
            (Rule::IsNotEmpty, Some(Value::String(s))) if s.is_empty() => {
                Some(format!("{property} should not be empty"))
            }
            (Rule::IsNotEmpty, None | Some(Value::Null)) => Some(format!("{property} should not be empty")),
            (Rule::IsNotEmpty, _) => None,
            (Rule::IsInt, Some(Value::Number(n))) if n.is_i64() || n.is_u64() => None,
            (Rule::IsInt, Some(Value::Number(n))) if n.as_f64().is_some_and(|f| f.fract() == 0.0) => None,
            (Rule::IsInt, _) => Some(format!("{property} must be an integer number")),
            (Rule::IsNumber, Some(Value::Number(_))) => None,
            (Rule::IsNumber, _) => Some(format!(
                "{property} must be a number conforming to the specified constraints"
            )),
            (Rule::IsBoolean, Some(Value::Bool(_))) => None,
            (Rule::IsBoolean, _) => Some(format!("{property} must be a boolean value")),
            (Rule::MaxLength(max), Some(Value::String(s))) if utf16_len(s) <= *max => None,
            (Rule::MaxLength(max), _) => Some(format!(
                "{property} must be shorter than or equal to {max} characters"
            )),
            (Rule::MinLength(min), Some(Value::String(s))) if utf16_len(s) >= *min => None,
            (Rule::MinLength(min), _) => Some(format!(
                "{property} must be longer than or equal to {min} characters"
            )),
        };
        if let Some(message) = failed {
            out.push(Violation {
                property: property.to_owned(),
                message,
            });
        }
    }
}

/// A string's length as JavaScript counts it.
pub fn utf16_len(s: &str) -> usize {
    s.encode_utf16().count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The seed's `SendMessageDto`.
    fn send_message() -> Schema {
        serde_json::from_value(json!({
            "whitelist": true,
            "properties": {
                "roomId": ["IsString", "IsNotEmpty"],
                "text": ["IsString", "IsNotEmpty", {"MaxLength": 1000}],
            }
        }))
        .expect("schema")
    }

    fn messages(result: Result<Value, Vec<Violation>>) -> Vec<String> {
        result
            .expect_err("violations")
            .into_iter()
            .map(|v| v.message)
            .collect()
    }

    #[test]
    fn valid_payloads_pass_and_unknown_properties_are_stripped() {
        let out = send_message()
            .validate(json!({"roomId": "r", "text": "hi", "evil": true}))
            .expect("valid");
        assert_eq!(out, json!({"roomId": "r", "text": "hi"}));
    }

    #[test]
    fn every_failed_rule_is_reported_in_class_validator_words() {
        assert_eq!(
            messages(send_message().validate(json!({}))),
            [
                "roomId must be a string",
                "roomId should not be empty",
                "text must be a string",
                "text should not be empty",
                "text must be shorter than or equal to 1000 characters",
            ]
        );
        assert_eq!(
            messages(send_message().validate(json!({"roomId": "r", "text": ""}))),
            ["text should not be empty"]
        );
    }

    #[test]
    fn lengths_count_utf16_units() {
        let schema: Schema =
            serde_json::from_value(json!({"properties": {"t": [{"MaxLength": 2}]}})).expect("schema");
        assert!(schema.validate(json!({"t": "é"})).is_ok(), "one unit");
        assert!(
            schema.validate(json!({"t": "😀"})).is_ok(),
            "one emoji is two units"
        );
        assert_eq!(
            messages(schema.validate(json!({"t": "😀a"}))),
            ["t must be shorter than or equal to 2 characters"]
        );
        assert_eq!(utf16_len("a😀"), 3);
    }

    #[test]
    fn optional_numbers_booleans_and_forbidden_extras() {
        let schema: Schema = serde_json::from_value(json!({
            "forbidNonWhitelisted": true,
            "properties": {
                "n": ["IsOptional", "IsInt"],
                "f": ["IsNumber"],
                "b": ["IsBoolean"],
                "s": [{"MinLength": 2}],
            }
        }))
        .expect("schema");
        assert!(schema.validate(json!({"f": 1.5, "b": false, "s": "ab"})).is_ok());
        assert!(
            schema
                .validate(json!({"n": 3.0, "f": 1, "b": true, "s": "ab"}))
                .is_ok()
        );
        assert_eq!(
            messages(schema.validate(json!({"n": 1.5, "f": "1", "b": 1, "s": "a", "x": 0}))),
            [
                "b must be a boolean value",
                "f must be a number conforming to the specified constraints",
                "n must be an integer number",
                "s must be longer than or equal to 2 characters",
                "property x should not exist",
            ]
        );
    }

    #[test]
    fn a_non_object_payload_fails_every_required_property() {
        assert_eq!(messages(send_message().validate(json!("text"))).len(), 5);
    }
}
