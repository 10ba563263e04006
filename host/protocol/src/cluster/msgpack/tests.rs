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
