//! A namespace served by plugins, with NestJS semantics: guards → validators →
//! handler; the handler's return is the ack; any failure (guard refusal, violations,
//! a handler error, a trap, a deadline) goes through the exception filters and
//! reaches the client as an `error` event `{message, code}`, with no ack unless the
//! namespace sets `ack_errors`. A handler's emits and joins apply only if it succeeds.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Value, json};

use super::bindings::{ClientError, PluginError, SocketInfo};
use super::registry::Registry;
use super::state::{Effect, Target};
use super::{CallError, Kind};
use crate::config::NamespaceConfig;
use crate::protocol::socketio::Payload;
use crate::reason::DisconnectReason;
use crate::router::handler::{AfterConnect, BoxFuture, ConnectRefusal, ConnectResult, IncomingEvent};
use crate::router::{EventHandler, Socket, Targets};

/// The code and message every internal failure shows the client.
const INTERNAL: (&str, &str) = ("INTERNAL_ERROR", "Internal error");

/// A namespace's plugin chain.
pub struct Pipeline {
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

    async fn event(&self, socket: &Socket, event: IncomingEvent) -> Option<Payload> {
        let info = plugin_socket(socket);
        let name = event.name.as_str();
        let mut payload = match event.payload.args.first() {
            Some(first) => first.to_string(),
            None => "null".to_owned(),
        };
        let result = self.run(socket, &info, name, &mut payload).await;
        match result {
            Ok(ack) => ack,
            Err(error) => {
                let client = self.filter(&info, name, &error).await;
                if let Some(client) = &client {
                    let _ = socket.emit("error", Payload::json(vec![client_json(client)]));
                }
                if self.ack_errors && event.wants_ack {
                    let (message, code) = client
                        .map(|c| (c.message, c.code))
                        .unwrap_or_else(|| (error.message.clone(), error.code.clone()));
                    return Some(Payload::json(vec![
                        json!({ "error": { "message": message, "code": code } }),
                    ]));
                }
                None
            }
        }
    }

    async fn run(
        &self,
        socket: &Socket,
        info: &PluginSocket,
        event: &str,
        payload: &mut String,
    ) -> Result<Option<Payload>, PluginError> {
        if self.guard_events.is_empty() || self.guard_events.iter().any(|e| e == event) {
            self.guard(info, event, payload).await?;
        }
        for name in self.validators.get(event).into_iter().flatten() {
            let plugin = self.plugin(name, Kind::Validator)?;
            let ctx = self.context(&plugin, info);
            let outcome = plugin
                .validate(ctx, &info.info, event, payload)
                .await
                .map_err(|e| internal(name, event, &e))?;
            match outcome.value {
                Ok(next) if serde_json::from_str::<Value>(&next).is_ok() => *payload = next,
                Ok(_) => return Err(misbehaved(name, "validator returned invalid JSON")),
                Err(violations) => return Err(validation_error(&violations)),
            }
        }
        let Some(plugin) = self.handler_for(event) else {
            return Ok(None);
        };
        let name = plugin.name();
        let ctx = self.context(&plugin, info);
        let outcome = plugin
            .on_event(ctx, &info.info, event, payload)
            .await
            .map_err(|e| internal(name, event, &e))?;
        let ack = outcome.value?;
        let ack = match ack {
            None => None,
            Some(json) => match serde_json::from_str::<Value>(&json) {
                Ok(value) if json.len() <= self.max_payload => Some(Payload::json(vec![value])),
                _ => return Err(misbehaved(name, "ack is not JSON within max_payload")),
            },
        };
        apply(socket, name, outcome.effects, self.max_payload)?;
        Ok(ack)
    }

    /// The context of a call about the socket `info` describes.
    fn context(&self, plugin: &super::instance::Plugin, info: &PluginSocket) -> super::state::CallContext {
        let mut ctx = self.registry.call_context(plugin.name(), plugin.settings());
        ctx.namespace = Some(info.namespace.clone());
        ctx
    }

    /// Runs every guard; the first refusal wins.
    async fn guard(&self, info: &PluginSocket, event: &str, payload: &str) -> Result<(), PluginError> {
        for name in &self.guards {
            let plugin = self.plugin(name, Kind::Guard)?;
            let ctx = self.context(&plugin, info);
            let outcome = plugin
                .authorize(ctx, &info.info, event, payload)
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

    /// The client's error through the filter chain; `None` means swallowed.
    async fn filter(&self, info: &PluginSocket, event: &str, error: &PluginError) -> Option<ClientError> {
        for name in &self.filters {
            let Ok(plugin) = self.plugin(name, Kind::Filter) else {
                continue;
            };
            let ctx = self.context(&plugin, info);
            match plugin.catch(ctx, &info.info, event, error).await {
                Ok(outcome) => return outcome.value,
                Err(err) => {
                    tracing::warn!(plugin = name, event, %err, "exception filter failed; trying the next")
                }
            }
        }
        Some(ClientError {
            message: error.message.clone(),
            code: error.code.clone(),
            data_json: error.data_json.clone(),
        })
    }

    async fn connect(&self, socket: &Socket) -> ConnectResult {
        let info = plugin_socket(socket);
        if self.guard_connect {
            let auth = socket.handshake().auth.to_string();
            if let Err(error) = self.guard(&info, "connect", &auth).await {
                return Err(refusal(&error));
            }
        }
        let mut effects = Vec::new();
        for name in &self.handlers {
            let Some(plugin) = self.registry.get(name).filter(|p| p.kind() == Kind::Handler) else {
                continue;
            };
            let ctx = self.context(&plugin, &info);
            let outcome = match plugin.on_connect(ctx, &info.info).await {
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
        let max_payload = self.max_payload;
        let after: AfterConnect = Box::new(move || {
            for (name, effects) in effects {
                if let Err(err) = apply(&socket, &name, effects, max_payload) {
                    tracing::warn!(plugin = name, message = err.message, "connect effects refused");
                }
            }
        });
        Ok(Some(after))
    }

    async fn disconnect(&self, socket: &Socket, reason: DisconnectReason) {
        let info = plugin_socket(socket);
        for name in &self.handlers {
            let Some(plugin) = self.registry.get(name).filter(|p| p.kind() == Kind::Handler) else {
                continue;
            };
            let ctx = self.context(&plugin, &info);
            match plugin.on_disconnect(ctx, &info.info, reason.as_str()).await {
                Ok(outcome) => {
                    let _ = apply(socket, name, outcome.effects, self.max_payload);
                }
                Err(err) => {
                    internal(name, "disconnect", &err);
                }
            }
        }
    }
}

impl EventHandler for Pipeline {
    fn on_connect<'a>(&'a self, socket: &'a Socket) -> BoxFuture<'a, ConnectResult> {
        Box::pin(self.connect(socket))
    }

    fn on_event<'a>(&'a self, socket: &'a Socket, event: IncomingEvent) -> BoxFuture<'a, Option<Payload>> {
        Box::pin(self.event(socket, event))
    }

    fn on_disconnect<'a>(&'a self, socket: &'a Socket, reason: DisconnectReason) -> BoxFuture<'a, ()> {
        Box::pin(self.disconnect(socket, reason))
    }
}

/// What plugins are told about a socket, made once per socket (it does not change
/// while the socket lives) and kept with it.
struct PluginSocket {
    info: SocketInfo,
    /// Its namespace, for call contexts.
    namespace: Arc<str>,
}

fn plugin_socket(socket: &Socket) -> Arc<PluginSocket> {
    socket.handler_state(|socket| PluginSocket {
        info: SocketInfo {
            id: socket.id().to_string(),
            namespace: socket.namespace().name().to_owned(),
            user_json: socket.handshake().user.as_ref().map(Value::to_string),
            auth_json: socket.handshake().auth.to_string(),
        },
        namespace: socket.namespace().name().into(),
    })
}

/// Checks then applies a successful call's effects; output from a plugin is never
/// trusted blindly.
fn apply(socket: &Socket, plugin: &str, effects: Vec<Effect>, max_payload: usize) -> Result<(), PluginError> {
    let mut checked = Vec::with_capacity(effects.len());
    for effect in effects {
        if let Effect::Emit {
            event, payload_json, ..
        } = &effect
        {
            if event.is_empty() || payload_json.len() > max_payload {
                return Err(misbehaved(
                    plugin,
                    "emit with an empty event name or an oversized payload",
                ));
            }
            let Ok(value) = serde_json::from_str::<Value>(payload_json) else {
                return Err(misbehaved(plugin, "emit payload is not JSON"));
            };
            checked.push((effect, Some(value)));
        } else {
            checked.push((effect, None));
        }
    }
    for (effect, value) in checked {
        apply_one(socket, effect, value);
    }
    Ok(())
}

fn apply_one(socket: &Socket, effect: Effect, value: Option<Value>) {
    let ns = socket.namespace();
    let resolve = |id: Option<String>| match id {
        None => Some(socket.clone()),
        Some(id) => ns.socket(&id),
    };
    match effect {
        Effect::Emit {
            event,
            to,
            except_rooms,
            except_sender,
            ..
        } => {
            let mut targets = match to {
                Target::All => Targets::default(),
                Target::Rooms(rooms) => Targets {
                    rooms: rooms.into_iter().map(Into::into).collect(),
                    ..Targets::default()
                },
                Target::Socket(id) => Targets::default().to(id),
                Target::User(id) => Targets::default().to(format!("user:{id}")),
            };
            targets.except = except_rooms.into_iter().map(Into::into).collect();
            if except_sender {
                targets.except_socket = Some(socket.id().clone());
            }
            ns.emit(
                &targets,
                &event,
                Payload::json(vec![value.unwrap_or(Value::Null)]),
            );
        }
        Effect::Join { room, socket: id } => {
            if let Some(target) = resolve(id) {
                target.join(&[room.into()]);
            }
        }
        Effect::Leave { room, socket: id } => {
            if let Some(target) = resolve(id) {
                target.leave(&room);
            }
        }
        Effect::Disconnect { socket: id } => {
            if let Some(target) = resolve(id) {
                target.disconnect();
            }
        }
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

/// The `error` event body: `{message, code}` plus `data` when present.
fn client_json(error: &ClientError) -> Value {
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
