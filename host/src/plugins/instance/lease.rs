//! Where a call's instance comes from and goes back to: the calling thread's own
//! slot, the bounded pool when that one is busy, or nowhere (`isolation = "per-call"`).

use std::sync::Mutex;
use std::sync::atomic::Ordering;

use tokio::sync::SemaphorePermit;

use super::{Plugin, Warm};
use crate::config::Isolation;
use crate::plugins::CallError;

/// A worker thread's own instance of a plugin version.
pub(super) enum Slot {
    /// None yet, or the last one was thrown away.
    Vacant,
    /// In use by a call (which may have moved to another thread meanwhile).
    Busy,
    /// Warm and free.
    Ready(Warm),
}

/// Where a call's instance came from, and so where it goes back.
pub(super) enum Lease<'a> {
    /// The calling thread's own slot, marked busy meanwhile. Dropped without the
    /// instance given back (a failure, a recycled instance, the call's future dropped),
    /// it leaves the slot vacant for the next call to fill.
    Home(&'a Mutex<Slot>),
    /// The shared pool, under one of its permits (released when the lease drops).
    Pool { _permit: SemaphorePermit<'a> },
    /// `isolation = "per-call"`: the instance is thrown away after.
    Once,
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if let Lease::Home(slot) = self {
            let mut slot = lock(slot);
            if matches!(*slot, Slot::Busy) {
                *slot = Slot::Vacant;
            }
        }
    }
}

impl Plugin {
    /// An instance for a call: the calling thread's own when it is free (or a new
    /// one for its vacant slot), else one of the pool's under a permit. `None` means
    /// instantiate one.
    pub(super) async fn lease(&self) -> Result<(Lease<'_>, Option<Warm>), CallError> {
        if self.settings.isolation == Isolation::PerCall {
            return Ok((Lease::Once, None));
        }
        let home = self.local.get_or(|| Mutex::new(Slot::Vacant));
        match std::mem::replace(&mut *lock(home), Slot::Busy) {
            Slot::Ready(warm) => return Ok((Lease::Home(home), Some(warm))),
            // A pool instance, if one is idle (the one that checked the component at
            // load, or one a busy moment left), becomes this thread's.
            Slot::Vacant => return Ok((Lease::Home(home), lock(&self.idle).pop())),
            // Another call that started on this thread has it (and the slot stays busy).
            Slot::Busy => {}
        }
        let permit = self.permits.acquire().await.map_err(|_| CallError::Unavailable)?;
        let warm = lock(&self.idle).pop();
        Ok((Lease::Pool { _permit: permit }, warm))
    }

    /// Keeps a successful call's instance for the next call, where it came from,
    /// unless this version is retired or the instance is due for recycling.
    pub(super) fn give_back(&self, lease: Lease<'_>, warm: Warm) {
        if self.retired.load(Ordering::Acquire) || self.worn_out(&warm) {
            return;
        }
        match &lease {
            Lease::Home(slot) => *lock(slot) = Slot::Ready(warm),
            Lease::Pool { .. } => {
                let mut idle = lock(&self.idle);
                if idle.len() < self.settings.pool_size {
                    idle.push(warm);
                }
            }
            Lease::Once => {}
        }
    }

    /// Whether to replace an instance: a wasm memory never shrinks, and a long-lived
    /// instance may hold what a guest leaks, so one that served `recycle_after_calls`
    /// or grew past `recycle_memory_mb` is dropped (the next call instantiates).
    fn worn_out(&self, warm: &Warm) -> bool {
        let grown = warm.store.data().limiter.peak_memory > self.settings.recycle_memory_bytes;
        if !grown && warm.calls < self.settings.recycle_after_calls {
            return false;
        }
        self.recycled.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(
            plugin = &*self.name,
            calls = warm.calls,
            memory = warm.store.data().limiter.peak_memory,
            "warm instance recycled"
        );
        true
    }
}

/// Locks a mutex this module only pushes, pops or swaps under: a panic while holding
/// it leaves nothing half-done, so a poisoned one is used as it is.
pub(super) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
