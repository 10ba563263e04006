//! The bounded queue behind every connection: many threads push, one writer drains.
//!
//! A broadcast pushes one item to each recipient's queue, so a push must cost little:
//! a short uncontended lock, a `VecDeque` push, and a wake-up only when the writer is
//! actually waiting, which is once per batch rather than once per item. The writer
//! takes everything queued in one swap. Items it holds but has not written yet
//! still count against the capacity, so the bound is the same however the writer
//! batches. An empty queue owns no allocation beyond what its deques keep.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use super::Outbound;

/// A queue holding at most `capacity` items, counting those the writer holds.
pub fn channel(capacity: usize) -> (Sender, Receiver) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            items: VecDeque::new(),
            waker: None,
            sender_alive: true,
            receiver_alive: true,
        }),
        in_hand: AtomicUsize::new(0),
        capacity,
    });
    (
        Sender {
            shared: shared.clone(),
        },
        Receiver { shared },
    )
}

struct Shared {
    state: Mutex<State>,
    /// Items the writer took and has not written yet.
    in_hand: AtomicUsize,
    capacity: usize,
}

struct State {
    items: VecDeque<Outbound>,
    /// The writer's waker while it waits on an empty queue.
    waker: Option<Waker>,
    sender_alive: bool,
    receiver_alive: bool,
}

impl Shared {
    /// A std mutex: every section is a few instructions and never awaits. A panic
    /// while holding it cannot leave the deque half-updated.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Why an item was not queued.
#[derive(Debug)]
pub enum TrySendError {
    /// The queue holds `capacity` items already.
    Full(Outbound),
    /// The receiver is gone.
    Closed(Outbound),
}

/// The producing end: one per queue, shared by reference (behind the connection's
/// `Arc`) by everyone who sends to the connection.
pub struct Sender {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Sender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sender")
            .field("capacity", &self.shared.capacity)
            .finish_non_exhaustive()
    }
}

impl Sender {
    /// Queues `item` without waiting.
    pub fn try_send(&self, item: Outbound) -> Result<(), TrySendError> {
        let waker = {
            let mut state = self.shared.lock();
            if !state.receiver_alive {
                return Err(TrySendError::Closed(item));
            }
            let held = state.items.len() + self.shared.in_hand.load(Ordering::Relaxed);
            if held >= self.shared.capacity {
                return Err(TrySendError::Full(item));
            }
            state.items.push_back(item);
            state.waker.take()
        };
        // Woken outside the lock, so the writer never wakes into a held lock.
        if let Some(waker) = waker {
            waker.wake();
        }
        Ok(())
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        let waker = {
            let mut state = self.shared.lock();
            state.sender_alive = false;
            state.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

/// The consuming end, owned by the connection's current writer.
pub struct Receiver {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Receiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver").finish_non_exhaustive()
    }
}

impl Receiver {
    /// Waits for items and moves every queued one to the back of `batch`; false once
    /// the sender is gone and nothing is left. The items count against the capacity
    /// until [`Receiver::set_in_hand`] says they are written. Cancel-safe.
    pub async fn recv_many(&mut self, batch: &mut VecDeque<Outbound>) -> bool {
        std::future::poll_fn(|cx| self.poll_many(cx, batch)).await
    }

    fn poll_many(&mut self, cx: &mut Context<'_>, batch: &mut VecDeque<Outbound>) -> Poll<bool> {
        let mut state = self.shared.lock();
        if state.items.is_empty() {
            if !state.sender_alive {
                return Poll::Ready(false);
            }
            match &mut state.waker {
                Some(waker) => waker.clone_from(cx.waker()),
                None => state.waker = Some(cx.waker().clone()),
            }
            return Poll::Pending;
        }
        if batch.is_empty() {
            // The common case: trade deques, keeping both allocations.
            std::mem::swap(batch, &mut state.items);
        } else {
            batch.append(&mut state.items);
        }
        self.shared.in_hand.store(batch.len(), Ordering::Relaxed);
        Poll::Ready(true)
    }

    /// Waits for the next item; `None` once the sender is gone and nothing is left.
    /// Cancel-safe.
    pub async fn recv(&mut self) -> Option<Outbound> {
        std::future::poll_fn(|cx| {
            let mut state = self.shared.lock();
            if let Some(item) = state.items.pop_front() {
                return Poll::Ready(Some(item));
            }
            if !state.sender_alive {
                return Poll::Ready(None);
            }
            state.waker = Some(cx.waker().clone());
            Poll::Pending
        })
        .await
    }

    /// The next item if one is queued.
    pub fn try_recv(&mut self) -> Option<Outbound> {
        self.shared.lock().items.pop_front()
    }

    /// Tells producers how many taken items are still unwritten (after a write).
    pub fn set_in_hand(&self, unwritten: usize) {
        self.shared.in_hand.store(unwritten, Ordering::Relaxed);
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let items = {
            let mut state = self.shared.lock();
            state.receiver_alive = false;
            std::mem::take(&mut state.items)
        };
        // Dropped outside the lock: the last reference to a shared frame frees it.
        drop(items);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;
    use std::task::Wake;

    use bytes::Bytes;

    use super::*;
    use crate::protocol::engineio::Frame;

    fn item(text: &'static str) -> Outbound {
        Outbound::Frame(Frame::Text(Bytes::from_static(text.as_bytes())))
    }

    fn text(item: &Outbound) -> &[u8] {
        match item {
            Outbound::Frame(Frame::Text(bytes)) => bytes,
            other => panic!("not a text frame: {other:?}"),
        }
    }

    /// Counts its wake-ups.
    #[derive(Default)]
    struct Counter(AtomicUsize);

    impl Wake for Counter {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn items_come_out_in_order_and_the_bound_counts_what_the_writer_holds() {
        let (tx, mut rx) = channel(3);
        for t in ["a", "b", "c"] {
            assert!(tx.try_send(item(t)).is_ok());
        }
        assert!(matches!(tx.try_send(item("d")), Err(TrySendError::Full(_))));
        let waker = Waker::from(Arc::new(Counter::default()));
        let mut batch = VecDeque::new();
        assert_eq!(
            rx.poll_many(&mut Context::from_waker(&waker), &mut batch),
            Poll::Ready(true)
        );
        let taken: Vec<&[u8]> = batch.iter().map(text).collect();
        assert_eq!(taken, [b"a", b"b", b"c"]);
        // Taken but not written: still full.
        assert!(matches!(tx.try_send(item("d")), Err(TrySendError::Full(_))));
        batch.pop_front();
        rx.set_in_hand(batch.len());
        assert!(tx.try_send(item("d")).is_ok());
        // New items go behind those the writer still holds.
        assert_eq!(
            rx.poll_many(&mut Context::from_waker(&waker), &mut batch),
            Poll::Ready(true)
        );
        let taken: Vec<&[u8]> = batch.iter().map(text).collect();
        assert_eq!(taken, [b"b", b"c", b"d"]);
    }

    #[test]
    fn a_waiting_writer_is_woken_once_per_batch() {
        let (tx, mut rx) = channel(16);
        let counter = Arc::new(Counter::default());
        let waker = Waker::from(counter.clone());
        let mut batch = VecDeque::new();
        assert_eq!(
            rx.poll_many(&mut Context::from_waker(&waker), &mut batch),
            Poll::Pending
        );
        for t in ["a", "b", "c"] {
            assert!(tx.try_send(item(t)).is_ok());
        }
        assert_eq!(counter.0.load(Ordering::SeqCst), 1, "one wake for three items");
        assert_eq!(
            rx.poll_many(&mut Context::from_waker(&waker), &mut batch),
            Poll::Ready(true)
        );
        assert_eq!(batch.len(), 3);
        // Nobody waits now: pushing wakes nobody.
        assert!(tx.try_send(item("d")).is_ok());
        assert_eq!(counter.0.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn the_writer_sees_the_end_after_the_last_item() {
        let (tx, mut rx) = channel(4);
        let counter = Arc::new(Counter::default());
        let waker = Waker::from(counter.clone());
        assert!(tx.try_send(item("last")).is_ok());
        drop(tx);
        let mut batch = VecDeque::new();
        let mut cx = Context::from_waker(&waker);
        assert_eq!(rx.poll_many(&mut cx, &mut batch), Poll::Ready(true));
        assert_eq!(batch.len(), 1);
        assert_eq!(rx.poll_many(&mut cx, &mut batch), Poll::Ready(false));
    }

    #[test]
    fn dropping_the_sender_wakes_a_waiting_writer() {
        let (tx, mut rx) = channel(4);
        let counter = Arc::new(Counter::default());
        let waker = Waker::from(counter.clone());
        let mut batch = VecDeque::new();
        let mut cx = Context::from_waker(&waker);
        assert_eq!(rx.poll_many(&mut cx, &mut batch), Poll::Pending);
        drop(tx);
        assert_eq!(counter.0.load(Ordering::SeqCst), 1);
        assert_eq!(rx.poll_many(&mut cx, &mut batch), Poll::Ready(false));
    }

    #[test]
    fn a_gone_writer_refuses_items_and_frees_what_was_queued() {
        let (tx, rx) = channel(4);
        let shared = Bytes::from(vec![1u8; 8]);
        assert!(
            tx.try_send(Outbound::Frame(Frame::Binary(shared.clone())))
                .is_ok()
        );
        drop(rx);
        assert!(
            shared.is_unique(),
            "the queued clone was dropped with the receiver"
        );
        assert!(matches!(tx.try_send(item("x")), Err(TrySendError::Closed(_))));
    }

    #[tokio::test]
    async fn recv_and_try_recv_take_one_at_a_time() {
        let (tx, mut rx) = channel(4);
        assert!(rx.try_recv().is_none());
        assert!(tx.try_send(item("a")).is_ok());
        assert!(tx.try_send(item("b")).is_ok());
        let first = rx.recv().await.expect("an item");
        assert_eq!(text(&first), b"a");
        let second = rx.try_recv().expect("an item");
        assert_eq!(text(&second), b"b");
        let waiter = tokio::spawn(async move { rx.recv().await.map(|i| text(&i).to_vec()) });
        tokio::task::yield_now().await;
        assert!(tx.try_send(item("c")).is_ok());
        let got = waiter.await.expect("the task finishes");
        assert_eq!(got.as_deref(), Some(&b"c"[..]));
    }
}
