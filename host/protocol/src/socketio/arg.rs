//! One argument of an event or an ack, kept as the JSON text it arrived as (validated,
//! never built into a tree): the gateway mostly passes arguments on, to a plugin or
//! back into a frame, and parses one only where it reads it.

use serde_json::Value;
use serde_json::value::RawValue;

/// One JSON value as text, known to be valid JSON.
#[derive(Clone)]
pub struct Arg(Box<RawValue>);

impl Arg {
    /// `text` as an argument, if it is one JSON value (surrounding whitespace
    /// allowed). Takes the string as it is: no copy.
    pub fn from_json(text: String) -> Result<Arg, serde_json::Error> {
        RawValue::from_string(text).map(Arg)
    }

    /// A copy of a value already validated as part of a larger document.
    pub fn from_raw(raw: &RawValue) -> Arg {
        Arg(raw.to_owned())
    }

    /// `value` serialised.
    pub fn from_value(value: &Value) -> Arg {
        // Serialising a `Value` cannot fail: its map keys are strings.
        Arg(serde_json::value::to_raw_value(value).unwrap_or_else(|_| null()))
    }

    /// The JSON text.
    pub fn json(&self) -> &str {
        self.0.get()
    }

    /// The value, parsed: for the readers that need a tree.
    pub fn value(&self) -> Value {
        // Valid JSON by construction. A number beyond what `Value` holds (none with
        // `float_roundtrip`) would read as null.
        serde_json::from_str(self.0.get()).unwrap_or(Value::Null)
    }

    /// Whether it is the JSON `null`.
    pub fn is_null(&self) -> bool {
        self.0.get().trim() == "null"
    }
}

fn null() -> Box<RawValue> {
    RawValue::from_string("null".to_owned()).unwrap_or_else(|_| unreachable!("null is JSON"))
}

impl From<Value> for Arg {
    fn from(value: Value) -> Arg {
        Arg::from_value(&value)
    }
}

/// Equal when they hold the same value, whatever the spacing or key order.
impl PartialEq for Arg {
    fn eq(&self, other: &Arg) -> bool {
        self.json() == other.json() || self.value() == other.value()
    }
}

impl PartialEq<Value> for Arg {
    fn eq(&self, other: &Value) -> bool {
        self.value() == *other
    }
}

impl std::fmt::Debug for Arg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.json())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn it_keeps_the_text_it_was_given_and_parses_on_demand() {
        let arg = Arg::from_json(r#"{"b": 1, "a": [true]}"#.to_owned()).expect("JSON");
        assert_eq!(arg.json(), r#"{"b": 1, "a": [true]}"#);
        assert_eq!(arg.value(), json!({"a": [true], "b": 1}));
        assert_eq!(arg, Arg::from(json!({"a": [true], "b": 1})), "equal by value");
        assert_ne!(arg, Arg::from(json!({"a": [false], "b": 1})));
    }

    #[test]
    fn only_one_json_value_is_an_arg() {
        for bad in ["", "{", "1 2", "[1,]", "nul", "'x'"] {
            assert!(Arg::from_json(bad.to_owned()).is_err(), "{bad:?}");
        }
        assert!(Arg::from_json(" 7 ".to_owned()).is_ok());
    }

    #[test]
    fn null_is_recognised_and_values_serialise_compactly() {
        assert!(Arg::from(Value::Null).is_null());
        assert!(Arg::from_json(" null ".to_owned()).expect("JSON").is_null());
        assert!(!Arg::from(json!("null")).is_null());
        assert_eq!(Arg::from(json!({"k": [1, "x"]})).json(), r#"{"k":[1,"x"]}"#);
    }
}
