//! MessagePack as `notepack.io` (the codec of `@socket.io/redis-adapter` and
//! `@socket.io/redis-emitter`) writes it, to and from JSON values whose binary parts are
//! Socket.IO placeholders (`{"_placeholder":true,"num":N}`) plus attachments.
//!
//! notepack's dialect: a `Buffer` is `bin`, an `ArrayBuffer` (or typed array) is `ext`
//! type 0, `undefined` is `fixext1` type 0 (`d4 00 00`), a `Date` is `fixext8` type 0
//! (milliseconds since the epoch, big-endian `i64`). The encoding below writes binary as
//! `bin` (a Node receiver gets a `Buffer`) and numbers in their smallest form, as
//! notepack does.

use bytes::Bytes;
use rmp::Marker;
use serde_json::{Map, Number, Value};

use crate::socketio::{placeholder, placeholder_num};

/// Deepest nesting decoded: deeper input is refused, not recursed into.
pub const MAX_DEPTH: usize = 64;

/// Why a MessagePack value could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MsgpackError {
    /// The input ended inside a value.
    #[error("truncated MessagePack value")]
    Truncated,
    /// A marker MessagePack never uses (`0xc1`).
    #[error("reserved MessagePack marker")]
    Reserved,
    /// Nested deeper than [`MAX_DEPTH`].
    #[error("MessagePack value nested deeper than {MAX_DEPTH}")]
    TooDeep,
    /// Bytes remained after the value.
    #[error("trailing bytes after the MessagePack value")]
    Trailing,
    /// A map key that is an array or a map: JavaScript keys are strings (a number
    /// key is read as its digits), and spelling a nested key out would let a few
    /// bytes of nesting grow into an exponentially long string.
    #[error("a map key is not a string or a number")]
    BadKey,
}

/// Appends `value` to `out`; placeholders become `bin` with the attachment they name
/// (a placeholder naming no attachment stays the object it is).
pub fn encode(out: &mut Vec<u8>, value: &Value, attachments: &[Bytes]) {
    match value {
        Value::Null => out.push(0xc0),
        Value::Bool(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Number(n) => encode_number(out, n),
        Value::String(s) => encode_str(out, s),
        Value::Array(items) => {
            encode_len(out, items.len(), 0x90, 0xdc, 0xdd);
            for item in items {
                encode(out, item, attachments);
            }
        }
        Value::Object(map) => {
            if let Some(data) = placeholder_num(value).and_then(|n| attachments.get(n)) {
                encode_bin(out, data);
                return;
            }
            encode_len(out, map.len(), 0x80, 0xde, 0xdf);
            for (key, item) in map {
                encode_str(out, key);
                encode(out, item, attachments);
            }
        }
    }
}

/// Appends a string.
pub fn encode_str(out: &mut Vec<u8>, s: &str) {
    let len = s.len();
    if len < 32 {
        out.push(0xa0 | len as u8);
    } else if len <= 0xff {
        out.extend_from_slice(&[0xd9, len as u8]);
    } else if len <= 0xffff {
        out.push(0xda);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0xdb);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
    out.extend_from_slice(s.as_bytes());
}

/// Appends binary data as `bin` (a `Buffer` for notepack).
pub fn encode_bin(out: &mut Vec<u8>, data: &[u8]) {
    let len = data.len();
    if len <= 0xff {
        out.extend_from_slice(&[0xc4, len as u8]);
    } else if len <= 0xffff {
        out.push(0xc5);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0xc6);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
    out.extend_from_slice(data);
}

/// Appends an array or map header: `fix | len` below 16, else the 16- or 32-bit form.
pub fn encode_len(out: &mut Vec<u8>, len: usize, fix: u8, m16: u8, m32: u8) {
    if len < 16 {
        out.push(fix | len as u8);
    } else if len <= 0xffff {
        out.push(m16);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(m32);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
}

/// Appends an array header.
pub fn encode_array_len(out: &mut Vec<u8>, len: usize) {
    encode_len(out, len, 0x90, 0xdc, 0xdd);
}

/// Appends a map header.
pub fn encode_map_len(out: &mut Vec<u8>, len: usize) {
    encode_len(out, len, 0x80, 0xde, 0xdf);
}

fn encode_number(out: &mut Vec<u8>, n: &Number) {
    if let Some(u) = n.as_u64() {
        encode_uint(out, u);
    } else if let Some(i) = n.as_i64() {
        encode_int(out, i);
    } else if let Some(f) = n.as_f64() {
        out.push(0xcb);
        out.extend_from_slice(&f.to_be_bytes());
    }
}

/// Appends an unsigned integer in its smallest form.
pub fn encode_uint(out: &mut Vec<u8>, u: u64) {
    if u < 0x80 {
        out.push(u as u8);
    } else if u <= 0xff {
        out.extend_from_slice(&[0xcc, u as u8]);
    } else if u <= 0xffff {
        out.push(0xcd);
        out.extend_from_slice(&(u as u16).to_be_bytes());
    } else if u <= 0xffff_ffff {
        out.push(0xce);
        out.extend_from_slice(&(u as u32).to_be_bytes());
    } else {
        out.push(0xcf);
        out.extend_from_slice(&u.to_be_bytes());
    }
}

fn encode_int(out: &mut Vec<u8>, i: i64) {
    if i >= -32 {
        out.push(i as i8 as u8);
    } else if i >= i64::from(i8::MIN) {
        out.extend_from_slice(&[0xd0, i as i8 as u8]);
    } else if i >= i64::from(i16::MIN) {
        out.push(0xd1);
        out.extend_from_slice(&(i as i16).to_be_bytes());
    } else if i >= i64::from(i32::MIN) {
        out.push(0xd2);
        out.extend_from_slice(&(i as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&i.to_be_bytes());
    }
}

/// Decodes exactly one value from `input`; binary (`bin`, or `ext` type 0 other than
/// notepack's `undefined` and `Date`) is pushed onto `attachments` and left as a
/// placeholder. `undefined` becomes `null`, a `Date` its ISO 8601 string (as
/// `JSON.stringify` would give them), other extension types `[type, bytes]` as
/// notepack decodes them, with the bytes as an attachment.
pub fn decode(input: &[u8], attachments: &mut Vec<Bytes>) -> Result<Value, MsgpackError> {
    let mut cursor = Cursor { input, pos: 0 };
    let value = cursor.value(attachments, 0)?;
    if cursor.pos != input.len() {
        return Err(MsgpackError::Trailing);
    }
    Ok(value)
}

struct Cursor<'a> {
    input: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], MsgpackError> {
        let end = self.pos.checked_add(n).ok_or(MsgpackError::Truncated)?;
        let bytes = self.input.get(self.pos..end).ok_or(MsgpackError::Truncated)?;
        self.pos = end;
        Ok(bytes)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], MsgpackError> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8, MsgpackError> {
        Ok(self.array::<1>()?[0])
    }

    fn len(&mut self, width: usize) -> Result<usize, MsgpackError> {
        Ok(match width {
            1 => usize::from(self.u8()?),
            2 => usize::from(u16::from_be_bytes(self.array()?)),
            _ => u32::from_be_bytes(self.array()?) as usize,
        })
    }

    fn value(&mut self, attachments: &mut Vec<Bytes>, depth: usize) -> Result<Value, MsgpackError> {
        if depth > MAX_DEPTH {
            return Err(MsgpackError::TooDeep);
        }
        let marker = Marker::from_u8(self.u8()?);
        Ok(match marker {
            Marker::Null => Value::Null,
            Marker::Reserved => return Err(MsgpackError::Reserved),
            Marker::False => Value::Bool(false),
            Marker::True => Value::Bool(true),
            Marker::FixPos(n) => Value::from(n),
            Marker::FixNeg(n) => Value::from(n),
            Marker::U8 => Value::from(self.u8()?),
            Marker::U16 => Value::from(u16::from_be_bytes(self.array()?)),
            Marker::U32 => Value::from(u32::from_be_bytes(self.array()?)),
            Marker::U64 => Value::from(u64::from_be_bytes(self.array()?)),
            Marker::I8 => Value::from(i8::from_be_bytes(self.array()?)),
            Marker::I16 => Value::from(i16::from_be_bytes(self.array()?)),
            Marker::I32 => Value::from(i32::from_be_bytes(self.array()?)),
            Marker::I64 => Value::from(i64::from_be_bytes(self.array()?)),
            // NaN and the infinities have no JSON form: `null`, as JSON.stringify gives.
            Marker::F32 => float(f64::from(f32::from_be_bytes(self.array()?))),
            Marker::F64 => float(f64::from_be_bytes(self.array()?)),
            Marker::FixStr(n) => self.str(usize::from(n))?,
            Marker::Str8 => self.sized_str(1)?,
            Marker::Str16 => self.sized_str(2)?,
            Marker::Str32 => self.sized_str(4)?,
            Marker::Bin8 => self.bin(1, attachments)?,
            Marker::Bin16 => self.bin(2, attachments)?,
            Marker::Bin32 => self.bin(4, attachments)?,
            Marker::FixArray(n) => self.items(usize::from(n), attachments, depth)?,
            Marker::Array16 => {
                let n = self.len(2)?;
                self.items(n, attachments, depth)?
            }
            Marker::Array32 => {
                let n = self.len(4)?;
                self.items(n, attachments, depth)?
            }
            Marker::FixMap(n) => self.map(usize::from(n), attachments, depth)?,
            Marker::Map16 => {
                let n = self.len(2)?;
                self.map(n, attachments, depth)?
            }
            Marker::Map32 => {
                let n = self.len(4)?;
                self.map(n, attachments, depth)?
            }
            Marker::FixExt1 => self.fixext(1, attachments)?,
            Marker::FixExt2 => self.fixext(2, attachments)?,
            Marker::FixExt4 => self.fixext(4, attachments)?,
            Marker::FixExt8 => self.fixext(8, attachments)?,
            Marker::FixExt16 => self.fixext(16, attachments)?,
            Marker::Ext8 => self.ext(1, attachments)?,
            Marker::Ext16 => self.ext(2, attachments)?,
            Marker::Ext32 => self.ext(4, attachments)?,
        })
    }

    fn str(&mut self, len: usize) -> Result<Value, MsgpackError> {
        Ok(Value::String(
            String::from_utf8_lossy(self.take(len)?).into_owned(),
        ))
    }

    fn sized_str(&mut self, width: usize) -> Result<Value, MsgpackError> {
        let len = self.len(width)?;
        self.str(len)
    }

    fn bin(&mut self, width: usize, attachments: &mut Vec<Bytes>) -> Result<Value, MsgpackError> {
        let len = self.len(width)?;
        let data = self.take(len)?;
        Ok(attach(attachments, data))
    }

    fn items(&mut self, n: usize, attachments: &mut Vec<Bytes>, depth: usize) -> Result<Value, MsgpackError> {
        // Each item takes at least a byte: a count beyond what is left is a lie.
        if n > self.input.len() - self.pos {
            return Err(MsgpackError::Truncated);
        }
        // Reserved for what is likely, not for what the header claims: nested headers
        // each claiming the whole input would otherwise reserve it once per level.
        let mut items = Vec::with_capacity(n.min(64));
        for _ in 0..n {
            items.push(self.value(attachments, depth + 1)?);
        }
        Ok(Value::Array(items))
    }

    fn map(&mut self, n: usize, attachments: &mut Vec<Bytes>, depth: usize) -> Result<Value, MsgpackError> {
        if n > self.input.len() - self.pos {
            return Err(MsgpackError::Truncated);
        }
        let mut map = Map::new();
        for _ in 0..n {
            let key = match self.value(attachments, depth + 1)? {
                Value::String(s) => s,
                // JavaScript object keys are strings; a number key is its decimal form.
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                Value::Null => "null".to_owned(),
                Value::Array(_) | Value::Object(_) => return Err(MsgpackError::BadKey),
            };
            let value = self.value(attachments, depth + 1)?;
            map.insert(key, value);
        }
        Ok(Value::Object(map))
    }

    fn fixext(&mut self, len: usize, attachments: &mut Vec<Bytes>) -> Result<Value, MsgpackError> {
        let ty = i8::from_be_bytes(self.array()?);
        let data = self.take(len)?;
        Ok(match (ty, len) {
            (0, 1) => Value::Null,
            (0, 8) => {
                let mut ms = [0; 8];
                ms.copy_from_slice(data);
                iso_date(i64::from_be_bytes(ms))
            }
            (0, _) => attach(attachments, data),
            (ty, _) => Value::Array(vec![Value::from(ty), attach(attachments, data)]),
        })
    }

    fn ext(&mut self, width: usize, attachments: &mut Vec<Bytes>) -> Result<Value, MsgpackError> {
        let len = self.len(width)?;
        let ty = i8::from_be_bytes(self.array()?);
        let data = self.take(len)?;
        Ok(match ty {
            0 => attach(attachments, data),
            ty => Value::Array(vec![Value::from(ty), attach(attachments, data)]),
        })
    }
}

fn attach(attachments: &mut Vec<Bytes>, data: &[u8]) -> Value {
    attachments.push(Bytes::copy_from_slice(data));
    placeholder(attachments.len() - 1)
}

fn float(f: f64) -> Value {
    Number::from_f64(f).map_or(Value::Null, Value::Number)
}

/// `Date.prototype.toISOString` of `ms` since the epoch: `YYYY-MM-DDTHH:MM:SS.mmmZ`.
fn iso_date(ms: i64) -> Value {
    let days = ms.div_euclid(86_400_000);
    let in_day = ms.rem_euclid(86_400_000);
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    Value::String(format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1000 % 60,
        in_day % 1000
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn roundtrip(value: Value) {
        let mut out = Vec::new();
        encode(&mut out, &value, &[]);
        let mut attachments = Vec::new();
        assert_eq!(decode(&out, &mut attachments), Ok(value));
        assert!(attachments.is_empty());
    }

    #[test]
    fn json_values_round_trip() {
        roundtrip(json!(null));
        roundtrip(json!([
            true,
            false,
            0,
            127,
            128,
            255,
            256,
            65535,
            65536,
            4294967295u64,
            4294967296u64,
            u64::MAX
        ]));
        roundtrip(json!([
            -1,
            -32,
            -33,
            -128,
            -129,
            -32768,
            -32769,
            -2147483648i64,
            -2147483649i64,
            i64::MIN
        ]));
        roundtrip(json!([0.5, -1.25, 1e300]));
        roundtrip(json!({"a": {"b": [1, "x"]}, "": ""}));
        roundtrip(json!("é".repeat(20)));
        roundtrip(json!("x".repeat(300)));
        roundtrip(json!("x".repeat(70_000)));
        roundtrip(Value::Array((0..20).map(Value::from).collect()));
        roundtrip(Value::Array((0..70_000).map(Value::from).collect()));
        roundtrip(Value::Object(
            (0..20).map(|i| (i.to_string(), Value::from(i))).collect(),
        ));
    }

    #[test]
    fn numbers_take_notepacks_smallest_form() {
        let enc = |v: Value| {
            let mut out = Vec::new();
            encode(&mut out, &v, &[]);
            out
        };
        assert_eq!(enc(json!(5)), [0x05]);
        assert_eq!(enc(json!(-5)), [0xfb]);
        assert_eq!(enc(json!(200)), [0xcc, 200]);
        assert_eq!(enc(json!(-100)), [0xd0, 0x9c]);
        assert_eq!(enc(json!(1.5)), [0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0]);
        assert_eq!(enc(json!("hi")), [0xa2, b'h', b'i']);
        assert_eq!(enc(json!({"a": []})), [0x81, 0xa1, b'a', 0x90]);
    }

    #[test]
    fn placeholders_become_bin_and_bin_becomes_placeholders() {
        let value = json!(["file", {"name": "a", "data": placeholder(0)}, placeholder(1)]);
        let attachments = [Bytes::from_static(b"\x00\x01"), Bytes::from(vec![7u8; 300])];
        let mut out = Vec::new();
        encode(&mut out, &value, &attachments);
        assert!(out.windows(4).any(|w| w == [0xc4, 2, 0, 1]), "bin 8");
        assert!(out.windows(3).any(|w| w == [0xc5, 1, 44]), "bin 16");
        let mut back = Vec::new();
        assert_eq!(decode(&out, &mut back), Ok(value));
        assert_eq!(back, attachments);
    }

    #[test]
    fn a_placeholder_without_its_attachment_stays_an_object() {
        let value = json!([placeholder(3)]);
        let mut out = Vec::new();
        encode(&mut out, &value, &[]);
        let mut back = Vec::new();
        assert_eq!(decode(&out, &mut back), Ok(value));
        assert!(back.is_empty());
    }

    #[test]
    fn notepack_extensions_decode_as_javascript_would_serialise_them() {
        let mut att = Vec::new();
        // undefined
        assert_eq!(decode(&[0x91, 0xd4, 0, 0], &mut att), Ok(json!([null])));
        // new Date(1700000000123): hi = 395, lo = 3_478_236_283 (0xcf_51_cb_7b)
        let mut date = vec![0xd7, 0];
        date.extend_from_slice(&1_700_000_000_123i64.to_be_bytes());
        assert_eq!(decode(&date, &mut att), Ok(json!("2023-11-14T22:13:20.123Z")));
        assert_eq!(iso_date(0), json!("1970-01-01T00:00:00.000Z"));
        assert_eq!(iso_date(-1), json!("1969-12-31T23:59:59.999Z"));
        assert_eq!(iso_date(951_782_400_000), json!("2000-02-29T00:00:00.000Z"));
        assert!(att.is_empty());
        // An ArrayBuffer: ext 8 type 0, even of length 1 or 8.
        assert_eq!(decode(&[0xc7, 1, 0, 9], &mut att), Ok(placeholder(0)));
        let mut eight = vec![0xc7, 8, 0];
        eight.extend_from_slice(&[1; 8]);
        assert_eq!(decode(&eight, &mut att), Ok(placeholder(1)));
        assert_eq!(att, [Bytes::from_static(&[9]), Bytes::from_static(&[1; 8])]);
        // Another extension type: [type, bytes].
        let mut att = Vec::new();
        assert_eq!(decode(&[0xd5, 5, 1, 2], &mut att), Ok(json!([5, placeholder(0)])));
        assert_eq!(
            decode(&[0xd6, 0xff, 1, 2, 3, 4], &mut att),
            Ok(json!([-1, placeholder(1)]))
        );
    }

    #[test]
    fn floats_without_a_json_form_are_null_and_keys_are_strings() {
        let mut att = Vec::new();
        let mut nan = vec![0xcb];
        nan.extend_from_slice(&f64::NAN.to_be_bytes());
        assert_eq!(decode(&nan, &mut att), Ok(Value::Null));
        assert_eq!(decode(&[0xca, 0x3f, 0xc0, 0, 0], &mut att), Ok(json!(1.5)));
        assert_eq!(decode(&[0x81, 0x07, 0xc3], &mut att), Ok(json!({"7": true})));
        assert_eq!(
            decode(&[0xa2, 0xff, b'a'], &mut att),
            Ok(json!("\u{fffd}a")),
            "lossy UTF-8"
        );
    }

    #[test]
    fn bad_input_is_an_error_never_a_panic() {
        let mut att = Vec::new();
        assert_eq!(decode(&[], &mut att), Err(MsgpackError::Truncated));
        assert_eq!(decode(&[0xc1], &mut att), Err(MsgpackError::Reserved));
        assert_eq!(decode(&[0xc0, 0xc0], &mut att), Err(MsgpackError::Trailing));
        assert_eq!(decode(&[0xa5, b'a'], &mut att), Err(MsgpackError::Truncated));
        assert_eq!(
            decode(&[0xc6, 0xff, 0xff, 0xff, 0xff], &mut att),
            Err(MsgpackError::Truncated)
        );
        assert_eq!(
            decode(&[0xdd, 0xff, 0xff, 0xff, 0xff], &mut att),
            Err(MsgpackError::Truncated),
            "no huge allocation"
        );
        assert_eq!(
            decode(&[0xdf, 0xff, 0xff, 0xff, 0xff, 0xc0], &mut att),
            Err(MsgpackError::Truncated)
        );
        assert_eq!(decode(&[0xcd, 1], &mut att), Err(MsgpackError::Truncated));
        assert_eq!(decode(&[0xd7, 0, 1], &mut att), Err(MsgpackError::Truncated));
        assert_eq!(decode(&[0x91; 100], &mut att), Err(MsgpackError::TooDeep));
        let mut nested = vec![0x91; MAX_DEPTH];
        nested.push(0xc0);
        assert!(decode(&nested, &mut att).is_ok(), "{MAX_DEPTH} levels are fine");
        // Maps keyed by maps keyed by maps…: refused, not spelt out (found by the fuzzer:
        // each level's escaping doubled the key, 25 levels took seconds and 600 MB).
        let mut keyed = vec![0x81; 25];
        keyed.extend_from_slice(&[0xc0; 26]);
        assert_eq!(decode(&keyed, &mut att), Err(MsgpackError::BadKey));
        assert_eq!(decode(&[0x81, 0x90, 0xc0], &mut att), Err(MsgpackError::BadKey));
        assert_eq!(
            decode(&[0x81, 0xc3, 0xc0], &mut att),
            Ok(serde_json::json!({"true": null}))
        );
        // Headers each claiming the rest of the input, nested: an error, and no
        // reservation per level of what they claim.
        let mut claims = Vec::new();
        for _ in 0..MAX_DEPTH {
            claims.extend_from_slice(&[0xdd, 0x00, 0x0f, 0x00, 0x00]);
        }
        claims.resize(1 << 20, 0xc0);
        assert_eq!(decode(&claims, &mut att), Err(MsgpackError::Truncated));
    }
}
