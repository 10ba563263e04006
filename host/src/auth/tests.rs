//! Every rejection reason, the extraction order, and algorithm confusion.

use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{EncodingKey, Header, encode};
use serde_json::{Value, json};

use super::*;

const SECRET: &str = "test-secret";
/// Test-only RSA key pair (generated for these tests; not used anywhere else).
const RSA_PUBLIC: &str = include_str!("testdata/rsa_public.pem");
const RSA_PRIVATE: &str = include_str!("testdata/rsa_private.pem");

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn hs256(claims: Value) -> String {
    encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .expect("sign")
}

fn hmac_config() -> AuthConfig {
    AuthConfig {
        secret: Some(SECRET.to_owned()),
        ..AuthConfig::default()
    }
}

fn verifier(config: AuthConfig) -> Verifier {
    Verifier::new(&config).expect("valid auth config")
}

fn valid_claims() -> Value {
    json!({ "sub": "42", "name": "alice", "exp": now() + 3600 })
}

#[test]
fn a_good_token_yields_its_claims() {
    let claims = verifier(hmac_config())
        .verify(&hs256(valid_claims()))
        .expect("valid");
    assert_eq!(claims["sub"], "42");
    assert_eq!(subject(&claims).as_deref(), Some("42"));
    assert_eq!(subject(&json!({"sub": 7})).as_deref(), Some("7"));
    assert_eq!(subject(&json!({"name": "x"})), None);
}

#[test]
fn every_rejection_reason() {
    let v = verifier(hmac_config());
    let expired = hs256(json!({ "sub": "1", "exp": now() - 3600 }));
    assert_eq!(v.verify(&expired), Err(AuthFailure::Expired));
    let wrong_secret = encode(
        &Header::new(Algorithm::HS256),
        &valid_claims(),
        &EncodingKey::from_secret(b"other"),
    )
    .expect("sign");
    assert_eq!(
        v.verify(&wrong_secret),
        Err(AuthFailure::Invalid),
        "wrong signature"
    );
    let wrong_alg = encode(
        &Header::new(Algorithm::HS384),
        &valid_claims(),
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .expect("sign");
    assert_eq!(
        v.verify(&wrong_alg),
        Err(AuthFailure::Invalid),
        "HS384 is not pinned"
    );
    assert_eq!(v.verify("not.a.jwt"), Err(AuthFailure::Invalid), "malformed");
    assert_eq!(v.verify(""), Err(AuthFailure::Invalid));
    let not_yet = hs256(json!({ "sub": "1", "exp": now() + 3600, "nbf": now() + 600 }));
    assert_eq!(
        v.verify(&not_yet),
        Err(AuthFailure::Invalid),
        "not valid before nbf"
    );
    let no_exp = hs256(json!({ "sub": "1" }));
    assert_eq!(v.verify(&no_exp), Err(AuthFailure::Invalid), "exp is required");
}

#[test]
fn alg_none_is_refused() {
    // header {"alg":"none","typ":"JWT"}, payload with a future exp, empty signature.
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let token = format!(
        "{}.{}.",
        b64.encode(br#"{"alg":"none","typ":"JWT"}"#),
        b64.encode(valid_claims().to_string())
    );
    assert_eq!(verifier(hmac_config()).verify(&token), Err(AuthFailure::Invalid));
}

#[test]
fn leeway_tolerates_small_clock_skew() {
    let just_expired = hs256(json!({ "sub": "1", "exp": now() - 10 }));
    assert!(
        verifier(hmac_config()).verify(&just_expired).is_ok(),
        "10 s late, 30 s leeway"
    );
    let strict = verifier(AuthConfig {
        leeway_s: 0,
        ..hmac_config()
    });
    assert_eq!(strict.verify(&just_expired), Err(AuthFailure::Expired));
}

#[test]
fn issuer_and_audience_are_checked_when_configured() {
    let v = verifier(AuthConfig {
        issuer: Some("portico".into()),
        audience: Some("chat".into()),
        ..hmac_config()
    });
    let good = hs256(json!({ "sub": "1", "exp": now() + 60, "iss": "portico", "aud": "chat" }));
    assert!(v.verify(&good).is_ok());
    let wrong_aud = hs256(json!({ "sub": "1", "exp": now() + 60, "iss": "portico", "aud": "admin" }));
    assert_eq!(v.verify(&wrong_aud), Err(AuthFailure::Invalid));
    let wrong_iss = hs256(json!({ "sub": "1", "exp": now() + 60, "iss": "evil", "aud": "chat" }));
    assert_eq!(v.verify(&wrong_iss), Err(AuthFailure::Invalid));
}

#[test]
fn the_public_key_used_as_an_hmac_secret_is_refused() {
    let dir = tempfile::tempdir().expect("tmp");
    let key_file = dir.path().join("public.pem");
    std::fs::write(&key_file, RSA_PUBLIC).expect("write key");
    let config = AuthConfig {
        algorithms: vec!["RS256".into()],
        public_key_file: Some(key_file),
        ..AuthConfig::default()
    };
    let v = verifier(config);
    let rs256 = encode(
        &Header::new(Algorithm::RS256),
        &valid_claims(),
        &EncodingKey::from_rsa_pem(RSA_PRIVATE.as_bytes()).expect("key"),
    )
    .expect("sign");
    assert!(v.verify(&rs256).is_ok(), "a real RS256 token passes");
    let confused = encode(
        &Header::new(Algorithm::HS256),
        &valid_claims(),
        &EncodingKey::from_secret(RSA_PUBLIC.as_bytes()),
    )
    .expect("sign");
    assert_eq!(
        v.verify(&confused),
        Err(AuthFailure::Invalid),
        "HS/RS key confusion"
    );
}

#[test]
fn setup_errors_are_explained() {
    let mixed = AuthConfig {
        algorithms: vec!["HS256".into(), "RS256".into()],
        ..hmac_config()
    };
    assert!(matches!(
        Verifier::new(&mixed),
        Err(AuthSetupError::MixedFamilies(_))
    ));
    let unknown = AuthConfig {
        algorithms: vec!["none".into()],
        ..hmac_config()
    };
    assert!(matches!(
        Verifier::new(&unknown),
        Err(AuthSetupError::UnknownAlgorithm(_))
    ));
    assert!(
        matches!(Verifier::new(&AuthConfig::default()), Err(AuthSetupError::Key(_))),
        "HS256 without a secret"
    );
    let no_key = AuthConfig {
        algorithms: vec!["ES256".into()],
        ..AuthConfig::default()
    };
    assert!(matches!(Verifier::new(&no_key), Err(AuthSetupError::Key(_))));
}

#[test]
fn tokens_are_found_in_the_configured_order() {
    let all = [TokenSource::Auth, TokenSource::Query, TokenSource::Header];
    let mut headers = http::HeaderMap::new();
    headers.insert(
        http::header::AUTHORIZATION,
        http::HeaderValue::from_static("Bearer from-header"),
    );
    let auth = json!({ "token": "from-auth" });
    let query = "EIO=4&token=from%2Dquery&transport=websocket";
    assert_eq!(
        extract(&all, &auth, query, &headers).as_deref(),
        Some("from-auth")
    );
    assert_eq!(
        extract(&all, &json!({}), query, &headers).as_deref(),
        Some("from-query")
    );
    assert_eq!(
        extract(&all, &json!({}), "EIO=4", &headers).as_deref(),
        Some("from-header")
    );
    let header_first = [TokenSource::Header, TokenSource::Auth];
    assert_eq!(
        extract(&header_first, &auth, query, &headers).as_deref(),
        Some("from-header")
    );
    assert_eq!(
        extract(
            &[TokenSource::Auth],
            &json!({ "token": "Bearer abc" }),
            "",
            &headers
        )
        .as_deref(),
        Some("abc")
    );
    assert_eq!(
        extract(&all, &json!({ "token": "" }), "token=", &http::HeaderMap::new()),
        None
    );
    assert_eq!(
        extract(&all, &json!({ "token": 5 }), "", &http::HeaderMap::new()),
        None
    );
    assert_eq!(
        extract(&[TokenSource::Query], &json!({}), "token=%E2%9C%93%zz", &headers).as_deref(),
        Some("✓%zz")
    );
}

#[test]
fn modes_decide_what_a_missing_token_means() {
    let v = verifier(hmac_config());
    let none = http::HeaderMap::new();
    assert_eq!(
        v.authenticate(AuthMode::None, &json!({ "token": "garbage" }), "", &none),
        Ok(None)
    );
    assert_eq!(
        v.authenticate(AuthMode::Optional, &json!({}), "", &none),
        Ok(None)
    );
    assert_eq!(
        v.authenticate(AuthMode::Required, &json!({}), "", &none),
        Err(AuthFailure::Missing)
    );
    assert_eq!(
        v.authenticate(AuthMode::Optional, &json!({ "token": "garbage" }), "", &none),
        Err(AuthFailure::Invalid),
        "a bad token is refused even where tokens are optional"
    );
    let ok = v.authenticate(
        AuthMode::Required,
        &json!({ "token": hs256(valid_claims()) }),
        "",
        &none,
    );
    assert_eq!(ok.ok().flatten().map(|c| c["sub"].clone()), Some(json!("42")));
}

#[test]
fn failure_messages_match_the_seed_gateways() {
    assert_eq!(
        AuthFailure::Missing.to_string(),
        "Unauthorized: No token provided"
    );
    assert_eq!(AuthFailure::Invalid.to_string(), "Unauthorized: Invalid token");
    assert_eq!(AuthFailure::Expired.to_string(), "Unauthorized: Token expired");
}

#[test]
fn jwks_keys_are_chosen_by_kid_and_reloaded_when_the_file_changes() {
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("jwks.json");
    let jwks = include_str!("testdata/jwks.json");
    std::fs::write(&file, jwks).expect("write");
    let v = verifier(AuthConfig {
        algorithms: vec!["RS256".into()],
        jwks_file: Some(file.clone()),
        ..AuthConfig::default()
    });
    let signed = |kid: Option<&str>| {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = kid.map(str::to_owned);
        encode(
            &header,
            &valid_claims(),
            &EncodingKey::from_rsa_pem(RSA_PRIVATE.as_bytes()).expect("key"),
        )
        .expect("sign")
    };
    assert!(v.verify(&signed(Some("k1"))).is_ok());
    assert!(
        v.verify(&signed(None)).is_ok(),
        "a single key serves tokens without kid"
    );
    assert_eq!(
        v.verify(&signed(Some("k2"))),
        Err(AuthFailure::Invalid),
        "unknown kid"
    );
    // Rotate: the same key under a new kid. The file is re-checked at most once a second.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    std::fs::write(&file, jwks.replace("\"k1\"", "\"k2\"")).expect("rotate");
    assert!(
        v.verify(&signed(Some("k2"))).is_ok(),
        "the rotated key is picked up"
    );
    assert_eq!(
        v.verify(&signed(Some("k1"))),
        Err(AuthFailure::Invalid),
        "the old kid is gone"
    );
    let hmac_jwks = AuthConfig {
        jwks_file: Some(file),
        ..hmac_config()
    };
    assert!(matches!(Verifier::new(&hmac_jwks), Err(AuthSetupError::Key(_))));
}

#[test]
fn expiry_is_exp_plus_the_leeway_the_verifier_accepted_it_with() {
    let config = |leeway_s| AuthConfig {
        disconnect_on_expiry: true,
        leeway_s,
        ..hmac_config()
    };
    let at = |secs: f64| UNIX_EPOCH + std::time::Duration::from_secs_f64(secs);
    let exp = now() + 60;
    let default = verifier(config(30));
    let claims = default
        .verify(&hs256(json!({ "sub": "1", "exp": exp })))
        .expect("valid");
    assert_eq!(default.expiry(&claims), Some(at(exp as f64 + 30.0)));
    assert_eq!(verifier(config(0)).expiry(&claims), Some(at(exp as f64)));
    // NumericDate may be a fraction (RFC 7519 §2); such a token must expire too.
    let float = hs256(json!({ "sub": "1", "exp": exp as f64 + 0.5 }));
    let claims = default.verify(&float).expect("a fractional exp is a valid token");
    assert_eq!(default.expiry(&claims), Some(at(exp as f64 + 30.5)));
    // Off unless configured, and nothing to wait for without an exp.
    assert_eq!(verifier(hmac_config()).expiry(&claims), None);
    assert_eq!(default.expiry(&json!({ "sub": "1" })), None);
    assert_eq!(
        default.expiry(&json!({ "exp": -5 })),
        None,
        "a negative exp is refused at connect"
    );
}
