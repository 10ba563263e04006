//! The journal's offsets, replay, windows and caps, and a namespace resuming a socket
//! through it.

use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::json;

use super::*;
use crate::builtin::echo::Echo;
use crate::outbound::{Outbox, Receiver};
use crate::protocol::engineio::Frame;
use crate::protocol::socketio::Payload;
use crate::router::adapter::LocalAdapter;
use crate::router::handler::{BoxFuture, EventHandler, IncomingEvent};
use crate::router::namespace::NamespaceOptions;
use crate::router::presence::LocalPresence;
use crate::router::{Connected, Handshake, Namespace, Room, Socket};

fn settings() -> RecoverySettings {
    RecoverySettings {
        max_disconnection: Duration::from_secs(120),
        max_bytes: 1 << 20,
        max_sessions: 100,
        skip_middlewares: true,
    }
}

fn socket() -> (Socket, Receiver) {
    let (outbox, rx) = Outbox::new(64);
    let socket = Socket::new("/", Arc::new(outbox), Framing::SocketIo, Handshake::default());
    (socket, rx)
}

fn session(socket: &Socket, pid: &str, rooms: &[&str]) -> Session {
    Session {
        socket: socket.clone(),
        pid: pid.into(),
        rooms: rooms.iter().map(|r| Room::from(*r)).collect(),
        reason: DisconnectReason::TransportClose,
        since: 0,
    }
}

/// Records event `n` to `targets` and returns its offset.
fn record(journal: &Journal, targets: Targets, n: u64) -> String {
    let event = OutgoingEvent::new("/", "n", Payload::json(vec![json!(n)]));
    journal.record(&targets, &event, || ());
    event.offset().expect("stamped").to_owned()
}

/// The Engine.IO texts of queue items (`42[...]` an event, `40{...}` a CONNECT).
fn texts(items: &[Outbound]) -> Vec<String> {
    let mut out = Vec::new();
    for item in items {
        for frame in item.frames() {
            if let Frame::Text(b) = frame {
                out.push(String::from_utf8_lossy(&b).into_owned());
            }
        }
    }
    out
}

fn missed(journal: &Journal, claim: &Claim) -> Option<Vec<String>> {
    let mut seen = None;
    journal.resume(claim, |missed| {
        seen = Some(texts(&missed));
        false
    })?;
    seen
}

#[test]
fn offsets_grow_and_a_claim_replays_what_its_rooms_missed_in_order() {
    let journal = Journal::new(settings());
    let (s, _rx) = socket();
    let first = record(&journal, Targets::default().to("red"), 0);
    let second = record(&journal, Targets::default().to("red"), 1);
    assert_ne!(first, second);
    journal.persist(session(&s, "p", &["red", s.id()]));
    record(&journal, Targets::default().to("red"), 2);
    record(&journal, Targets::default().to("blue"), 3);
    record(&journal, Targets::default(), 4);
    record(&journal, Targets::default().except("red"), 5);
    record(&journal, Targets::default().to(s.id().clone()), 6);
    record(&journal, Targets::default().to("red").except(s.id().clone()), 7);
    let claim = journal.claim("p", Some(&first), |_| true).expect("claimed");
    let texts = missed(&journal, &claim).expect("all kept");
    let n = |t: &str| {
        t.rsplit_once(',')
            .map(|(head, _)| head.to_owned())
            .unwrap_or_default()
    };
    assert_eq!(
        texts.iter().map(|t| n(t)).collect::<Vec<_>>(),
        [r#"42["n",1"#, r#"42["n",2"#, r#"42["n",4"#, r#"42["n",6"#],
        "after the offset, to its rooms, minus its exceptions: {texts:?}"
    );
    assert!(texts[0].ends_with(&format!(r#","{second}"]"#)), "{texts:?}");
    assert!(
        journal.claim("p", Some(&first), |_| true).is_none(),
        "a session is claimed once"
    );
}

#[test]
fn an_unknown_or_foreign_offset_claims_nothing_and_the_session_stays() {
    let journal = Journal::new(settings());
    let other = Journal::new(settings());
    let (s, _rx) = socket();
    let mine = record(&journal, Targets::default(), 0);
    let foreign = record(&other, Targets::default(), 0);
    journal.persist(session(&s, "p", &[]));
    for offset in [foreign.as_str(), "", "x", "abc-def", &format!("{mine}9")] {
        assert!(journal.claim("p", Some(offset), |_| true).is_none(), "{offset:?}");
    }
    assert!(journal.claim("nobody", Some(&mine), |_| true).is_none());
    assert!(
        journal.claim("p", Some(&mine), |_| true).is_some(),
        "still kept for a good offset"
    );
}

#[test]
fn a_client_that_received_nothing_replays_from_its_admission() {
    let journal = Journal::new(RecoverySettings {
        max_bytes: 2_000,
        ..settings()
    });
    let (s, _rx) = socket();
    record(&journal, Targets::default(), 0);
    let since = journal.next_seq();
    journal.persist(Session {
        since,
        ..session(&s, "p", &[])
    });
    record(&journal, Targets::default(), 1);
    record(&journal, Targets::default(), 2);
    let claim = journal
        .claim("p", None, |_| true)
        .expect("claimed without an offset");
    let texts = missed(&journal, &claim).expect("all kept");
    assert_eq!(
        texts.iter().map(|t| shape(t)).collect::<Vec<_>>(),
        ["n 1", "n 2"],
        "not packet 0"
    );
    // Nothing sent since: an empty replay, still a recovery.
    journal.persist(Session {
        since: journal.next_seq(),
        ..session(&s, "q", &[])
    });
    let claim = journal.claim("q", None, |_| true).expect("claimed");
    assert_eq!(missed(&journal, &claim), Some(vec![]));
    // Once packets after its admission are trimmed away, a new session.
    journal.persist(Session {
        since: journal.next_seq(),
        ..session(&s, "r", &[])
    });
    for n in 3..200 {
        record(&journal, Targets::default(), n);
    }
    assert!(journal.claim("r", None, |_| true).is_none());
}

#[test]
fn an_epoch_with_a_dash_in_it_still_parses() {
    let mut journal = Journal::new(settings());
    journal.epoch = "a-b-c-d-".to_owned();
    let (s, _rx) = socket();
    let offset = record(&journal, Targets::default(), 0);
    assert_eq!(offset, "a-b-c-d--0");
    journal.persist(session(&s, "p", &[]));
    assert!(journal.claim("p", Some(&offset), |_| true).is_some());
}

#[test]
fn packets_past_max_bytes_go_first_and_a_claim_behind_them_fails() {
    let journal = Journal::new(RecoverySettings {
        max_bytes: 4_000,
        ..settings()
    });
    let (s, _rx) = socket();
    let old = record(&journal, Targets::default(), 0);
    journal.persist(session(&s, "p", &[]));
    for n in 1..200 {
        record(&journal, Targets::default(), n);
    }
    let (packets, bytes, _) = journal.len();
    assert!(
        bytes <= 4_000 && packets < 200,
        "{packets} packets, {bytes} bytes"
    );
    assert!(
        journal.claim("p", Some(&old), |_| true).is_none(),
        "its replay would have a hole"
    );
}

#[test]
fn a_session_past_its_window_is_not_claimed_and_expires_once() {
    let journal = Journal::new(RecoverySettings {
        max_disconnection: Duration::from_millis(30),
        ..settings()
    });
    let (s, _rx) = socket();
    journal.persist(session(&s, "early", &[]));
    std::thread::sleep(Duration::from_millis(40));
    let kept = journal.persist(session(&s, "late", &[]));
    let offset = record(&journal, Targets::default(), 0);
    assert!(
        journal.claim("early", Some(&offset), |_| true).is_none(),
        "past its window"
    );
    assert!(
        journal
            .expire("late", kept.left + Duration::from_millis(1))
            .is_none(),
        "another leave"
    );
    assert!(journal.expire("late", kept.left).is_some());
    assert!(journal.expire("late", kept.left).is_none(), "once");
}

#[test]
fn the_session_cap_pushes_the_oldest_out_and_ends_its_wait() {
    let journal = Journal::new(RecoverySettings {
        max_sessions: 2,
        ..settings()
    });
    let (s, _rx) = socket();
    let first = journal.persist(session(&s, "a", &[]));
    journal.persist(session(&s, "b", &[]));
    assert!(!first.ended.is_cancelled());
    let third = journal.persist(session(&s, "c", &[]));
    assert_eq!(third.evicted.len(), 1);
    assert_eq!(&*third.evicted[0].pid, "a");
    assert!(first.ended.is_cancelled(), "its waiting task is told");
    assert_eq!(journal.len().2, 2);
    // Claims and re-persists leave stale order entries; they never grow without bound.
    let offset = record(&journal, Targets::default(), 0);
    for _ in 0..1_000 {
        let claim = journal.claim("b", Some(&offset), |_| true).expect("b is kept");
        let Claimed::Here(session) = claim.into_claimed() else {
            panic!("kept here")
        };
        journal.persist(session);
    }
    assert!(journal.lock().order.len() < 200, "{}", journal.lock().order.len());
}

#[test]
fn only_reasons_a_reconnect_mends_keep_a_session() {
    let journal = Journal::new(settings());
    for reason in [
        DisconnectReason::TransportClose,
        DisconnectReason::TransportError,
        DisconnectReason::PingTimeout,
    ] {
        assert!(journal.keeps(reason), "{reason}");
    }
    for reason in [
        DisconnectReason::ClientNamespaceDisconnect,
        DisconnectReason::ServerNamespaceDisconnect,
        DisconnectReason::SlowConsumer,
        DisconnectReason::ServerShutdown,
    ] {
        assert!(!journal.keeps(reason), "{reason}");
    }
}

/// Echo, counting the connects and disconnects it hears.
#[derive(Default)]
struct Counting {
    connects: AtomicUsize,
    disconnects: AtomicUsize,
}

impl EventHandler for Counting {
    fn on_connect<'a>(
        &'a self,
        _: &'a Arc<Namespace>,
        _: &'a Socket,
    ) -> BoxFuture<'a, crate::router::handler::ConnectResult> {
        self.connects.fetch_add(1, Ordering::SeqCst);
        Box::pin(async { Ok(None) })
    }

    fn on_event<'a>(
        &'a self,
        ns: &'a Arc<Namespace>,
        socket: &'a Socket,
        event: IncomingEvent,
    ) -> BoxFuture<'a, Option<Payload>> {
        Echo.on_event(ns, socket, event)
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

fn recovering(handler: Arc<Counting>, settings: RecoverySettings) -> Arc<Namespace> {
    let journal = Arc::new(Journal::new(settings));
    Namespace::with_adapter(
        "/",
        handler,
        NamespaceOptions::default(),
        Box::new(LocalAdapter::with_journal(Some(journal))),
        Box::new(LocalPresence::default()),
    )
}

/// A socket connected to `ns` that has received one event: its receiver, its pid and
/// the offset it last saw.
async fn connected_with_an_offset(ns: &Arc<Namespace>) -> (Socket, Receiver, Arc<str>, String) {
    let (socket, mut rx) = socket();
    assert_eq!(ns.connect(&socket).await, Connected::Accepted);
    let pid = socket.pid().expect("recoverable").clone();
    socket.emit("m", Payload::json(vec![json!(0)])).expect("queued");
    let offset = last_offset(&drain(&mut rx));
    (socket, rx, pid, offset)
}

/// The socket `claim` resumes as, accepted, and its receiver.
async fn resumed(ns: &Arc<Namespace>, claim: Claim) -> (Socket, Receiver) {
    let (outbox, rx) = Outbox::new(64);
    let socket = Socket::with_id(
        claim.sid().clone(),
        "/",
        Arc::new(outbox),
        Framing::SocketIo,
        Handshake::default(),
    );
    assert_eq!(ns.resume(&socket, claim).await, Connected::Accepted);
    (socket, rx)
}

fn drain(rx: &mut Receiver) -> Vec<String> {
    let mut items = Vec::new();
    while let Some(item) = rx.try_recv() {
        items.push(item);
    }
    texts(&items)
}

/// A CONNECT reply's body.
fn connect_reply(text: &str) -> serde_json::Value {
    serde_json::from_str(text.strip_prefix("40").expect("a CONNECT")).expect("json")
}

/// An event's name and first argument, or `connect`.
fn shape(text: &str) -> String {
    match text.strip_prefix("42") {
        Some(args) => {
            let args: Vec<serde_json::Value> = serde_json::from_str(args).expect("json");
            format!("{} {}", args[0].as_str().unwrap_or_default(), args[1])
        }
        None if text.starts_with("40") => "connect".to_owned(),
        None => text.to_owned(),
    }
}

/// The offset a client takes from the last event it received: its last argument.
fn last_offset(texts: &[String]) -> String {
    let last = texts
        .iter()
        .rev()
        .find(|t| t.starts_with("42"))
        .expect("an event");
    let args: Vec<serde_json::Value> = serde_json::from_str(&last[2..]).expect("json");
    args.last()
        .and_then(|v| v.as_str())
        .expect("an offset")
        .to_owned()
}

#[tokio::test]
async fn a_socket_resumes_with_its_id_rooms_and_every_packet_it_missed() {
    let handler = Arc::new(Counting::default());
    let ns = recovering(handler.clone(), settings());
    let (old, mut rx) = socket();
    assert_eq!(ns.connect(&old).await, Connected::Accepted);
    ns.join(&old, &["red".into()]);
    let pid = old.pid().expect("recoverable").clone();
    let hello = drain(&mut rx);
    assert_eq!(hello.len(), 1);
    assert_eq!(
        connect_reply(&hello[0]),
        json!({"sid": &**old.id(), "pid": &*pid})
    );
    ns.emit(&Targets::default().to("red"), "m", Payload::json(vec![json!(0)]));
    let offset = last_offset(&drain(&mut rx));

    ns.remove(&old, DisconnectReason::TransportClose);
    ns.emit(&Targets::default().to("red"), "m", Payload::json(vec![json!(1)]));
    ns.emit(&Targets::default().to("blue"), "m", Payload::json(vec![json!(2)]));
    old.emit("own", Payload::json(vec![json!(3)]))
        .expect("queued, to nobody");
    ns.emit(&Targets::default(), "m", Payload::json(vec![json!(4)]));
    tokio::task::yield_now().await;
    assert_eq!(
        handler.disconnects.load(Ordering::SeqCst),
        0,
        "not yet gone for good"
    );

    let claim = ns.claim(&pid, Some(&offset), |_| true).await.expect("claimed");
    let (new, mut rx) = resumed(&ns, claim).await;
    assert!(new.recovered());
    assert_eq!(new.pid(), Some(&pid));
    let replay = drain(&mut rx);
    assert_eq!(
        replay.iter().map(|t| shape(t)).collect::<Vec<_>>(),
        ["m 1", "own 3", "m 4", "connect"],
        "missed packets, then CONNECT: {replay:?}"
    );
    assert_eq!(
        connect_reply(&replay[3]),
        json!({"sid": &**new.id(), "pid": &*pid})
    );
    let mut rooms = ns.rooms_of(&new);
    rooms.sort();
    let mut expected = vec![Room::from("red"), new.id().clone()];
    expected.sort();
    assert_eq!(rooms, expected);
    ns.emit(&Targets::default().to("red"), "m", Payload::json(vec![json!(5)]));
    assert_eq!(
        drain(&mut rx).iter().map(|t| shape(t)).collect::<Vec<_>>(),
        ["m 5"],
        "live again"
    );
    assert_eq!(
        handler.connects.load(Ordering::SeqCst),
        1,
        "one on_connect for the socket's life"
    );
    assert_eq!(handler.disconnects.load(Ordering::SeqCst), 0);

    ns.remove(&new, DisconnectReason::ClientNamespaceDisconnect);
    ns.wait_tasks().await;
    assert_eq!(
        handler.disconnects.load(Ordering::SeqCst),
        1,
        "gone for good: heard once"
    );
}

#[tokio::test]
async fn a_client_back_before_its_old_connection_closed_takes_its_session_over() {
    let handler = Arc::new(Counting::default());
    let ns = recovering(handler.clone(), settings());
    let (old, _rx, pid, offset) = connected_with_an_offset(&ns).await;
    // Its connection looks alive to the server: no remove yet.
    let claim = ns
        .claim(&pid, Some(&offset), |_| true)
        .await
        .expect("claimed from the live socket");
    assert!(!old.connected(), "the old socket is gone");
    assert!(ns.socket(old.id()).is_none());
    assert_eq!(claim.sid(), old.id());
    assert_eq!(
        handler.disconnects.load(Ordering::SeqCst),
        0,
        "the same socket lives on"
    );
}

#[test]
fn a_claim_by_someone_else_leaves_the_session_kept() {
    let journal = Journal::new(settings());
    let (s, _rx) = socket();
    let offset = record(&journal, Targets::default(), 0);
    journal.persist(session(&s, "p", &[s.id()]));
    assert!(journal.claim("p", Some(&offset), |_| false).is_none());
    assert!(
        journal.claim("p", Some(&offset), |_| true).is_some(),
        "still there for its owner"
    );
}

#[tokio::test]
async fn a_client_that_does_not_own_a_live_session_cannot_close_it() {
    let handler = Arc::new(Counting::default());
    let ns = recovering(handler.clone(), settings());
    let (old, mut rx, pid, offset) = connected_with_an_offset(&ns).await;
    // Its user is none: a client that must be someone owns nothing of it.
    assert!(
        ns.claim(&pid, Some(&offset), |user| user.is_some())
            .await
            .is_none(),
        "a leaked pid claims nothing"
    );
    assert!(old.connected(), "and closes nothing");
    assert!(ns.socket(old.id()).is_some());
    old.emit("m", Payload::json(vec![json!(1)])).expect("queued");
    assert_eq!(drain(&mut rx).len(), 1, "still served");
}

#[tokio::test(start_paused = true)]
async fn an_unclaimed_session_is_heard_gone_after_its_window() {
    let handler = Arc::new(Counting::default());
    let ns = recovering(
        handler.clone(),
        RecoverySettings {
            max_disconnection: Duration::from_secs(5),
            ..settings()
        },
    );
    let (old, _rx) = socket();
    assert_eq!(ns.connect(&old).await, Connected::Accepted);
    ns.remove(&old, DisconnectReason::PingTimeout);
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(handler.disconnects.load(Ordering::SeqCst), 0);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(handler.disconnects.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn shutdown_ends_every_wait_and_each_session_is_heard_gone() {
    let handler = Arc::new(Counting::default());
    let ns = recovering(handler.clone(), settings());
    for _ in 0..3 {
        let (s, _rx) = socket();
        assert_eq!(ns.connect(&s).await, Connected::Accepted);
        ns.remove(&s, DisconnectReason::TransportError);
    }
    // A 120 s window, but shutdown does not wait for it.
    tokio::time::timeout(Duration::from_secs(5), ns.wait_tasks())
        .await
        .expect("shutdown waited for the window");
    assert_eq!(handler.disconnects.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_slow_consumer_or_a_native_socket_leaves_nothing_to_resume() {
    let handler = Arc::new(Counting::default());
    let ns = recovering(handler.clone(), settings());
    let (slow, _rx) = socket();
    assert_eq!(ns.connect(&slow).await, Connected::Accepted);
    ns.remove(&slow, DisconnectReason::SlowConsumer);
    let (outbox, _rx) = Outbox::new(4);
    let native = Socket::new("/", Arc::new(outbox), Framing::Native, Handshake::default());
    assert_eq!(ns.connect(&native).await, Connected::Accepted);
    assert!(native.pid().is_none(), "native clients have no recovery");
    ns.remove(&native, DisconnectReason::TransportClose);
    ns.wait_tasks().await;
    assert_eq!(
        handler.disconnects.load(Ordering::SeqCst),
        2,
        "both heard at once"
    );
    assert_eq!(ns.adapter().journal().expect("journal").len().2, 0);
}

/// A shared stream that records what is appended, stored and forgotten.
#[derive(Debug, Default)]
struct Stream {
    appended: std::sync::Mutex<Vec<(Targets, String)>>,
    stored: std::sync::Mutex<Vec<StoredSession>>,
    /// What the stream holds: entry ids (`<ms>-0`, by ms) and event `n` to `targets`.
    entries: std::sync::Mutex<Vec<(u64, Targets, u64)>>,
}

impl SharedJournal for Stream {
    fn append(&self, targets: &Targets, event: &OutgoingEvent) {
        let mut appended = self.appended.lock().expect("not poisoned");
        appended.push((targets.clone(), event.name().to_owned()));
    }

    fn store(&self, session: &StoredSession, _ttl: Duration) {
        self.stored.lock().expect("not poisoned").push(session.clone());
    }

    fn forget(&self, _pid: &str) {}

    fn range<'a>(
        &'a self,
        after: &'a str,
        until: &'a str,
    ) -> BoxFuture<'a, Option<Vec<(Targets, OutgoingEvent)>>> {
        let ms = |id: &str| {
            id.trim_start_matches('(')
                .split_once('-')
                .and_then(|(ms, _)| ms.parse::<u64>().ok())
        };
        let (after, last, exclusive) = (ms(after), ms(until), until.starts_with('('));
        let entries = self.entries.lock().expect("not poisoned");
        let found = after
            .filter(|a| entries.iter().any(|(id, ..)| id == a))
            .map(|after| {
                entries
                    .iter()
                    .filter(|(id, ..)| {
                        *id > after && last.is_some_and(|l| if exclusive { *id < l } else { *id <= l })
                    })
                    .map(|(id, targets, n)| {
                        let event = OutgoingEvent::new("/", "n", Payload::json(vec![json!(n)]));
                        event.stamp(format!("{id}-0").into());
                        (targets.clone(), event)
                    })
                    .collect()
            });
        Box::pin(std::future::ready(found))
    }

    fn take<'a>(&'a self, pid: &'a str) -> BoxFuture<'a, Option<StoredSession>> {
        let mut stored = self.stored.lock().expect("not poisoned");
        let found = stored
            .iter()
            .position(|s| &*s.pid == pid)
            .map(|i| stored.remove(i));
        Box::pin(std::future::ready(found))
    }
}

/// A namespace whose journal is on a shared [`Stream`].
fn on_shared_stream(handler: Arc<Counting>) -> (Arc<Namespace>, Arc<Journal>, Arc<Stream>) {
    let (journal, stream) = shared_journal();
    let ns = Namespace::with_adapter(
        "/",
        handler,
        NamespaceOptions::default(),
        Box::new(LocalAdapter::with_journal(Some(journal.clone()))),
        Box::new(LocalPresence::default()),
    );
    (ns, journal, stream)
}

/// A session another node stored: socket `sid`, private id `pid`, in `rooms`.
fn stored(sid: &str, pid: &str, rooms: &[&str]) -> StoredSession {
    StoredSession {
        sid: sid.into(),
        pid: pid.into(),
        rooms: rooms.iter().map(|r| Room::from(*r)).collect(),
        user: None,
    }
}

fn shared_journal() -> (Arc<Journal>, Arc<Stream>) {
    let journal = Arc::new(Journal::new(settings()));
    let stream = Arc::new(Stream::default());
    journal.share(stream.clone());
    (journal, stream)
}

/// Records the entry `id` as read back from the stream, event `n` to `targets`.
fn record_at(journal: &Journal, id: &str, targets: Targets, n: u64) {
    let event = OutgoingEvent::new("/", "n", Payload::json(vec![json!(n)]));
    journal.record_at(id, &targets, &event, || ());
    assert_eq!(event.offset(), Some(id), "its entry id is its offset");
}

#[test]
fn on_a_shared_stream_entry_ids_are_the_offsets_and_local_sends_are_not_kept() {
    let (journal, _stream) = shared_journal();
    let (s, _rx) = socket();
    record_at(&journal, "1700000000000-0", Targets::default(), 0);
    record_at(&journal, "1700000000000-1", Targets::default().to("red"), 1);
    // A local-only send (a server event's emit): delivered, no offset, not kept.
    let local = OutgoingEvent::new("/", "n", Payload::json(vec![json!(99)]));
    assert_eq!(journal.record(&Targets::default(), &local, || 7), 7);
    assert_eq!(local.offset(), None);
    record_at(&journal, "1700000000005-0", Targets::default().to("blue"), 2);
    record_at(&journal, "1700000000009-3", Targets::default(), 3);
    assert_eq!(journal.len().0, 4);
    journal.persist(session(&s, "p", &["red", s.id()]));
    let claim = journal
        .claim("p", Some("1700000000000-0"), |_| true)
        .expect("claimed by entry id");
    let texts = missed(&journal, &claim).expect("all kept");
    assert_eq!(texts.len(), 2, "red's and everyone's, not blue's: {texts:?}");
    assert!(
        texts[0].starts_with(r#"42["n",1,"1700000000000-1"]"#),
        "{texts:?}"
    );
    assert!(
        texts[1].starts_with(r#"42["n",3,"1700000000009-3"]"#),
        "{texts:?}"
    );
    // A session stored by another node replays from the same record of the stream.
    assert_eq!(journal.replay_from("1700000000005-0"), Some(3));
    assert_eq!(journal.replay_from("1700000000009-3"), Some(4), "nothing missed");
    for unknown in ["1700000000001-0", "1699999999999-0", "x-1", "abc", "1-2-3"] {
        assert_eq!(journal.replay_from(unknown), None, "{unknown}");
    }
}

#[test]
fn a_stream_that_goes_back_in_ids_starts_the_journal_over() {
    let (journal, _stream) = shared_journal();
    record_at(&journal, "5-0", Targets::default(), 0);
    record_at(&journal, "6-0", Targets::default(), 1);
    // Redis lost the stream and it was made anew with smaller ids.
    record_at(&journal, "2-0", Targets::default(), 2);
    assert_eq!(journal.len().0, 1);
    assert_eq!(journal.replay_from("5-0"), None);
    assert_eq!(journal.replay_from("2-0"), Some(journal.next_seq()));
}

#[tokio::test]
async fn on_a_shared_stream_a_socket_emit_is_appended_and_a_session_claimed_from_the_store() {
    let handler = Arc::new(Counting::default());
    let (ns, journal, stream) = on_shared_stream(handler.clone());
    let (old, mut rx) = socket();
    assert_eq!(ns.connect(&old).await, Connected::Accepted);
    let pid = old.pid().expect("recoverable").clone();
    old.emit("direct", Payload::json(vec![json!(1)]))
        .expect("appended");
    assert_eq!(
        drain(&mut rx).iter().map(|t| shape(t)).collect::<Vec<_>>(),
        ["connect"],
        "not delivered until read back"
    );
    assert_eq!(
        stream.appended.lock().expect("not poisoned").as_slice(),
        [(Targets::default().to(old.id().clone()), "direct".to_owned())]
    );
    // Read back: delivered with its entry id.
    let event = OutgoingEvent::new("/", "direct", Payload::json(vec![json!(1)]));
    journal.record_at("10-0", &Targets::default().to(old.id().clone()), &event, || {
        old.deliver(&event);
    });
    assert_eq!(last_offset(&drain(&mut rx)), "10-0");
    ns.remove(&old, DisconnectReason::TransportClose);
    let stored = stream.stored.lock().expect("not poisoned").clone();
    assert_eq!(stored.len(), 1, "stored for any node");
    assert_eq!(stored[0].sid, *old.id());
    assert_eq!(stored[0].pid, pid);
    assert!(stored[0].rooms.contains(old.id()));

    // Another user's claim puts the stored session back.
    assert!(ns.claim(&pid, Some("10-0"), |_| false).await.is_none());
    assert_eq!(stream.stored.lock().expect("not poisoned").len(), 1);
    let claim = ns.claim(&pid, Some("10-0"), |_| true).await.expect("claimed");
    assert!(
        matches!(claim.claimed(), Claimed::Here(_)),
        "its socket left from here"
    );
    assert!(stream.stored.lock().expect("not poisoned").is_empty(), "taken");
    // A second claim finds nothing: the store is the one place it lives.
    assert!(ns.claim(&pid, Some("10-0"), |_| true).await.is_none());
}

#[tokio::test]
async fn a_session_stored_by_another_node_resumes_here_and_its_handler_hears_a_connect() {
    let handler = Arc::new(Counting::default());
    let (ns, journal, stream) = on_shared_stream(handler.clone());
    record_at(&journal, "20-0", Targets::default().to("red"), 0);
    record_at(&journal, "20-1", Targets::default().to("red"), 1);
    record_at(&journal, "20-2", Targets::default().to("blue"), 2);
    stream.store(
        &stored("from-node-a", "pid-a", &["from-node-a", "red"]),
        Duration::from_secs(60),
    );
    let claim = ns.claim("pid-a", Some("20-0"), |_| true).await.expect("claimed");
    assert!(matches!(claim.claimed(), Claimed::Elsewhere(_)));
    let (socket, mut rx) = resumed(&ns, claim).await;
    assert!(socket.recovered());
    assert_eq!(&**socket.id(), "from-node-a");
    let replay = drain(&mut rx);
    assert_eq!(
        replay.iter().map(|t| shape(t)).collect::<Vec<_>>(),
        ["n 1", "connect"],
        "red's packet after the offset, then CONNECT: {replay:?}"
    );
    assert_eq!(
        connect_reply(&replay[1]),
        json!({"sid": "from-node-a", "pid": "pid-a"})
    );
    assert!(ns.rooms_of(&socket).contains(&Room::from("red")));
    assert_eq!(
        handler.connects.load(Ordering::SeqCst),
        1,
        "new to this node's handler"
    );
}

#[test]
fn what_a_journal_does_not_record_is_a_gap_to_read_from_the_stream() {
    let (journal, _stream) = shared_journal();
    assert_eq!(journal.gap("5-0"), None, "not reading yet: no horizon");
    journal.reads_after("10-0");
    assert_eq!(
        journal.gap("7-0"),
        Some(Gap {
            from: 0,
            until: "10-0".to_owned()
        }),
        "before this node read: up to where it started"
    );
    assert_eq!(
        journal.gap("11-0"),
        None,
        "after it: one this journal should have"
    );
    record_at(&journal, "12-0", Targets::default(), 0);
    record_at(&journal, "13-0", Targets::default(), 1);
    assert_eq!(
        journal.gap("7-0"),
        Some(Gap {
            from: 0,
            until: "(12-0".to_owned()
        }),
        "up to its first kept entry, then the journal"
    );
    assert_eq!(journal.gap("12-0"), None, "kept: no gap");
    assert_eq!(journal.gap("x"), None);
}

#[tokio::test]
async fn a_session_older_than_this_nodes_record_replays_the_stream_first() {
    let handler = Arc::new(Counting::default());
    let (ns, journal, stream) = on_shared_stream(handler.clone());
    // The stream before this node started reading it at 30-0, then what it read.
    *stream.entries.lock().expect("not poisoned") = vec![
        (28, Targets::default().to("red"), 0),
        (29, Targets::default().to("red"), 1),
        (30, Targets::default().to("blue"), 2),
    ];
    journal.reads_after("30-0");
    record_at(&journal, "31-0", Targets::default().to("red"), 3);
    stream.store(
        &stored("old", "pid-old", &["old", "red"]),
        Duration::from_secs(60),
    );
    let claim = ns
        .claim("pid-old", Some("28-0"), |_| true)
        .await
        .expect("claimed");
    let (_socket, mut rx) = resumed(&ns, claim).await;
    assert_eq!(
        drain(&mut rx).iter().map(|t| shape(t)).collect::<Vec<_>>(),
        ["n 1", "n 3", "connect"],
        "29 from the stream, 31 from the journal, in order; blue's not"
    );
    // An offset the stream no longer has: a new session, as Node decides.
    stream.store(&stored("older", "pid-older", &["older"]), Duration::from_secs(60));
    assert!(ns.claim("pid-older", Some("20-0"), |_| true).await.is_none());
}
