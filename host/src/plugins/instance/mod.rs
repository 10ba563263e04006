//! One loaded plugin version: its pre-linked component and its warm instances, one
//! per worker thread plus a bounded pool for when a thread's is busy, each used by
//! one call at a time and thrown away after any failure. The typed calls into its
//! exports are in [`super::exports`].

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use thread_local::ThreadLocal;
use tokio::sync::Semaphore;
use wasmtime::component::Component;
use wasmtime::{Store, Trap, UpdateDeadline};

mod lease;

use lease::{Slot, lock};

use super::bindings::{filter, guard, handler, http, validator};
use super::runtime::{Runtime, TICK};
use super::state::{CallContext, Effect, HostState, MemoryLimitExceeded};
use super::{CallError, Kind, LoadError, Settings};
use crate::config::Isolation;
use crate::metrics::{CallOutcome, PluginMetrics};

/// A component linked for its world, ready to instantiate.
enum Pre {
    Handler(handler::HandlerPluginPre<HostState>),
    Validator(validator::ValidatorPluginPre<HostState>),
    Guard(guard::GuardPluginPre<HostState>),
    Filter(filter::FilterPluginPre<HostState>),
    Http(http::HttpHandlerPluginPre<HostState>),
}

/// An instantiated component.
pub(super) enum Instance {
    Handler(handler::HandlerPlugin),
    Validator(validator::ValidatorPlugin),
    Guard(guard::GuardPlugin),
    Filter(filter::FilterPlugin),
    Http(http::HttpHandlerPlugin),
}

/// An instance with the store it lives in.
struct Warm {
    store: Store<HostState>,
    instance: Instance,
    /// Calls it has served.
    calls: u64,
}

/// One version of one plugin.
pub struct Plugin {
    name: Arc<str>,
    kind: Kind,
    digest: String,
    settings: Settings,
    runtime: Runtime,
    pre: Pre,
    /// What every instance's calls see: the plugin's name, config, store, namespaces.
    context: CallContext,
    /// Each thread's own warm instance: a call takes the instance of the thread it
    /// starts on, with no lock another thread contends for.
    local: ThreadLocal<Mutex<Slot>>,
    /// The fallback when a thread's instance is busy (its call waits, and another
    /// starts on the same thread): warm instances not in use. A std mutex: push and
    /// pop only.
    idle: Mutex<Vec<Warm>>,
    /// Bounds the fallback's instances alive at once (and so memory) to the pool size.
    permits: Semaphore,
    /// Set once a newer version replaced this one: instances are no longer kept.
    retired: AtomicBool,
    /// Instances made so far.
    instantiated: AtomicU64,
    /// Warm instances replaced for their calls or their memory.
    recycled: AtomicU64,
    /// Its series in `/metrics`.
    metrics: PluginMetrics,
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("digest", &self.digest)
            .finish()
    }
}

/// What a successful call returned, and what it asked the gateway to do.
#[derive(Debug)]
pub struct Outcome<R> {
    /// The export's return value.
    pub value: R,
    /// Effects requested during the call, in order.
    pub effects: Vec<Effect>,
}

impl Plugin {
    /// Links `component` for its world and checks every export's type by
    /// instantiating it once.
    pub async fn prepare(
        runtime: &Runtime,
        name: &str,
        digest: String,
        component: &Component,
        settings: Settings,
        context: CallContext,
    ) -> Result<Plugin, LoadError> {
        let kind = runtime.kind_of(component)?;
        let instance_pre = runtime
            .linker(kind)
            .instantiate_pre(component)
            .map_err(|e| LoadError::World(format!("{e:#}")))?;
        let world = |e: wasmtime::Error| LoadError::World(format!("{e:#}"));
        let pre = match kind {
            Kind::Handler => Pre::Handler(handler::HandlerPluginPre::new(instance_pre).map_err(world)?),
            Kind::Validator => {
                Pre::Validator(validator::ValidatorPluginPre::new(instance_pre).map_err(world)?)
            }
            Kind::Guard => Pre::Guard(guard::GuardPluginPre::new(instance_pre).map_err(world)?),
            Kind::Filter => Pre::Filter(filter::FilterPluginPre::new(instance_pre).map_err(world)?),
            Kind::Http => Pre::Http(http::HttpHandlerPluginPre::new(instance_pre).map_err(world)?),
        };
        let plugin = Plugin {
            name: name.into(),
            kind,
            digest,
            permits: Semaphore::new(settings.pool_size),
            settings,
            runtime: runtime.clone(),
            pre,
            context,
            local: ThreadLocal::new(),
            idle: Mutex::new(Vec::new()),
            retired: AtomicBool::new(false),
            instantiated: AtomicU64::new(0),
            recycled: AtomicU64::new(0),
            metrics: PluginMetrics::new(name, kind.world()),
        };
        // Instantiating type-checks every export against the world.
        let warm = plugin
            .instantiate()
            .await
            .map_err(|e| LoadError::World(e.to_string()))?;
        if plugin.settings.isolation == Isolation::Pooled {
            lock(&plugin.idle).push(warm);
        }
        Ok(plugin)
    }

    /// The plugin's name.
    pub fn name(&self) -> &Arc<str> {
        &self.name
    }

    /// The world it implements.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// A short hash of its bytes, identifying the version.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// Its resolved settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Instances made so far (the one that checked the component at load included).
    pub fn instantiated(&self) -> u64 {
        self.instantiated.load(Ordering::Relaxed)
    }

    /// Warm instances replaced so far because they served `recycle_after_calls`
    /// calls or their memory grew past `recycle_memory_mb`.
    pub fn recycled(&self) -> u64 {
        self.recycled.load(Ordering::Relaxed)
    }

    /// Stops keeping instances: a newer version replaced this one. Calls in flight
    /// finish normally.
    pub fn retire(&self) {
        self.retired.store(true, Ordering::Release);
        lock(&self.idle).clear();
        for slot in self.local.iter() {
            let mut slot = lock(slot);
            if matches!(*slot, Slot::Ready(_)) {
                *slot = Slot::Vacant;
            }
        }
    }

    /// Runs `f` on a warm (or fresh) instance, about `namespace` (the caller's, when
    /// the call is about a socket), under the deadline; `Ok(None)` from `f` means the
    /// instance is of another world. The typed calls, one per export, are in
    /// `exports`.
    ///
    /// No timer wraps the call: the guest's own code is bounded by the epoch deadline,
    /// and its only waits, the store's, by the store's response timeout.
    pub(super) async fn call<R>(
        &self,
        namespace: Option<&str>,
        f: impl AsyncFnOnce(&Instance, &mut Store<HostState>) -> wasmtime::Result<Option<R>>,
    ) -> Result<Outcome<R>, CallError> {
        let started = Instant::now();
        let (lease, warm) = self.lease().await?;
        let mut warm = match warm {
            Some(warm) => warm,
            // Boxed: instantiating is the rare path, and its future is most of a call's
            // size, which every caller up the chain would otherwise move on each event.
            None => Box::pin(self.instantiate())
                .await
                .inspect_err(|e| self.count(started, e.into()))
                .map_err(|e| self.failed(e))?,
        };
        prepare_call(warm.store.data_mut(), namespace, self.max_ticks());
        warm.store.set_epoch_deadline(1);
        let Warm { store, instance, .. } = &mut warm;
        match f(instance, store).await {
            Ok(Some(value)) => {
                warm.calls += 1;
                let data = warm.store.data_mut();
                let overflowed = data.effects_overflowed;
                let effects = std::mem::take(&mut data.effects);
                self.give_back(lease, warm);
                if overflowed {
                    self.count(started, CallOutcome::Effects);
                    return Err(self.failed(CallError::TooManyEffects));
                }
                self.count(started, CallOutcome::Ok);
                Ok(Outcome { value, effects })
            }
            // Of another world: no guest code ran.
            Ok(None) => Err(CallError::WrongKind(self.kind)),
            Err(err) => {
                let err = classify(&err);
                self.count(started, (&err).into());
                Err(self.failed(err))
            }
        }
    }

    /// Records a failed call for the operator's page; hands the error on.
    fn failed(&self, err: CallError) -> CallError {
        self.context
            .history
            .fault(&self.name, self.kind, &err.to_string());
        err
    }

    /// Counts a call that started at `started` and ended as `outcome`.
    fn count(&self, started: Instant, outcome: CallOutcome) {
        self.metrics.call(started.elapsed(), outcome);
    }

    async fn instantiate(&self) -> Result<Warm, CallError> {
        let engine = self.runtime.engine();
        let max_memory = self.settings.memory_bytes;
        let state = HostState::new(self.context.clone(), max_memory, self.max_ticks());
        let mut store = Store::new(engine, state);
        store.limiter(|state| &mut state.limiter);
        store.epoch_deadline_callback(|mut cx| {
            let state = cx.data_mut();
            state.ticks += 1;
            if state.ticks > state.max_ticks {
                Ok(UpdateDeadline::Interrupt)
            } else {
                // Yielding lets other tasks run; ticks only count while the guest runs.
                Ok(UpdateDeadline::Yield(1))
            }
        });
        store.set_epoch_deadline(1);
        let cap = self.wall_clock_cap();
        let instance = tokio::time::timeout(cap, async {
            Ok::<_, wasmtime::Error>(match &self.pre {
                Pre::Handler(pre) => Instance::Handler(pre.instantiate_async(&mut store).await?),
                Pre::Validator(pre) => Instance::Validator(pre.instantiate_async(&mut store).await?),
                Pre::Guard(pre) => Instance::Guard(pre.instantiate_async(&mut store).await?),
                Pre::Filter(pre) => Instance::Filter(pre.instantiate_async(&mut store).await?),
                Pre::Http(pre) => Instance::Http(pre.instantiate_async(&mut store).await?),
            })
        })
        .await
        .map_err(|_| CallError::Timeout)?
        .map_err(|e| match classify(&e) {
            CallError::Trap(detail) => CallError::Instantiate(detail),
            other => other,
        })?;
        self.instantiated.fetch_add(1, Ordering::Relaxed);
        Ok(Warm {
            store,
            instance,
            calls: 0,
        })
    }

    fn max_ticks(&self) -> u64 {
        (self.settings.deadline.as_micros() / TICK.as_micros()).max(1) as u64
    }

    /// The wall-clock cap on instantiating: generous, since a start paused on a busy
    /// worker is not a runaway; the epoch deadline catches guests that really run too
    /// long.
    fn wall_clock_cap(&self) -> Duration {
        (self.settings.deadline * 20).max(Duration::from_secs(1))
    }
}

/// Resets a store's state for a new call, reusing its buffers.
fn prepare_call(data: &mut HostState, namespace: Option<&str>, max_ticks: u64) {
    match namespace {
        Some(name) => {
            let buffer = data.namespace.get_or_insert_with(String::new);
            buffer.clear();
            buffer.push_str(name);
        }
        None => data.namespace = None,
    }
    data.effects.clear();
    data.effects_overflowed = false;
    data.ticks = 0;
    data.max_ticks = max_ticks;
}

/// Names a guest failure.
fn classify(err: &wasmtime::Error) -> CallError {
    if err.is::<MemoryLimitExceeded>() {
        return CallError::OutOfMemory;
    }
    match err.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => CallError::Timeout,
        _ => CallError::Trap(format!("{err:#}")),
    }
}
