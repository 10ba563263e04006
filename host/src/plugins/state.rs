//! What a plugin's `Store` carries: WASI, limits, the deadline counter, and the
//! context of the call in progress (who is calling, what it asked the gateway to do).

use std::sync::Arc;

use wasmtime::component::{Resource, ResourceTable};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::router::{Namespace, Socket};
use crate::store::Store;

/// A plugin asked for more memory than its cap.
#[derive(Debug, thiserror::Error)]
#[error("plugin memory limit exceeded: wanted {desired} bytes, limit is {limit}")]
pub struct MemoryLimitExceeded {
    /// Bytes the guest asked for.
    pub desired: usize,
    /// The cap.
    pub limit: usize,
}

/// Caps an instance's memory and tables, failing with a typed error, and remembers
/// how far its memory grew.
#[derive(Debug)]
pub struct Limiter {
    /// Bytes of linear memory allowed.
    pub max_memory: usize,
    /// The largest linear memory the instance has had, in bytes.
    pub peak_memory: usize,
}

/// Table elements an instance may have (Rust guests need a few hundred).
const MAX_TABLE_ELEMENTS: usize = 100_000;

impl wasmtime::ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_memory {
            return Err(MemoryLimitExceeded {
                desired,
                limit: self.max_memory,
            }
            .into());
        }
        self.peak_memory = self.peak_memory.max(desired);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}

/// Who an emit goes to, as a plugin named it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The caller's whole namespace.
    All,
    /// Members of any of these rooms.
    Rooms(Vec<String>),
    /// One socket.
    Socket(String),
    /// Every socket of a user (room `user:<id>`).
    User(String),
}

/// Something a handler asked the gateway to do, applied only if the call succeeds.
#[derive(Debug, Clone)]
pub enum Effect {
    /// Emit an event.
    Emit {
        /// The namespace, the caller's when `None`.
        namespace: Option<String>,
        /// Event name.
        event: String,
        /// One JSON value as text, with its attachments (checked before it is applied).
        payload: super::bindings::Payload,
        /// Recipients.
        to: Target,
        /// Rooms left out.
        except_rooms: Vec<String>,
        /// Whether the caller is left out.
        except_sender: bool,
    },
    /// Put a socket (the caller when `None`) in a room.
    Join {
        /// Room.
        room: String,
        /// Socket id, the caller when `None`.
        socket: Option<String>,
    },
    /// Take a socket out of a room.
    Leave {
        /// Room.
        room: String,
        /// Socket id, the caller when `None`.
        socket: Option<String>,
    },
    /// Disconnect a socket from its namespace.
    Disconnect {
        /// Socket id, the caller when `None`.
        socket: Option<String>,
    },
}

/// The socket a call is about, lent to the plugin as its `socket` handle for the
/// call's duration. Holding the namespace is safe: the handle is taken back when
/// the call returns, whatever it returned.
#[derive(Clone)]
pub struct CallSocket {
    /// The socket's namespace (for its rooms).
    pub ns: Arc<Namespace>,
    /// The socket.
    pub socket: Socket,
}

impl CallSocket {
    /// `socket` of `ns`, to lend for a call.
    pub fn new(ns: &Arc<Namespace>, socket: &Socket) -> CallSocket {
        CallSocket {
            ns: ns.clone(),
            socket: socket.clone(),
        }
    }
}

/// What every call of one plugin version sees, the same for all its instances.
#[derive(Clone)]
pub struct CallContext {
    /// The plugin's name (for logs and store scoping).
    pub plugin: Arc<str>,
    /// The plugin's configuration as JSON.
    pub config_json: Arc<str>,
    /// The store for kv and history.
    pub store: Arc<dyn Store>,
    /// Most effects one call may request.
    pub max_effects: usize,
    /// Largest kv value or history entry it may store, in bytes.
    pub kv_max_value_bytes: usize,
    /// Every namespace, for presence lookups. Weak: instances keep their context,
    /// and the namespaces own the plugins.
    pub namespaces: crate::router::WeakNamespaces,
    /// Where its failed calls are recorded, for the operator's page.
    pub history: Arc<super::history::History>,
}

/// A plugin store's data.
pub struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    /// The memory cap.
    pub limiter: Limiter,
    /// Epoch ticks the current call has run.
    pub ticks: u64,
    /// Ticks allowed per call.
    pub max_ticks: u64,
    /// The plugin version's context.
    pub call: CallContext,
    /// The caller's namespace in the call in progress, when it is about a socket
    /// (`None` for HTTP calls); its buffer is reused from call to call.
    pub namespace: Option<String>,
    /// What the call asked for so far.
    pub effects: Vec<Effect>,
    /// Set when a call asked for more effects than allowed; the call then fails.
    pub effects_overflowed: bool,
}

impl HostState {
    /// State for a new instance: no filesystem, no network, no environment, and no
    /// stdio (a plugin logs through `log`, so it cannot write into the gateway's log).
    pub fn new(call: CallContext, max_memory: usize, max_ticks: u64) -> HostState {
        HostState {
            wasi: WasiCtx::builder().build(),
            table: ResourceTable::new(),
            limiter: Limiter {
                max_memory,
                peak_memory: 0,
            },
            ticks: 0,
            max_ticks,
            call,
            namespace: None,
            effects: Vec::new(),
            effects_overflowed: false,
        }
    }

    /// Records an effect, or notes the overflow.
    pub fn push_effect(&mut self, effect: Effect) {
        if self.effects.len() >= self.call.max_effects {
            self.effects_overflowed = true;
        } else {
            self.effects.push(effect);
        }
    }

    /// Lends `socket` to the guest for one call; give it back with [`HostState::take_back`].
    pub fn lend(&mut self, socket: CallSocket) -> wasmtime::Result<Resource<CallSocket>> {
        Ok(self.table.push(socket)?)
    }

    /// Takes a lent socket back (a guest that kept no handle to it can't, since it
    /// was only borrowed).
    pub fn take_back(&mut self, socket: Resource<CallSocket>) {
        let _ = self.table.delete(socket);
    }

    /// A lent socket, while its call lasts.
    pub fn lent(&self, socket: &Resource<CallSocket>) -> Option<&CallSocket> {
        self.table.get(socket).ok()
    }

    /// The store key for a plugin key, scoped by plugin name.
    pub fn scoped(&self, key: &str) -> String {
        format!("{}:{key}", self.call.plugin)
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}
