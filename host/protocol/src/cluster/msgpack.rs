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
mod tests;
