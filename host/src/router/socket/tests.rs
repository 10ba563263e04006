//! A socket's acks, rooms and handler state.

use super::*;
use crate::builtin::echo::Echo;
use crate::outbound::Outbox;
use crate::router::Namespace;

fn socket() -> Socket {
    let (outbox, _rx) = Outbox::new(4);
    Socket::new("/", Arc::new(outbox), Framing::SocketIo, Handshake::default())
}

/// A namespace and an admitted socket of it whose queue is read by nobody (but
/// stays open).
fn admitted() -> (Arc<Namespace>, Socket, crate::outbound::Receiver) {
    let ns = Namespace::new("/", Arc::new(Echo));
    let (socket, rx) = Socket::admitted_to(&ns);
    (ns, socket, rx)
}

const LONG: Duration = Duration::from_secs(60);

// On a paused clock a wait that is not cut short runs into its 60 s timeout at once
// and reports `Timeout`: only `Disconnected` shows the ack was failed when it should.
#[tokio::test(start_paused = true)]
async fn a_pending_server_ack_fails_at_once_when_the_socket_leaves() {
    let (ns, socket, _rx) = admitted();
    let waiting = tokio::spawn({
        let socket = socket.clone();
        async move { socket.emit_with_ack("ask", Payload::json(vec![]), LONG).await }
    });
    tokio::task::yield_now().await;
    assert_eq!(socket.acks().len(), 1, "the ack is pending");
    ns.remove(&socket, DisconnectReason::TransportClose);
    let result = waiting.await.expect("task");
    assert!(matches!(result, Err(AckError::Disconnected)), "{result:?}");
}

#[tokio::test(start_paused = true)]
async fn a_server_ack_asked_of_a_socket_already_gone_fails_at_once() {
    let (ns, socket, _rx) = admitted();
    // Left its namespace; the connection (other namespaces) is still open.
    ns.remove(&socket, DisconnectReason::ClientNamespaceDisconnect);
    let result = socket.emit_with_ack("ask", Payload::json(vec![]), LONG).await;
    assert!(matches!(result, Err(AckError::Disconnected)), "{result:?}");
    assert!(socket.acks().is_empty(), "nothing left behind");
}

#[tokio::test]
async fn a_socket_that_has_left_joins_no_room() {
    let (ns, socket, _rx) = admitted();
    ns.remove(&socket, DisconnectReason::TransportClose);
    // What a handler still running for it would do: join after the removal.
    ns.join(&socket, &["late".into()]);
    assert!(ns.rooms_of(&socket).is_empty(), "{:?}", ns.rooms_of(&socket));
}

#[test]
fn handler_state_is_made_once_and_shared() {
    let socket = socket();
    let made = std::sync::atomic::AtomicUsize::new(0);
    let init = |s: &Socket| {
        made.fetch_add(1, Ordering::SeqCst);
        s.id().to_string()
    };
    let first = socket.handler_state(init);
    let second = socket.handler_state(init);
    assert!(Arc::ptr_eq(&first, &second));
    assert_eq!(*first, socket.id().to_string());
    assert_eq!(made.load(Ordering::SeqCst), 1);
    // Another type is not confused with the first: it is made fresh each time.
    let other = socket.handler_state(|_| 7u32);
    assert_eq!(*other, 7);
    assert_eq!(*socket.handler_state(init), socket.id().to_string());
}

#[test]
fn a_socket_does_not_keep_its_namespace_alive() {
    // Admitted and never removed: the namespace's adapter holds the socket. Were the
    // socket to hold its namespace, the two would keep each other alive for ever.
    let (ns, socket, _rx) = admitted();
    let weak = Arc::downgrade(&ns);
    drop(ns);
    assert!(weak.upgrade().is_none(), "the namespace outlived its last owner");
    assert!(socket.connected(), "the socket itself is untouched");
}
