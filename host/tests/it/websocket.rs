//! The hand-written WebSocket reader, through a real Engine.IO WebSocket session:
//! fragmented messages, control frames between fragments, `max_payload` across
//! fragments, and the framing errors that end one connection and no other.

use portico::protocol::wsframe::OpCode;

use crate::support::{RawWs, Received, TestGateway};

/// Small enough to cross with a few fragments.
const CONFIG: &str = "[engineio]\nmax_payload = 100\n";

/// A WebSocket session connected to Socket.IO namespace `/` (the echo).
async fn session(gw: &TestGateway) -> RawWs {
    let addr = gw.listen().await;
    let mut ws = RawWs::connect(addr, "/socket.io/?EIO=4&transport=websocket").await;
    assert!(ws.recv_text().await.starts_with("0{"), "the open packet");
    ws.text("40").await;
    assert!(ws.recv_text().await.starts_with("40{\"sid\""));
    ws
}

async fn assert_closed_for(ws: &mut RawWs, code: u16, reason: &str) {
    assert_eq!(ws.recv().await, Some(Received::Close(code, reason.to_owned())));
    assert_eq!(ws.recv().await, None, "then the connection ends");
}

#[tokio::test]
async fn a_fragmented_message_is_reassembled_around_a_ping() {
    let gw = TestGateway::new(CONFIG).await;
    let mut ws = session(&gw).await;
    ws.frame(OpCode::Text, false, b"42[\"x\",").await;
    ws.frame(OpCode::Ping, true, b"hi").await;
    ws.frame(OpCode::Continuation, false, b"\"a").await;
    ws.frame(OpCode::Continuation, true, b"b\"]").await;
    assert_eq!(
        ws.recv().await,
        Some(Received::Control(0xA)),
        "the ping answered mid-message"
    );
    assert_eq!(ws.recv_text().await, "42[\"x\",\"ab\"]");
    // Binary fragments make one attachment.
    ws.text("451-[\"x\",{\"_placeholder\":true,\"num\":0}]").await;
    ws.frame(OpCode::Binary, false, &[1, 2]).await;
    ws.frame(OpCode::Continuation, true, &[3]).await;
    assert_eq!(
        ws.recv_text().await,
        "451-[\"x\",{\"_placeholder\":true,\"num\":0}]"
    );
    assert_eq!(ws.recv().await, Some(Received::Binary(vec![1, 2, 3])));
}

#[tokio::test]
async fn max_payload_counts_every_fragment_of_a_message() {
    let gw = TestGateway::new(CONFIG).await;
    let mut ok = session(&gw).await;
    // Exactly at the limit across two fragments: served.
    let text = format!("42[\"x\",\"{}\"]", "a".repeat(100 - 10));
    assert_eq!(text.len(), 100);
    ok.frame(OpCode::Text, false, &text.as_bytes()[..50]).await;
    ok.frame(OpCode::Continuation, true, &text.as_bytes()[50..]).await;
    assert_eq!(ok.recv_text().await, text);
    // One byte more, each fragment well under it: refused, this connection only.
    let mut over = session(&gw).await;
    let text = format!("42[\"x\",\"{}\"]", "a".repeat(101 - 10));
    over.frame(OpCode::Text, false, &text.as_bytes()[..50]).await;
    over.frame(OpCode::Continuation, false, &text.as_bytes()[50..100])
        .await;
    over.frame(OpCode::Continuation, true, &text.as_bytes()[100..])
        .await;
    assert_closed_for(&mut over, 1009, "transport error").await;
    ok.text("42[\"x\",\"still here\"]").await;
    assert_eq!(ok.recv_text().await, "42[\"x\",\"still here\"]");
}

#[tokio::test]
async fn a_single_frame_over_max_payload_is_refused_before_it_is_read() {
    let gw = TestGateway::new(CONFIG).await;
    let mut ws = session(&gw).await;
    // The header announces 101 bytes; the server must not wait for them.
    ws.frame(OpCode::Text, true, &[b'4'; 101][..]).await;
    assert_closed_for(&mut ws, 1009, "transport error").await;
}

#[tokio::test]
async fn fragments_out_of_order_end_the_connection() {
    let gw = TestGateway::new(CONFIG).await;
    let mut lone = session(&gw).await;
    lone.frame(OpCode::Continuation, true, b"42[]").await;
    assert_closed_for(&mut lone, 1009, "transport error").await;
    let mut nested = session(&gw).await;
    nested.frame(OpCode::Text, false, b"42[").await;
    nested.frame(OpCode::Text, true, b"\"x\"]").await;
    assert_closed_for(&mut nested, 1009, "transport error").await;
    let mut control = session(&gw).await;
    control.frame(OpCode::Ping, false, b"").await;
    assert_closed_for(&mut control, 1009, "transport error").await;
}

#[tokio::test]
async fn invalid_utf8_text_ends_the_connection() {
    let gw = TestGateway::new(CONFIG).await;
    let mut ws = session(&gw).await;
    ws.frame(OpCode::Text, false, b"42[\"\xe2\x82").await;
    ws.frame(OpCode::Continuation, true, b"\"]").await;
    assert_closed_for(&mut ws, 1009, "transport error").await;
}
