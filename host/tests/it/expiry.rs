//! `auth.disconnect_on_expiry`: a socket leaves when its token's `exp` (plus the leeway
//! it was accepted with) passes, on both endpoints, whatever JSON number `exp` is.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::StatusCode;
use jsonwebtoken::{EncodingKey, Header, encode};
use portico::router::Targets;
use serde_json::{Value, json};

use crate::support::{RawWs, Received, TestGateway};

const SECRET: &str = "expiry-test-secret";

fn config(leeway: Option<u64>) -> String {
    let leeway = leeway.map(|s| format!("leeway_s = {s}\n")).unwrap_or_default();
    format!(
        "[engineio]\nping_interval_ms = 600000\nping_timeout_ms = 600000\n\
         [auth]\nsecret = \"{SECRET}\"\ndisconnect_on_expiry = true\n{leeway}\
         [namespaces.\"/\"]\nauth = \"required\"\n"
    )
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

fn token(exp: Value) -> String {
    encode(
        &Header::default(),
        &json!({ "sub": "7", "exp": exp }),
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .expect("sign")
}

fn sockets(gw: &TestGateway) -> usize {
    gw.namespaces
        .get("/")
        .map_or(0, |ns| ns.matching(&Targets::default()).len())
}

const EXPIRED: &str = r#"42["error",{"code":"TOKEN_EXPIRED","message":"Unauthorized: Token expired"}]"#;

/// Connects a polling client with `token`; returns its sid.
async fn connect(gw: &TestGateway, token: &str) -> String {
    let sid = gw.open_polling().await;
    let connect = format!("40{}", json!({ "token": token }));
    assert_eq!(gw.post(&sid, &connect).await.0, StatusCode::OK);
    let (_, body) = gw.poll(&sid).await;
    assert!(body.starts_with("40{\"sid\""), "connected: {body}");
    sid
}

#[tokio::test(start_paused = true)]
async fn with_the_default_leeway_the_socket_leaves_30_s_after_exp() {
    let gw = TestGateway::new(&config(None)).await;
    // The verifier accepts this token until exp + 30 s; the socket stays as long.
    let exp = now().floor() + 2.0;
    let sid = connect(&gw, &token(json!(exp as u64))).await;
    let wait = exp + 30.0 - now();
    tokio::time::sleep(Duration::from_secs_f64(wait - 1.0)).await;
    assert_eq!(sockets(&gw), 1, "still inside exp + leeway");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(sockets(&gw), 0, "gone after exp + leeway");
    assert_eq!(gw.poll(&sid).await.1, format!("{EXPIRED}\u{1e}41"));
}

#[tokio::test(start_paused = true)]
async fn a_fractional_exp_expires_too() {
    let gw = TestGateway::new(&config(Some(0))).await;
    let exp = now() + 5.5;
    let sid = connect(&gw, &token(json!(exp))).await;
    tokio::time::sleep(Duration::from_secs_f64(exp - now() - 1.0)).await;
    assert_eq!(sockets(&gw), 1);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(sockets(&gw), 0, "a float exp never disconnected");
    assert_eq!(gw.poll(&sid).await.1, format!("{EXPIRED}\u{1e}41"));
}

#[tokio::test]
async fn a_native_socket_is_told_and_closed_at_exp() {
    // Real time: the client is a real socket. `exp` is whole seconds, so 1–2 s away.
    let gw = TestGateway::new(&config(Some(0))).await;
    let addr = gw.listen().await;
    let exp = now().floor() + 2.0;
    let started = now();
    let mut ws = RawWs::connect(addr, &format!("/ws?token={}", token(json!(exp as u64)))).await;
    assert_eq!(
        ws.recv().await,
        Some(Received::Text(
            r#"{"event":"error","data":{"code":"TOKEN_EXPIRED","message":"Unauthorized: Token expired"}}"#
                .to_owned()
        ))
    );
    let at = now();
    assert!(at >= exp, "told {:.3} s before exp", exp - at);
    assert!(
        at < exp + 1.0,
        "told {:.3} s after exp (connected {:.3} s before it)",
        at - exp,
        exp - started
    );
    assert!(
        matches!(ws.recv().await, Some(Received::Close(..))),
        "then closed"
    );
    assert_eq!(sockets(&gw), 0);
}

#[tokio::test(start_paused = true)]
async fn a_socket_that_leaves_before_exp_keeps_nothing_alive() {
    let gw = TestGateway::new(&config(Some(0))).await;
    let sid = connect(&gw, &token(json!(now() as u64 + 3600))).await;
    let ns = gw.namespaces.get("/").expect("/").clone();
    // Something only this socket holds: gone when the last handle to it goes.
    let state = {
        let socket = ns.matching(&Targets::default()).pop().expect("the socket");
        std::sync::Arc::downgrade(&socket.handler_state(|_| "this socket's state"))
    };
    assert_eq!(gw.post(&sid, "41").await.0, StatusCode::OK, "leave the namespace");
    for _ in 0..10 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(sockets(&gw), 0);
    assert!(
        state.upgrade().is_none(),
        "an hour before exp, the expiry timer still holds the socket that left"
    );
}
