//! Joining a namespace: nothing reaches a socket before its handler accepted it, a
//! refused socket handles nothing, and a connection lost while connecting leaves no
//! socket behind.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::body::Body;
use http::{Request, StatusCode};
use portico::protocol::socketio::Payload;
use portico::reason::DisconnectReason;
use portico::router::handler::{BoxFuture, ConnectRefusal, ConnectResult, EventHandler, IncomingEvent};
use portico::router::{Namespace, Namespaces, Socket, Targets};
use serde_json::json;
use tokio::sync::{Notify, Semaphore};

use crate::support::{RawWs, Received, SOON, TestGateway};

/// A handler whose `on_connect` waits until the test lets it answer.
struct Gate {
    refuse: bool,
    entered: Notify,
    release: Semaphore,
    events: AtomicUsize,
    disconnects: AtomicUsize,
}

impl EventHandler for Gate {
    fn on_connect<'a>(&'a self, _: &'a Arc<Namespace>, _: &'a Socket) -> BoxFuture<'a, ConnectResult> {
        Box::pin(async move {
            self.entered.notify_one();
            let _ = self.release.acquire().await.expect("open semaphore");
            if self.refuse {
                Err(ConnectRefusal {
                    message: "not you".to_owned(),
                    code: Some("REFUSED".to_owned()),
                    data: None,
                })
            } else {
                Ok(None)
            }
        })
    }

    fn on_event<'a>(
        &'a self,
        _: &'a Arc<Namespace>,
        _: &'a Socket,
        event: IncomingEvent,
    ) -> BoxFuture<'a, Option<Payload>> {
        self.events.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move { Some(event.payload) })
    }

    fn on_disconnect<'a>(
        &'a self,
        _: &'a Arc<Namespace>,
        _: &'a Socket,
        _: DisconnectReason,
    ) -> BoxFuture<'a, ()> {
        self.disconnects.fetch_add(1, Ordering::SeqCst);
        Box::pin(async {})
    }
}

fn gated(refuse: bool) -> (TestGateway, Arc<Gate>, Arc<Namespace>) {
    let gate = Arc::new(Gate {
        refuse,
        entered: Notify::new(),
        release: Semaphore::new(0),
        events: AtomicUsize::new(0),
        disconnects: AtomicUsize::new(0),
    });
    let ns = Namespace::new("/", gate.clone());
    let gw = TestGateway::with_namespaces(Namespaces::new([ns.clone()]));
    (gw, gate, ns)
}

/// POSTs `40` for `sid` in the background; returns once the handler is deciding.
async fn connecting(gw: &TestGateway, gate: &Gate, sid: &str) -> tokio::task::JoinHandle<StatusCode> {
    let req = Request::post(format!("/socket.io/?EIO=4&transport=polling&sid={sid}"))
        .body(Body::from("40"))
        .expect("request");
    let router = gw.router.clone();
    let post = tokio::spawn(async move {
        tower::ServiceExt::oneshot(router, req)
            .await
            .expect("infallible")
            .status()
    });
    tokio::time::timeout(SOON, gate.entered.notified())
        .await
        .expect("on_connect called");
    post
}

fn broadcast(ns: &Namespace, event: &str) {
    ns.emit(
        &Targets::default(),
        event,
        Payload::json(vec![json!("to everyone")]),
    );
}

#[tokio::test]
async fn a_broadcast_while_the_guard_decides_never_reaches_the_socket_it_refuses() {
    let (gw, gate, ns) = gated(true);
    let sid = gw.open_polling().await;
    let post = connecting(&gw, &gate, &sid).await;
    broadcast(&ns, "news");
    gate.release.add_permits(1);
    assert_eq!(post.await.expect("task"), StatusCode::OK);
    assert_eq!(
        gw.poll(&sid).await,
        (
            StatusCode::OK,
            r#"44{"code":"REFUSED","message":"not you"}"#.to_owned()
        ),
        "the refusal and nothing else"
    );
    assert!(
        ns.matching(&Targets::default()).is_empty(),
        "no socket left in the namespace"
    );
    broadcast(&ns, "later");
    assert_eq!(gw.post(&sid, "1").await.0, StatusCode::OK);
    assert_eq!(
        gw.poll(&sid).await.1,
        "6",
        "nothing queued for the refused socket after either"
    );
    assert_eq!(
        gate.disconnects.load(Ordering::SeqCst),
        0,
        "a refused socket is never disconnected"
    );
}

#[tokio::test]
async fn an_accepted_socket_hears_nothing_before_its_connect_reply() {
    let (gw, gate, ns) = gated(false);
    let sid = gw.open_polling().await;
    let post = connecting(&gw, &gate, &sid).await;
    broadcast(&ns, "too early");
    gate.release.add_permits(1);
    assert_eq!(post.await.expect("task"), StatusCode::OK);
    let (_, body) = gw.poll(&sid).await;
    assert!(
        body.starts_with("40{\"sid\":") && !body.contains('\u{1e}'),
        "CONNECT alone: {body}"
    );
    broadcast(&ns, "news");
    assert_eq!(gw.poll(&sid).await.1, r#"42["news","to everyone"]"#);
}

#[tokio::test]
async fn a_connection_lost_while_connecting_leaves_no_socket_behind() {
    let (gw, gate, ns) = gated(false);
    let sid = gw.open_polling().await;
    let post = connecting(&gw, &gate, &sid).await;
    gw.engine.close_all(DisconnectReason::TransportClose);
    let deadline = tokio::time::Instant::now() + SOON;
    while gw.engine.session_count() > 0 {
        assert!(tokio::time::Instant::now() < deadline, "the session closes");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    gate.release.add_permits(1);
    let _ = post.await;
    assert!(
        ns.matching(&Targets::default()).is_empty(),
        "the lost socket was admitted"
    );
    assert_eq!(
        gate.disconnects.load(Ordering::SeqCst),
        1,
        "the handler accepted it, so it is told it left"
    );
}

#[tokio::test]
async fn a_refused_native_socket_handles_nothing_it_sent_before_the_close() {
    let (gw, gate, ns) = gated(true);
    let addr = gw.listen().await;
    let mut ws = RawWs::connect(addr, "/ws").await;
    tokio::time::timeout(SOON, gate.entered.notified())
        .await
        .expect("on_connect called");
    // Sent while the guard decides: must never reach the handler.
    ws.text(r#"{"event":"x","data":1}"#).await;
    ws.text(r#"{"event":"x","data":2}"#).await;
    broadcast(&ns, "news");
    tokio::time::sleep(Duration::from_millis(20)).await;
    gate.release.add_permits(1);
    assert_eq!(
        ws.recv().await,
        Some(Received::Text(
            r#"{"event":"error","data":{"code":"REFUSED","message":"not you"}}"#.to_owned()
        ))
    );
    match ws.recv().await {
        Some(Received::Close(code, _)) => assert_eq!(code, 1000),
        other => panic!("expected the close frame, got {other:?}"),
    }
    assert_eq!(ws.recv().await, None);
    assert_eq!(
        gate.events.load(Ordering::SeqCst),
        0,
        "a refused socket handled an event"
    );
    assert!(ns.matching(&Targets::default()).is_empty());
}
