//! The typed calls into a plugin's exports, one per WIT function, each through
//! [`Plugin::call`](super::instance::Plugin) on a pooled instance.

use wasmtime::Store;

use super::CallError;
use super::bindings;
use super::instance::{Instance, Outcome, Plugin};
use super::state::{CallContext, HostState};

impl Plugin {
    /// `handler.on-connect`.
    pub async fn on_connect(
        &self,
        ctx: CallContext,
        socket: &bindings::SocketInfo,
    ) -> Result<Outcome<Result<(), bindings::PluginError>>, CallError> {
        self.call(
            ctx,
            async |instance: &Instance, store: &mut Store<HostState>| match instance {
                Instance::Handler(p) => p
                    .portico_plugin_handler()
                    .call_on_connect(store, socket)
                    .await
                    .map(Some),
                _ => Ok(None),
            },
        )
        .await
    }

    /// `handler.on-event`.
    pub async fn on_event(
        &self,
        ctx: CallContext,
        socket: &bindings::SocketInfo,
        event: &str,
        payload_json: &str,
    ) -> Result<Outcome<Result<Option<String>, bindings::PluginError>>, CallError> {
        self.call(
            ctx,
            async |instance: &Instance, store: &mut Store<HostState>| match instance {
                Instance::Handler(p) => p
                    .portico_plugin_handler()
                    .call_on_event(store, socket, event, payload_json)
                    .await
                    .map(Some),
                _ => Ok(None),
            },
        )
        .await
    }

    /// `handler.on-disconnect`.
    pub async fn on_disconnect(
        &self,
        ctx: CallContext,
        socket: &bindings::SocketInfo,
        reason: &str,
    ) -> Result<Outcome<()>, CallError> {
        self.call(
            ctx,
            async |instance: &Instance, store: &mut Store<HostState>| match instance {
                Instance::Handler(p) => p
                    .portico_plugin_handler()
                    .call_on_disconnect(store, socket, reason)
                    .await
                    .map(Some),
                _ => Ok(None),
            },
        )
        .await
    }

    /// `handler.on-server-event`.
    pub async fn on_server_event(
        &self,
        ctx: CallContext,
        namespace: &str,
        event: &str,
        args_json: &str,
    ) -> Result<Outcome<Option<String>>, CallError> {
        self.call(
            ctx,
            async |instance: &Instance, store: &mut Store<HostState>| match instance {
                Instance::Handler(p) => p
                    .portico_plugin_handler()
                    .call_on_server_event(store, namespace, event, args_json)
                    .await
                    .map(Some),
                _ => Ok(None),
            },
        )
        .await
    }

    /// `validator.validate`.
    pub async fn validate(
        &self,
        ctx: CallContext,
        socket: &bindings::SocketInfo,
        event: &str,
        payload_json: &str,
    ) -> Result<Outcome<Result<String, Vec<bindings::Violation>>>, CallError> {
        self.call(
            ctx,
            async |instance: &Instance, store: &mut Store<HostState>| match instance {
                Instance::Validator(p) => p
                    .portico_plugin_validator()
                    .call_validate(store, socket, event, payload_json)
                    .await
                    .map(Some),
                _ => Ok(None),
            },
        )
        .await
    }

    /// `guard.authorize`.
    pub async fn authorize(
        &self,
        ctx: CallContext,
        socket: &bindings::SocketInfo,
        event: &str,
        payload_json: &str,
    ) -> Result<Outcome<Result<(), bindings::PluginError>>, CallError> {
        self.call(
            ctx,
            async |instance: &Instance, store: &mut Store<HostState>| match instance {
                Instance::Guard(p) => p
                    .portico_plugin_guard()
                    .call_authorize(store, socket, event, payload_json)
                    .await
                    .map(Some),
                _ => Ok(None),
            },
        )
        .await
    }

    /// `filter.catch`.
    pub async fn catch(
        &self,
        ctx: CallContext,
        socket: &bindings::SocketInfo,
        event: &str,
        payload_json: &str,
        error: &bindings::PluginError,
    ) -> Result<Outcome<Option<String>>, CallError> {
        self.call(
            ctx,
            async |instance: &Instance, store: &mut Store<HostState>| match instance {
                Instance::Filter(p) => p
                    .portico_plugin_filter()
                    .call_catch(store, socket, event, payload_json, error)
                    .await
                    .map(Some),
                _ => Ok(None),
            },
        )
        .await
    }

    /// `http-handler.handle`.
    pub async fn handle_http(
        &self,
        ctx: CallContext,
        request: &bindings::HttpRequest,
    ) -> Result<Outcome<bindings::HttpResponse>, CallError> {
        self.call(
            ctx,
            async |instance: &Instance, store: &mut Store<HostState>| match instance {
                Instance::Http(p) => p
                    .portico_plugin_http_handler()
                    .call_handle(store, request)
                    .await
                    .map(Some),
                _ => Ok(None),
            },
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send<T: Send>(_: &T) {}

    /// Calls run inside spawned tasks, so their futures must be `Send`.
    #[allow(dead_code, clippy::diverging_sub_expression, unreachable_code)]
    fn call_futures_are_send(plugin: &Plugin, ctx: CallContext, socket: &bindings::SocketInfo) {
        assert_send(&plugin.on_event(ctx.clone(), socket, "e", "null"));
        assert_send(&plugin.on_connect(ctx.clone(), socket));
        assert_send(&plugin.validate(ctx.clone(), socket, "e", "null"));
    }
}
