//! Built-in event handlers, chosen per namespace in the config until plugins arrive.
//!
//! # Layout
//! - [`echo`]: acks and echoes events, with commands for rooms and broadcasts.
//! - [`bench`]: the benchmark's events, to measure the gateway without a plugin.
//! - [`conformance`]: what the official Socket.IO protocol test suite expects.
//! - [`Silent`]: accepts connections, ignores events.

pub mod bench;
pub mod conformance;
pub mod echo;

use std::sync::Arc;

use crate::config::BuiltinHandler;
use crate::protocol::socketio::Payload;
use crate::router::handler::{BoxFuture, IncomingEvent};
use crate::router::{EventHandler, Namespace, Socket};

/// The handler object for a configured built-in.
pub fn handler(kind: BuiltinHandler) -> Arc<dyn EventHandler> {
    match kind {
        BuiltinHandler::Echo => Arc::new(echo::Echo),
        BuiltinHandler::Bench => Arc::new(bench::Bench),
        BuiltinHandler::Conformance => Arc::new(conformance::Conformance),
        BuiltinHandler::None => Arc::new(Silent),
    }
}

/// Accepts connections and ignores every event.
#[derive(Debug, Default)]
pub struct Silent;

impl EventHandler for Silent {
    fn on_event<'a>(
        &'a self,
        _: &'a Arc<Namespace>,
        _: &'a Socket,
        _: IncomingEvent,
    ) -> BoxFuture<'a, Option<Payload>> {
        Box::pin(async { None })
    }
}
