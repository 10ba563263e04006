//! Engine.IO sessions: polling, the upgrade to WebSocket, and their races.

use std::time::Duration;

use axum::body::Body;
use http::{Request, StatusCode};

use crate::support::{RawWs, Received, SOON, TestGateway};

const ECHO: &str = "[engineio]\nupgrade_timeout_ms = 300\n[limits]\noutbound_queue = 16\n";

/// The polling payload separator.
const SEP: char = '\u{1e}';

async fn wait_until(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + SOON;
    while !check() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Opens a WebSocket for polling session `sid` and completes `2probe` → `3probe`.
async fn probe(gw: &TestGateway, sid: &str) -> RawWs {
    let addr = gw.listen().await;
    let mut ws = RawWs::connect(addr, &format!("/socket.io/?EIO=4&transport=websocket&sid={sid}")).await;
    ws.text("2probe").await;
    assert_eq!(ws.recv_text().await, "3probe");
    ws
}

#[tokio::test]
async fn overlapping_posts_are_refused_and_close_the_session() {
    let gw = TestGateway::new(ECHO).await;
    let sid = gw.socketio_polling().await;
    // A POST whose body never ends holds the session's POST slot.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(1);
    let stream = tokio_stream_from(rx);
    let slow = Request::post(format!("/socket.io/?EIO=4&transport=polling&sid={sid}"))
        .body(Body::from_stream(stream))
        .expect("request");
    let router = gw.router.clone();
    let first = tokio::spawn(async move { tower::ServiceExt::oneshot(router, slow).await });
    tx.send(Ok(b"42[\"x\"".to_vec())).await.expect("first chunk sent");
    tokio::time::sleep(Duration::from_millis(50)).await;
    let (status, body) = gw.post(&sid, "42[\"y\"]").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body, r#"{"code":3,"message":"Bad request"}"#);
    // As Node's engine.io does, the overlap ends the session.
    wait_until("the session is gone", || gw.engine.session_count() == 0).await;
    drop(tx);
    let _ = first.await;
    let (status, _) = gw.poll(&sid).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "an unknown sid after the close");
}

#[tokio::test]
async fn two_concurrent_gets_are_refused_and_close_the_session() {
    let gw = TestGateway::new(ECHO).await;
    let sid = gw.socketio_polling().await;
    let pending = gw.spawn_poll(&sid);
    // Lets the spawned GET run until it waits (see `spawn_poll`).
    tokio::time::sleep(Duration::from_millis(50)).await;
    let (status, _) = gw.poll(&sid).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // The pending GET is answered with the close packet.
    assert_eq!(pending.await.expect("task"), (StatusCode::OK, "1".to_owned()));
    wait_until("the session is gone", || gw.engine.session_count() == 0).await;
}

#[tokio::test]
async fn a_burst_up_to_the_queue_arrives_whole_and_in_order_in_one_get() {
    let gw = TestGateway::new(ECHO).await;
    let sid = gw.socketio_polling().await;
    // Sixteen events without ack: the echo emits each one back.
    let burst: Vec<String> = (0..16).map(|i| format!("42[\"x\",{i}]")).collect();
    assert_eq!(
        gw.post(&sid, &burst.join(&SEP.to_string())).await.0,
        StatusCode::OK
    );
    let (status, body) = gw.poll(&sid).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body.split(SEP).collect::<Vec<_>>(), burst);
}

#[tokio::test]
async fn a_burst_past_the_queue_between_two_gets_disconnects_as_a_slow_consumer() {
    // `limits.outbound_queue` bounds what waits for a polling client between two GETs,
    // as it bounds what waits for a WebSocket writer: past it the client is dropped,
    // never silently short of messages.
    let gw = TestGateway::new(ECHO).await;
    let sid = gw.socketio_polling().await;
    let burst: Vec<String> = (0..17).map(|i| format!("42[\"x\",{i}]")).collect();
    gw.post(&sid, &burst.join(&SEP.to_string())).await;
    wait_until("the session is gone", || gw.engine.session_count() == 0).await;
    let (status, body) = gw.poll(&sid).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

#[tokio::test]
async fn messages_queued_between_2probe_and_5_arrive_once_over_the_websocket() {
    let gw = TestGateway::new(ECHO).await;
    let sid = gw.socketio_polling().await;
    let mut ws = probe(&gw, &sid).await;
    // Still on polling: the POST is served, its echoes are queued.
    assert_eq!(
        gw.post(&sid, &format!("42[\"x\",1]{SEP}42[\"x\",2]")).await.0,
        StatusCode::OK
    );
    // A poll now answers noop at once and leaves the queue for the WebSocket.
    assert_eq!(gw.poll(&sid).await, (StatusCode::OK, "6".to_owned()));
    ws.text("5").await;
    assert_eq!(ws.recv_text().await, "42[\"x\",1]");
    assert_eq!(ws.recv_text().await, "42[\"x\",2]");
    ws.text("42[\"x\",3]").await;
    assert_eq!(
        ws.recv_text().await,
        "42[\"x\",3]",
        "nothing twice, nothing between"
    );
    // Polling is over for this session.
    assert_eq!(
        gw.post(&sid, "42[\"x\",4]").await.0,
        StatusCode::BAD_REQUEST,
        "a POST after the upgrade"
    );
    assert_eq!(
        gw.poll(&sid).await.0,
        StatusCode::BAD_REQUEST,
        "a GET after the upgrade"
    );
    ws.text("42[\"x\",5]").await;
    assert_eq!(
        ws.recv_text().await,
        "42[\"x\",5]",
        "the refused POST left the session working"
    );
}

#[tokio::test]
async fn a_pending_poll_answers_noop_on_3probe_and_lets_go_on_5() {
    let gw = TestGateway::new(ECHO).await;
    let sid = gw.socketio_polling().await;
    let pending = gw.spawn_poll(&sid);
    // Lets the spawned GET run until it waits (see `spawn_poll`).
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!pending.is_finished(), "the poll waits for something to send");
    let mut ws = probe(&gw, &sid).await;
    let answered = tokio::time::timeout(SOON, pending).await.expect("answered");
    assert_eq!(answered.expect("task"), (StatusCode::OK, "6".to_owned()));
    ws.text("5").await;
    ws.text("42[\"x\",\"ws\"]").await;
    assert_eq!(ws.recv_text().await, "42[\"x\",\"ws\"]");
}

#[tokio::test]
async fn a_probe_that_never_sends_5_leaves_the_session_on_polling() {
    let gw = TestGateway::new(ECHO).await;
    let sid = gw.socketio_polling().await;
    let mut ws = probe(&gw, &sid).await;
    // No `5`: past `upgrade_timeout_ms` the server closes only the probe socket.
    match ws.recv().await {
        Some(Received::Close(1000, reason)) => assert_eq!(reason, "upgrade not completed"),
        other => panic!("expected the probe socket closed, got {other:?}"),
    }
    assert_eq!(
        gw.post(&sid, "42[\"x\",\"still polling\"]").await.0,
        StatusCode::OK
    );
    // The answered probe must leave nothing behind that makes this poll say `6`.
    assert_eq!(
        gw.poll(&sid).await,
        (StatusCode::OK, "42[\"x\",\"still polling\"]".to_owned())
    );
    assert_eq!(gw.engine.session_count(), 1);
    // And a new probe can run.
    let mut ws = probe(&gw, &sid).await;
    ws.text("5").await;
    ws.text("42[\"x\",\"upgraded\"]").await;
    assert_eq!(ws.recv_text().await, "42[\"x\",\"upgraded\"]");
}

#[tokio::test]
async fn a_second_websocket_is_accepted_then_closed_and_the_session_goes_on() {
    // Node's engine.io accepts the upgrade at the HTTP level and closes the socket, both
    // while a probe runs and after the upgrade; the official suite checks the latter.
    let gw = TestGateway::new(ECHO).await;
    let sid = gw.socketio_polling().await;
    let addr = gw.listen().await;
    let url = format!("/socket.io/?EIO=4&transport=websocket&sid={sid}");
    let mut first = probe(&gw, &sid).await;
    let mut during = RawWs::connect(addr, &url).await;
    assert_eq!(during.recv().await, Some(Received::Close(1005, String::new())));
    assert_eq!(during.recv().await, None, "then the connection ends");
    first.text("5").await;
    first.text("42[\"x\",1]").await;
    assert_eq!(first.recv_text().await, "42[\"x\",1]");
    let mut after = RawWs::connect(addr, &url).await;
    after.text("2probe").await;
    assert_eq!(
        after.recv().await,
        Some(Received::Close(1005, String::new())),
        "no 3probe"
    );
    first.text("42[\"x\",2]").await;
    assert_eq!(first.recv_text().await, "42[\"x\",2]");
}

/// A body stream from a channel of chunks.
fn tokio_stream_from(
    mut rx: tokio::sync::mpsc::Receiver<Result<Vec<u8>, std::io::Error>>,
) -> impl futures_util::Stream<Item = Result<Vec<u8>, std::io::Error>> + Send + 'static {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}
