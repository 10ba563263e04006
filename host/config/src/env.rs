//! `${VAR}` and `${VAR:-default}` expansion inside every string of a TOML table.
//!
//! `$${` writes a literal `${`. Expansion happens after parsing, so a value with
//! quotes or newlines cannot break the file's syntax.

use super::ConfigError;

/// Expands every string under `table`; `prefix` is the dotted path of `table`.
pub(super) fn expand_table(
    table: &mut toml::Table,
    prefix: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<(), ConfigError> {
    for (key, value) in table.iter_mut() {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        expand_value(value, &path, lookup)?;
    }
    Ok(())
}

fn expand_value(
    value: &mut toml::Value,
    path: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<(), ConfigError> {
    match value {
        toml::Value::String(s) => *s = expand_str(s, path, lookup)?,
        toml::Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                expand_value(item, &format!("{path}[{i}]"), lookup)?;
            }
        }
        toml::Value::Table(table) => expand_table(table, path, lookup)?,
        _ => {}
    }
    Ok(())
}

/// Expands one string.
pub(super) fn expand_str(
    input: &str,
    path: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, ConfigError> {
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at..];
        if let Some(tail) = after.strip_prefix("$${") {
            out.push_str("${");
            rest = tail;
        } else if let Some(tail) = after.strip_prefix("${") {
            let Some(end) = tail.find('}') else {
                return Err(ConfigError::Invalid {
                    key: path.to_owned(),
                    reason: "unterminated `${` (write `$${` for a literal)".to_owned(),
                });
            };
            let expr = &tail[..end];
            let (var, default) = match expr.split_once(":-") {
                Some((var, default)) => (var, Some(default)),
                None => (expr, None),
            };
            if var.is_empty() || !var.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Err(ConfigError::Invalid {
                    key: path.to_owned(),
                    reason: format!("`${{{expr}}}` is not a variable name"),
                });
            }
            match (lookup(var), default) {
                (Some(val), _) => out.push_str(&val),
                (None, Some(default)) => out.push_str(default),
                (None, None) => {
                    return Err(ConfigError::MissingEnv {
                        key: path.to_owned(),
                        var: var.to_owned(),
                    });
                }
            }
            rest = &tail[end + 1..];
        } else {
            out.push('$');
            rest = &after[1..];
        }
    }
    out.push_str(rest);
    Ok(out)
}
