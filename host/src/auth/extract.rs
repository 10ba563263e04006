//! Where a connection's token comes from.

use serde_json::Value;

pub use crate::config::TokenSource;

/// The first token found in `sources`, in order. A `Bearer ` prefix is accepted everywhere.
pub fn extract(
    sources: &[TokenSource],
    auth: &Value,
    query: &str,
    headers: &http::HeaderMap,
) -> Option<String> {
    sources.iter().find_map(|source| {
        let raw = match source {
            TokenSource::Auth => auth.get("token").and_then(Value::as_str).map(str::to_owned),
            TokenSource::Query => query_param(query, "token"),
            TokenSource::Header => headers
                .get(http::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
        }?;
        let token = raw.trim();
        let token = token
            .strip_prefix("Bearer ")
            .or_else(|| token.strip_prefix("bearer "))
            .unwrap_or(token)
            .trim();
        (!token.is_empty()).then(|| token.to_owned())
    })
}

/// Every `key=value` pair of a query string, percent-decoded, in order.
pub(crate) fn query_pairs(query: &str) -> impl Iterator<Item = (String, String)> + '_ {
    query.split('&').filter(|p| !p.is_empty()).map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (percent_decode(key), percent_decode(value))
    })
}

/// A percent-decoded query parameter.
fn query_param(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (key == name).then(|| percent_decode(value))
    })
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(hi), Some(lo)) => {
                    out.push((hi * 16 + lo) as u8);
                    i += 3;
                }
                _ => {
                    out.push(b'%');
                    i += 1;
                }
            },
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
