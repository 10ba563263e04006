//! The typed calls into a plugin's exports, one per WIT function, each through
//! [`Plugin::call`](super::instance::Plugin) on a pooled instance. A call about a
//! socket lends it to the guest as a `socket` handle and takes it back after.

use wasmtime::Store;
use wasmtime::component::Resource;

use super::CallError;
use super::bindings::{self, Payload, PluginError, Violation};
use super::instance::{Instance, Outcome, Plugin};
use super::state::{CallSocket, HostState};

impl Plugin {
    /// [`Plugin::call`] about `socket`, lent to `f` as a handle for the call and
    /// taken back after, whatever the call returned.
    async fn call_about<R>(
        &self,
        socket: &CallSocket,
        f: impl AsyncFnOnce(&Instance, &mut Store<HostState>, Resource<CallSocket>) -> wasmtime::Result<Option<R>>,
    ) -> Result<Outcome<R>, CallError> {
        let namespace = Some(socket.ns.name());
        self.call(
            namespace,
            async |instance: &Instance, store: &mut Store<HostState>| {
                let owned = store.data_mut().lend(socket.clone())?;
                let borrowed = Resource::new_borrow(owned.rep());
                let result = f(instance, &mut *store, borrowed).await;
                store.data_mut().take_back(owned);
                result
            },
        )
        .await
    }

    /// `handler.on-connect`.
    pub async fn on_connect(
        &self,
        socket: &CallSocket,
    ) -> Result<Outcome<Result<(), PluginError>>, CallError> {
        self.call_about(
            socket,
            async |instance: &Instance, store: &mut Store<HostState>, socket| {
                let Instance::Handler(p) = instance else {
                    return Ok(None);
                };
                p.portico_plugin_handler()
                    .call_on_connect(store, socket)
                    .await
                    .map(Some)
            },
        )
        .await
    }

    /// `handler.on-event`.
    pub async fn on_event(
        &self,
        socket: &CallSocket,
        event: &str,
        payload: &Payload,
    ) -> Result<Outcome<Result<Option<Payload>, PluginError>>, CallError> {
        self.call_about(
            socket,
            async |instance: &Instance, store: &mut Store<HostState>, socket| {
                let Instance::Handler(p) = instance else {
                    return Ok(None);
                };
                p.portico_plugin_handler()
                    .call_on_event(store, socket, event, payload)
                    .await
                    .map(Some)
            },
        )
        .await
    }

    /// `handler.on-disconnect`.
    pub async fn on_disconnect(&self, socket: &CallSocket, reason: &str) -> Result<Outcome<()>, CallError> {
        self.call_about(
            socket,
            async |instance: &Instance, store: &mut Store<HostState>, socket| {
                let Instance::Handler(p) = instance else {
                    return Ok(None);
                };
                p.portico_plugin_handler()
                    .call_on_disconnect(store, socket, reason)
                    .await
                    .map(Some)
            },
        )
        .await
    }

    /// `handler.on-server-event`.
    pub async fn on_server_event(
        &self,
        namespace: &str,
        event: &str,
        args: &Payload,
    ) -> Result<Outcome<Option<Payload>>, CallError> {
        self.call(
            Some(namespace),
            async |instance: &Instance, store: &mut Store<HostState>| {
                let Instance::Handler(p) = instance else {
                    return Ok(None);
                };
                p.portico_plugin_handler()
                    .call_on_server_event(store, namespace, event, args)
                    .await
                    .map(Some)
            },
        )
        .await
    }

    /// `validator.validate`.
    pub async fn validate(
        &self,
        socket: &CallSocket,
        event: &str,
        payload: &Payload,
    ) -> Result<Outcome<Result<Payload, Vec<Violation>>>, CallError> {
        self.call_about(
            socket,
            async |instance: &Instance, store: &mut Store<HostState>, socket| {
                let Instance::Validator(p) = instance else {
                    return Ok(None);
                };
                p.portico_plugin_validator()
                    .call_validate(store, socket, event, payload)
                    .await
                    .map(Some)
            },
        )
        .await
    }

    /// `guard.authorize`.
    pub async fn authorize(
        &self,
        socket: &CallSocket,
        event: &str,
        payload_json: &str,
    ) -> Result<Outcome<Result<(), PluginError>>, CallError> {
        self.call_about(
            socket,
            async |instance: &Instance, store: &mut Store<HostState>, socket| {
                let Instance::Guard(p) = instance else {
                    return Ok(None);
                };
                p.portico_plugin_guard()
                    .call_authorize(store, socket, event, payload_json)
                    .await
                    .map(Some)
            },
        )
        .await
    }

    /// `filter.catch`.
    pub async fn catch(
        &self,
        socket: &CallSocket,
        event: &str,
        payload: &Payload,
        error: &PluginError,
    ) -> Result<Outcome<Option<String>>, CallError> {
        self.call_about(
            socket,
            async |instance: &Instance, store: &mut Store<HostState>, socket| {
                let Instance::Filter(p) = instance else {
                    return Ok(None);
                };
                p.portico_plugin_filter()
                    .call_catch(store, socket, event, payload, error)
                    .await
                    .map(Some)
            },
        )
        .await
    }

    /// `http-handler.handle`.
    pub async fn handle_http(
        &self,
        request: &bindings::HttpRequest,
    ) -> Result<Outcome<bindings::HttpResponse>, CallError> {
        self.call(None, async |instance: &Instance, store: &mut Store<HostState>| {
            let Instance::Http(p) = instance else {
                return Ok(None);
            };
            p.portico_plugin_http_handler()
                .call_handle(store, request)
                .await
                .map(Some)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send<T: Send>(_: &T) {}

    /// Calls run inside spawned tasks, so their futures must be `Send`.
    #[allow(dead_code, clippy::diverging_sub_expression, unreachable_code)]
    fn call_futures_are_send(plugin: &Plugin, socket: &CallSocket, payload: &Payload) {
        assert_send(&plugin.on_event(socket, "e", payload));
        assert_send(&plugin.on_connect(socket));
        assert_send(&plugin.validate(socket, "e", payload));
    }
}
