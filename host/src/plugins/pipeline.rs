//! A namespace served by plugins, with NestJS semantics: guards → validators →
//! handler; the handler's return is the ack; any failure (guard refusal, violations,
//! a handler error, a trap, a deadline) goes through the exception filters and
//! reaches the client as an `error` event `{message, code}`, with no ack unless the
//! namespace sets `ack_errors`. A handler's emits and joins apply only if it succeeds.

use std::collections::BTreeMap;
use std::sync::Arc;

use arc_swap::ArcSwap;
use serde_json::{Value, json};

use super::bindings::{Payload as PluginPayload, PluginError};
use super::effects::{self, Caller};
use super::payload;
use super::registry::Registry;
use super::state::{CallSocket, Effect};
use super::{CallError, Kind};
use crate::config::NamespaceConfig;
use crate::protocol::socketio::Payload;
use crate::reason::DisconnectReason;
use crate::router::handler::{
    AfterConnect, BoxFuture, ConnectRefusal, ConnectResult, IncomingEvent, ServerEvent,
};
use crate::router::{EventHandler, Namespace, Socket};

mod server_event;

/// The code and message every internal failure shows the client.
const INTERNAL: (&str, &str) = ("INTERNAL_ERROR", "Internal error");

/// A namespace's plugin chain, replaced whole by a config reload: an event runs
/// through the chain it started with.
pub struct Pipeline {
    chain: ArcSwap<Chain>,
}

/// Which plugins a namespace runs, in which order, with what options.
struct Chain {
    registry: Arc<Registry>,
    handlers: Vec<String>,
    guards: Vec<String>,
    guard_events: Vec<String>,
    guard_connect: bool,
    validators: BTreeMap<String, Vec<String>>,
    filters: Vec<String>,
    ack_errors: bool,
    max_payload: usize,
}

impl Pipeline {
    /// The chain configured for a namespace.
    pub fn new(registry: Arc<Registry>, ns: &NamespaceConfig, max_payload: usize) -> Pipeline {
        Pipeline {
            chain: ArcSwap::from_pointee(Chain::new(registry, ns, max_payload)),
        }
    }

    /// Takes a reloaded namespace config: events from now on run its chain.
    pub fn reconfigure(&self, ns: &NamespaceConfig, max_payload: usize) {
        let registry = self.chain.load().registry.clone();
        self.chain.store(Arc::new(Chain::new(registry, ns, max_payload)));
    }
}

impl Chain {
    fn new(registry: Arc<Registry>, ns: &NamespaceConfig, max_payload: usize) -> Chain {
        Chain {
            registry,
            handlers: ns.plugins.clone(),
            guards: ns.guards.clone(),
            guard_events: ns.guard_events.clone(),
            guard_connect: ns.guard_connect,
            validators: ns.validators.clone(),
            filters: ns.filters.clone(),
            ack_errors: ns.ack_errors,
            max_payload,
        }
    }

    async fn event(&self, ns: &Arc<Namespace>, socket: &Socket, event: IncomingEvent) -> Option<Payload> {
        let call = CallSocket::new(ns, socket);
        let name = event.name.as_str();
        let payload = payload::to_plugin(event.payload.args.first(), &event.payload.attachments);
        match self.run(&call, name, &payload).await {
            Ok(ack) => ack,
            Err(error) => {
                let body = self.filter(&call, name, &payload, &error).await;
                let ack = (self.ack_errors && event.wants_ack).then(|| {
                    let body = body.clone().unwrap_or_else(|| client_json(&error));
                    Payload::json(vec![json!({ "error": body })])
                });
                if let Some(body) = body {
                    let _ = socket.emit("error", Payload::json(vec![body]));
                }
                ack
            }
        }
    }

    /// Guards, validators, then the handler, for an event whose first argument (and
    /// attachments) are `payload`.
    async fn run(
        &self,
        call: &CallSocket,
        event: &str,
        payload: &PluginPayload,
    ) -> Result<Option<Payload>, PluginError> {
        if self.guard_events.is_empty() || self.guard_events.iter().any(|e| e == event) {
            self.guard(call, event, &payload.json).await?;
        }
        // What the validators passed on, when they changed it.
        let mut validated: Option<PluginPayload> = None;
        for name in self.validators.get(event).into_iter().flatten() {
            let plugin = self.plugin(name, Kind::Validator)?;
            let input = validated.as_ref().unwrap_or(payload);
            let outcome = plugin
                .validate(call, event, input)
                .await
                .map_err(|e| internal(name, event, &e))?;
            match outcome.value {
                Ok(next) => match payload::check(&next, self.max_payload) {
                    Ok(()) => validated = Some(next),
                    Err(err) => return Err(misbehaved(name, &format!("validator output refused: {err}"))),
                },
                Err(violations) => return Err(validation_error(&violations)),
            }
        }
        let Some(plugin) = self.handler_for(event) else {
            return Ok(None);
        };
        let name = plugin.name();
        let input = validated.as_ref().unwrap_or(payload);
        let outcome = plugin
            .on_event(call, event, input)
            .await
            .map_err(|e| internal(name, event, &e))?;
        let ack = match outcome.value? {
            None => None,
            Some(ack) => Some(
                payload::from_plugin(ack, self.max_payload)
                    .map_err(|err| misbehaved(name, &format!("ack refused: {err}")))?,
            ),
        };
        self.apply(Some(&call.ns), Some(&call.socket), name, outcome.effects)?;
        Ok(ack)
    }

    /// Applies a successful call's effects, or refuses them all.
    fn apply(
        &self,
        namespace: Option<&Arc<Namespace>>,
        socket: Option<&Socket>,
        plugin: &str,
        effects: Vec<Effect>,
    ) -> Result<(), PluginError> {
        if effects.is_empty() {
            return Ok(());
        }
        let namespaces = self.registry.namespaces();
        let caller = Caller {
            namespaces: &namespaces,
            namespace,
            socket,
            max_payload: self.max_payload,
        };
        effects::apply(&caller, effects).map_err(|err| match err {
            // The client's limit, not the plugin's fault: the client is told which.
            effects::EffectError::Limit(refusal) => PluginError {
                code: refusal.code().to_owned(),
                message: refusal.to_string(),
                data_json: None,
            },
            err => misbehaved(plugin, &err.to_string()),
        })
    }

    /// Runs every guard; the first refusal wins.
    async fn guard(&self, call: &CallSocket, event: &str, payload_json: &str) -> Result<(), PluginError> {
        for name in &self.guards {
            let plugin = self.plugin(name, Kind::Guard)?;
            let outcome = plugin
                .authorize(call, event, payload_json)
                .await
                .map_err(|e| internal(name, event, &e))?;
            outcome.value?;
        }
        Ok(())
    }

    /// The first handler plugin that handles `event` (no `events` list means all).
    fn handler_for(&self, event: &str) -> Option<Arc<super::instance::Plugin>> {
        self.handlers.iter().find_map(|name| {
            let plugin = self.registry.get(name)?;
            let events = &plugin.settings().events;
            (plugin.kind() == Kind::Handler && (events.is_empty() || events.iter().any(|e| e == event)))
                .then_some(plugin)
        })
    }

    fn plugin(&self, name: &str, kind: Kind) -> Result<Arc<super::instance::Plugin>, PluginError> {
        match self.registry.get(name) {
            Some(plugin) if plugin.kind() == kind => Ok(plugin),
            Some(plugin) => Err(misbehaved(
                name,
                &format!("configured as a {kind} but is a {}", plugin.kind()),
            )),
            // A configured guard or validator that is not loaded fails closed.
            None => Err(misbehaved(name, "configured but not loaded")),
        }
    }

    /// The payload of the client's `error` event, through the filter chain; `None`
    /// means a filter swallowed it. A filter that fails or answers something that is
    /// not JSON is logged and the next one tried; without any, `{message, code}`.
    async fn filter(
        &self,
        call: &CallSocket,
        event: &str,
        payload: &PluginPayload,
        error: &PluginError,
    ) -> Option<Value> {
        for name in &self.filters {
            let Ok(plugin) = self.plugin(name, Kind::Filter) else {
                continue;
            };
            match plugin.catch(call, event, payload, error).await {
                Ok(outcome) => match outcome.value {
                    None => return None,
                    Some(body) if body.len() <= self.max_payload => match serde_json::from_str(&body) {
                        Ok(body) => return Some(body),
                        Err(_) => {
                            misbehaved(name, "filter answered invalid JSON");
                        }
                    },
                    Some(_) => {
                        misbehaved(name, "filter answered more than max_payload");
                    }
                },
                Err(err) => {
                    tracing::warn!(plugin = name, event, %err, "exception filter failed; trying the next")
                }
            }
        }
        Some(client_json(error))
    }

    async fn connect(&self, ns: &Arc<Namespace>, socket: &Socket) -> ConnectResult {
        let call = CallSocket::new(ns, socket);
        if self.guard_connect {
            let auth = socket.handshake().auth.to_string();
            if let Err(error) = self.guard(&call, "connect", &auth).await {
                return Err(refusal(&error));
            }
        }
        let mut effects = Vec::new();
        for name in &self.handlers {
            let Some(plugin) = self.registry.get(name).filter(|p| p.kind() == Kind::Handler) else {
                continue;
            };
            let outcome = match plugin.on_connect(&call).await {
                Ok(outcome) => outcome,
                Err(err) => {
                    let error = internal(name, "connect", &err);
                    return Err(refusal(&error));
                }
            };
            if let Err(error) = outcome.value {
                return Err(refusal(&error));
            }
            effects.push((name.clone(), outcome.effects));
        }
        if effects.iter().all(|(_, e)| e.is_empty()) {
            return Ok(None);
        }
        let socket = socket.clone();
        let ns = ns.clone();
        let namespaces = self.registry.namespaces();
        let max_payload = self.max_payload;
        let after: AfterConnect = Box::new(move || {
            let caller = Caller {
                namespaces: &namespaces,
                namespace: Some(&ns),
                socket: Some(&socket),
                max_payload,
            };
            for (name, effects) in effects {
                if let Err(err) = effects::apply(&caller, effects) {
                    tracing::warn!(plugin = name, %err, "connect effects refused");
                }
            }
        });
        Ok(Some(after))
    }

    async fn disconnect(&self, ns: &Arc<Namespace>, socket: &Socket, reason: DisconnectReason) {
        let call = CallSocket::new(ns, socket);
        for name in &self.handlers {
            let Some(plugin) = self.registry.get(name).filter(|p| p.kind() == Kind::Handler) else {
                continue;
            };
            match plugin.on_disconnect(&call, reason.as_str()).await {
                Ok(outcome) => {
                    let _ = self.apply(Some(ns), Some(socket), name, outcome.effects);
                }
                Err(err) => {
                    internal(name, "disconnect", &err);
                }
            }
        }
    }
}

impl EventHandler for Pipeline {
    fn on_connect<'a>(&'a self, ns: &'a Arc<Namespace>, socket: &'a Socket) -> BoxFuture<'a, ConnectResult> {
        let chain = self.chain.load_full();
        Box::pin(async move { chain.connect(ns, socket).await })
    }

    fn on_event<'a>(
        &'a self,
        ns: &'a Arc<Namespace>,
        socket: &'a Socket,
        event: IncomingEvent,
    ) -> BoxFuture<'a, Option<Payload>> {
        let chain = self.chain.load_full();
        Box::pin(async move { chain.event(ns, socket, event).await })
    }

    fn on_disconnect<'a>(
        &'a self,
        ns: &'a Arc<Namespace>,
        socket: &'a Socket,
        reason: DisconnectReason,
    ) -> BoxFuture<'a, ()> {
        let chain = self.chain.load_full();
        Box::pin(async move { chain.disconnect(ns, socket, reason).await })
    }

    fn on_server_event<'a>(
        &'a self,
        ns: &'a Arc<Namespace>,
        event: ServerEvent,
    ) -> BoxFuture<'a, Option<Value>> {
        let chain = self.chain.load_full();
        Box::pin(async move { chain.server_event(ns, event).await })
    }
}

/// Logs a failed call once and turns it into the client-safe internal error.
fn internal(plugin: &str, event: &str, err: &CallError) -> PluginError {
    tracing::warn!(plugin, event, %err, "plugin call failed");
    PluginError {
        code: INTERNAL.0.to_owned(),
        message: INTERNAL.1.to_owned(),
        data_json: None,
    }
}

/// A plugin broke the contract; logged, and internal to the client.
fn misbehaved(plugin: &str, what: &str) -> PluginError {
    tracing::warn!(plugin, what, "plugin output refused");
    PluginError {
        code: INTERNAL.0.to_owned(),
        message: INTERNAL.1.to_owned(),
        data_json: None,
    }
}

fn validation_error(violations: &[super::bindings::Violation]) -> PluginError {
    let message = violations
        .iter()
        .map(|v| v.message.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let data = json!({ "violations": violations.iter().map(|v| json!({"property": v.property, "message": v.message})).collect::<Vec<_>>() });
    PluginError {
        code: "VALIDATION_ERROR".to_owned(),
        message,
        data_json: Some(data.to_string()),
    }
}

fn refusal(error: &PluginError) -> ConnectRefusal {
    ConnectRefusal {
        message: error.message.clone(),
        code: Some(error.code.clone()),
        data: error
            .data_json
            .as_deref()
            .and_then(|d| serde_json::from_str(d).ok()),
    }
}

/// The `error` event body without a filter: `{message, code}` plus `data` when present.
fn client_json(error: &PluginError) -> Value {
    let mut body = json!({ "message": error.message, "code": error.code });
    if let Some(data) = error
        .data_json
        .as_deref()
        .and_then(|d| serde_json::from_str::<Value>(d).ok())
    {
        body["data"] = data;
    }
    body
}
