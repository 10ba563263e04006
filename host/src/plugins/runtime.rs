//! The one wasmtime `Engine`: its configuration, the epoch ticker that bounds guest
//! running time, the on-disk compile cache, and a linker per world.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Cache, CacheConfig, Config, Engine};

use super::bindings::{filter, guard, handler, http, validator};
use super::state::HostState;
use super::{Kind, LoadError};

/// How often the epoch advances: the granularity of plugin deadlines.
pub const TICK: Duration = Duration::from_millis(2);

/// The engine and the linkers, shared by every plugin.
#[derive(Clone)]
pub struct Runtime(Arc<Inner>);

struct Inner {
    engine: Engine,
    handler: Linker<HostState>,
    validator: Linker<HostState>,
    guard: Linker<HostState>,
    filter: Linker<HostState>,
    http: Linker<HostState>,
}

impl Runtime {
    /// An engine with epoch interruption and a compile cache in `cache_dir`.
    pub fn new(cache_dir: &Path) -> Result<Runtime, LoadError> {
        let mut config = Config::new();
        config.epoch_interruption(true);
        std::fs::create_dir_all(cache_dir).map_err(|e| {
            LoadError::Engine(format!("cannot create cache dir {}: {e}", cache_dir.display()))
        })?;
        let mut cache = CacheConfig::new();
        cache.with_directory(cache_dir);
        config.cache(Some(
            Cache::new(cache).map_err(|e| LoadError::Engine(format!("{e:#}")))?,
        ));
        let engine = Engine::new(&config).map_err(|e| LoadError::Engine(format!("{e:#}")))?;

        let linker = |add: fn(&mut Linker<HostState>) -> wasmtime::Result<()>| -> Result<Linker<HostState>, LoadError> {
            let mut linker = Linker::new(&engine);
            wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(|e| LoadError::Engine(format!("{e:#}")))?;
            add(&mut linker).map_err(|e| LoadError::Engine(format!("{e:#}")))?;
            Ok(linker)
        };
        let inner = Inner {
            handler: linker(|l| {
                handler::HandlerPlugin::add_to_linker::<HostState, HasSelf<HostState>>(l, |s| s)
            })?,
            validator: linker(|l| {
                validator::ValidatorPlugin::add_to_linker::<HostState, HasSelf<HostState>>(l, |s| s)
            })?,
            guard: linker(|l| guard::GuardPlugin::add_to_linker::<HostState, HasSelf<HostState>>(l, |s| s))?,
            filter: linker(|l| {
                filter::FilterPlugin::add_to_linker::<HostState, HasSelf<HostState>>(l, |s| s)
            })?,
            http: linker(|l| {
                http::HttpHandlerPlugin::add_to_linker::<HostState, HasSelf<HostState>>(l, |s| s)
            })?,
            engine,
        };
        // Without the ticker nothing would stop a guest that loops: no engine then.
        spawn_ticker(&inner.engine)
            .map_err(|e| LoadError::Engine(format!("cannot start the plugin epoch ticker: {e}")))?;
        Ok(Runtime(Arc::new(inner)))
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.0.engine
    }

    /// The linker for a world.
    pub fn linker(&self, kind: Kind) -> &Linker<HostState> {
        match kind {
            Kind::Handler => &self.0.handler,
            Kind::Validator => &self.0.validator,
            Kind::Guard => &self.0.guard,
            Kind::Filter => &self.0.filter,
            Kind::Http => &self.0.http,
        }
    }

    /// Compiles (or loads from the cache) a component. Blocking: call it off the
    /// async workers.
    pub fn compile(&self, bytes: &[u8]) -> Result<Component, LoadError> {
        Component::new(&self.0.engine, bytes).map_err(|e| LoadError::Compile(format!("{e:#}")))
    }

    /// Which world a component exports, judged by its exported interface.
    pub fn kind_of(&self, component: &Component) -> Result<Kind, LoadError> {
        let ty = component.component_type();
        let exports: Vec<String> = ty
            .exports(&self.0.engine)
            .map(|(name, _)| name.to_owned())
            .collect();
        let kinds: Vec<Kind> = exports
            .iter()
            .filter_map(|name| Kind::from_export(name))
            .collect();
        let other_version = exports
            .iter()
            .filter(|name| Kind::from_export(name).is_some())
            .find_map(|name| super::contract_version(name).filter(|v| *v != super::CONTRACT_VERSION));
        if let Some(version) = other_version {
            return Err(LoadError::World(format!(
                "built against portico:plugin@{version}; this gateway hosts @{}: rebuild the plugin with this release's portico-sdk (wit/README.md has the migration)",
                super::CONTRACT_VERSION
            )));
        }
        match kinds.as_slice() {
            [kind] => Ok(*kind),
            [] => Err(LoadError::World(format!(
                "exports none of portico:plugin/{{handler,validator,guard,filter,http-handler}}@{} (exports: {})",
                super::CONTRACT_VERSION,
                if exports.is_empty() {
                    "nothing".to_owned()
                } else {
                    exports.join(", ")
                }
            ))),
            _ => Err(LoadError::World(format!(
                "exports more than one plugin interface: {}",
                exports.join(", ")
            ))),
        }
    }
}

/// Advances the engine's epoch every [`TICK`] on a thread of its own, until the
/// engine is dropped.
fn spawn_ticker(engine: &Engine) -> std::io::Result<()> {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("portico-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(TICK);
            }
        })
        .map(drop)
}
