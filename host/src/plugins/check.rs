//! `portico plugins check FILE.wasm`: what a component is and whether it would load.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;

use wasmtime::component::types::ComponentItem;

use super::instance::Plugin;
use super::runtime::Runtime;
use super::state::CallContext;
use super::{LoadError, Settings};
use crate::config::PluginLimits;
use crate::store::MemoryStore;

/// Describes `path` (world, imports, exports) and tries to load it exactly as the
/// gateway would. Returns the report, or the report and the reason it would not load.
pub async fn check(runtime: &Runtime, path: &Path) -> Result<String, (String, LoadError)> {
    let mut report = format!("file: {}\n", path.display());
    let bytes = match tokio::fs::read(path).await {
        Ok(bytes) => bytes,
        Err(e) => return Err((report, LoadError::Read(e.to_string()))),
    };
    let _ = writeln!(report, "size: {} bytes", bytes.len());
    let compiler = runtime.clone();
    let component = match tokio::task::spawn_blocking(move || compiler.compile(&bytes)).await {
        Ok(Ok(component)) => component,
        Ok(Err(err)) => return Err((report, err)),
        Err(err) => return Err((report, LoadError::Compile(err.to_string()))),
    };
    let engine = runtime.engine();
    let ty = component.component_type();
    for (name, item) in ty.imports(engine) {
        let _ = writeln!(report, "import {name} ({})", describe(engine, &item.ty));
    }
    for (name, item) in ty.exports(engine) {
        let _ = writeln!(report, "export {name} ({})", describe(engine, &item.ty));
    }
    let kind = match runtime.kind_of(&component) {
        Ok(kind) => kind,
        Err(err) => return Err((report, err)),
    };
    let _ = writeln!(report, "world: portico:plugin/{}", kind.world());
    let limits = PluginLimits::default();
    let settings = Settings {
        events: Vec::new(),
        config_json: "{}".into(),
        deadline: std::time::Duration::from_millis(limits.deadline_ms),
        memory_bytes: (limits.memory_mb as usize) << 20,
        pool_size: 1,
        isolation: limits.isolation,
        recycle_after_calls: limits.recycle_after_calls,
        recycle_memory_bytes: (limits.recycle_memory_mb as usize) << 20,
    };
    let probe = CallContext {
        plugin: "check".into(),
        config_json: "{}".into(),
        store: Arc::new(MemoryStore::default()),
        max_effects: 1,
        kv_max_value_bytes: limits.kv_max_value_bytes,
        namespaces: crate::router::WeakNamespaces::default(),
        history: Arc::default(),
    };
    let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or("plugin");
    match Plugin::prepare(runtime, name, String::new(), &component, settings, probe).await {
        Ok(_) => {
            report.push_str("would load: yes\n");
            Ok(report)
        }
        Err(err) => Err((report, err)),
    }
}

fn describe(engine: &wasmtime::Engine, item: &ComponentItem) -> String {
    match item {
        ComponentItem::ComponentFunc(_) => "func".to_owned(),
        ComponentItem::ComponentInstance(instance) => {
            let names: Vec<String> = instance.exports(engine).map(|(n, _)| n.to_owned()).collect();
            format!("instance: {}", names.join(", "))
        }
        ComponentItem::CoreFunc(_) => "core func".to_owned(),
        ComponentItem::Module(_) => "module".to_owned(),
        ComponentItem::Component(_) => "component".to_owned(),
        ComponentItem::Type(_) => "type".to_owned(),
        ComponentItem::Resource(_) => "resource".to_owned(),
    }
}
