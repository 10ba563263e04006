//! A server event (another node's `serverSideEmit`) through the namespace's handler
//! plugins.

use std::sync::Arc;

use serde_json::Value;

use super::{Chain, internal, misbehaved};
use crate::plugins::bindings::Payload;
use crate::plugins::{Kind, payload};
use crate::router::Namespace;
use crate::router::handler::ServerEvent;

impl Chain {
    /// Every handler plugin hears a server event, in the configured order; each one's
    /// effects apply on their own, and the first answer is this node's. Server events
    /// carry JSON only: the cluster wire delivers their arguments as values, and an
    /// answer goes back as one.
    pub(super) async fn server_event(&self, ns: &Arc<Namespace>, event: ServerEvent) -> Option<Value> {
        let args = Payload {
            json: Value::Array(event.args).to_string(),
            attachments: Vec::new(),
        };
        let mut answer = None;
        for name in &self.handlers {
            let Some(plugin) = self.registry.get(name).filter(|p| p.kind() == Kind::Handler) else {
                continue;
            };
            let outcome = match plugin.on_server_event(ns.name(), &event.name, &args).await {
                Ok(outcome) => outcome,
                Err(err) => {
                    internal(name, &event.name, &err);
                    continue;
                }
            };
            if self.apply(Some(ns), None, name, outcome.effects).is_err() {
                continue;
            }
            let Some(reply) = outcome.value else {
                continue;
            };
            if !reply.attachments.is_empty() {
                misbehaved(name, "a server event's answer carries no binary");
                continue;
            }
            match payload::from_plugin(reply, self.max_payload) {
                Ok(reply) => {
                    if answer.is_none() {
                        answer = reply.args.first().map(|a| a.value());
                    }
                }
                Err(err) => {
                    misbehaved(name, &format!("server event answer refused: {err}"));
                }
            }
        }
        answer
    }
}
