//! The generated host bindings, one module per world, quarantined here. Shared
//! interfaces (`types`, `log`, `config`) are generated once, in `handler`, and reused
//! by the other worlds through `with`, so every world speaks the same Rust types.

#![allow(missing_docs, unsafe_code, clippy::all)]

/// The handler world: exports `handler`, imports everything.
pub mod handler {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "portico:plugin/handler-plugin",
        exports: { default: async },
        // The store may be Redis: its calls wait for I/O without blocking a thread.
        // Trappable: a write past the plugin's store limits ends its call.
        imports: { "portico:plugin/store": async | trappable },
        with: {
            "portico:plugin/socket.socket": crate::plugins::state::CallSocket,
        },
    });
}

/// The validator world.
pub mod validator {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "portico:plugin/validator-plugin",
        exports: { default: async },
        with: {
            "portico:plugin/types": super::handler::portico::plugin::types,
            "portico:plugin/log": super::handler::portico::plugin::log,
            "portico:plugin/config": super::handler::portico::plugin::config,
            "portico:plugin/socket": super::handler::portico::plugin::socket,
        },
    });
}

/// The guard world.
pub mod guard {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "portico:plugin/guard-plugin",
        exports: { default: async },
        with: {
            "portico:plugin/types": super::handler::portico::plugin::types,
            "portico:plugin/log": super::handler::portico::plugin::log,
            "portico:plugin/config": super::handler::portico::plugin::config,
            "portico:plugin/socket": super::handler::portico::plugin::socket,
        },
    });
}

/// The HTTP world: exports `http-handler`, imports what a handler does.
pub mod http {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "portico:plugin/http-handler-plugin",
        exports: { default: async },
        with: {
            "portico:plugin/types": super::handler::portico::plugin::types,
            "portico:plugin/log": super::handler::portico::plugin::log,
            "portico:plugin/config": super::handler::portico::plugin::config,
            "portico:plugin/sockets": super::handler::portico::plugin::sockets,
            "portico:plugin/store": super::handler::portico::plugin::store,
            "portico:plugin/presence": super::handler::portico::plugin::presence,
        },
    });
}

/// The exception-filter world.
pub mod filter {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "portico:plugin/filter-plugin",
        exports: { default: async },
        with: {
            "portico:plugin/types": super::handler::portico::plugin::types,
            "portico:plugin/log": super::handler::portico::plugin::log,
            "portico:plugin/config": super::handler::portico::plugin::config,
            "portico:plugin/socket": super::handler::portico::plugin::socket,
        },
    });
}

pub use handler::portico::plugin::types::{Error as PluginError, Payload, Violation};
pub use handler::portico::plugin::{config, log, presence, socket, sockets, store, types};
pub use http::exports::portico::plugin::http_handler::{Request as HttpRequest, Response as HttpResponse};
