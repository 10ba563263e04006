//! The host side of the plugin imports: log, config, sockets (into the call's
//! outbox), store. Nothing here trusts the guest: sizes and counts are bounded.

use std::time::Duration;

use wasmtime::component::Resource;

use super::bindings::{config, log, presence, socket, sockets, store, types};
use super::state::{CallSocket, Effect, HostState, Target};

/// Longest log line kept from a plugin, in bytes.
const MAX_LOG_LINE: usize = 4096;
/// Most history entries one read returns.
const MAX_HISTORY_READ: u32 = 1000;

impl types::Host for HostState {}

impl log::Host for HostState {
    fn log(&mut self, level: log::Level, message: String) {
        let mut message = message;
        if message.len() > MAX_LOG_LINE {
            let mut end = MAX_LOG_LINE;
            while !message.is_char_boundary(end) {
                end -= 1;
            }
            message.truncate(end);
        }
        let plugin = &*self.call.plugin;
        match level {
            log::Level::Trace => tracing::trace!(plugin, "{message}"),
            log::Level::Debug => tracing::debug!(plugin, "{message}"),
            log::Level::Info => tracing::info!(plugin, "{message}"),
            log::Level::Warn => tracing::warn!(plugin, "{message}"),
            log::Level::Error => tracing::error!(plugin, "{message}"),
        }
    }
}

impl config::Host for HostState {
    fn get(&mut self) -> String {
        self.call.config_json.to_string()
    }
}

impl sockets::Host for HostState {
    fn emit(
        &mut self,
        namespace: Option<String>,
        event: String,
        payload: types::Payload,
        to: sockets::Target,
        except_rooms: Vec<String>,
        except_sender: bool,
    ) {
        let to = match to {
            sockets::Target::All => Target::All,
            sockets::Target::Rooms(rooms) => Target::Rooms(rooms),
            sockets::Target::Socket(id) => Target::Socket(id),
            sockets::Target::User(id) => Target::User(id),
        };
        self.push_effect(Effect::Emit {
            namespace,
            event,
            payload,
            to,
            except_rooms,
            except_sender,
        });
    }

    fn join(&mut self, room: String, socket: Option<String>) {
        self.push_effect(Effect::Join { room, socket });
    }

    fn leave(&mut self, room: String, socket: Option<String>) {
        self.push_effect(Effect::Leave { room, socket });
    }

    fn disconnect(&mut self, socket: Option<String>) {
        self.push_effect(Effect::Disconnect { socket });
    }
}

impl socket::Host for HostState {}

/// The details of a lent socket, read when the plugin asks. A handle the table does
/// not know (it cannot happen: handles are only lent) reads as an empty socket.
impl socket::HostSocket for HostState {
    fn id(&mut self, socket: Resource<CallSocket>) -> String {
        self.lent(&socket)
            .map(|s| s.socket.id().to_string())
            .unwrap_or_default()
    }

    fn namespace(&mut self, socket: Resource<CallSocket>) -> String {
        self.lent(&socket)
            .map(|s| s.socket.nsp().to_owned())
            .unwrap_or_default()
    }

    fn user_json(&mut self, socket: Resource<CallSocket>) -> Option<String> {
        let user = self.lent(&socket)?.socket.handshake().user.as_ref()?;
        Some(user.to_string())
    }

    fn auth_json(&mut self, socket: Resource<CallSocket>) -> String {
        self.lent(&socket)
            .map_or_else(|| "{}".to_owned(), |s| s.socket.handshake().auth.to_string())
    }

    fn headers(&mut self, socket: Resource<CallSocket>) -> Vec<(String, String)> {
        let Some(lent) = self.lent(&socket) else {
            return Vec::new();
        };
        lent.socket
            .handshake()
            .request
            .headers
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_owned(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect()
    }

    fn query(&mut self, socket: Resource<CallSocket>) -> String {
        self.lent(&socket)
            .map(|s| s.socket.handshake().request.query.to_string())
            .unwrap_or_default()
    }

    fn rooms(&mut self, socket: Resource<CallSocket>) -> Vec<String> {
        let Some(lent) = self.lent(&socket) else {
            return Vec::new();
        };
        lent.ns
            .rooms_of(&lent.socket)
            .iter()
            .map(|room| room.to_string())
            .collect()
    }

    fn drop(&mut self, socket: Resource<CallSocket>) -> wasmtime::Result<()> {
        self.take_back(socket);
        Ok(())
    }
}

/// A store write past the plugin's limits: it ends the call, which fails as a trap
/// with this message (counted in `portico_limit_refusals_total{limit}` as well).
fn over_limit(plugin: &str, limit: &'static str, what: String) -> wasmtime::Error {
    crate::metrics::limit_refused(limit);
    tracing::warn!(plugin, limit, "store write refused: {what}");
    wasmtime::Error::msg(format!("store write refused: {what}"))
}

impl store::Host for HostState {
    async fn kv_get(&mut self, key: String) -> wasmtime::Result<Option<String>> {
        let key = self.scoped(&key);
        Ok(self.call.store.get(&key).await)
    }

    async fn kv_set(&mut self, key: String, value: String, ttl_ms: Option<u64>) -> wasmtime::Result<()> {
        self.within_value_limit(value.len())?;
        let key = self.scoped(&key);
        let set = self
            .call
            .store
            .set(&key, value, ttl_ms.map(Duration::from_millis))
            .await;
        set.map_err(|refusal| over_limit(&self.call.plugin, "kv_max_keys", refusal.to_string()))
    }

    async fn kv_delete(&mut self, key: String) -> wasmtime::Result<bool> {
        let key = self.scoped(&key);
        Ok(self.call.store.delete(&key).await)
    }

    async fn kv_incr(&mut self, key: String, delta: i64) -> wasmtime::Result<i64> {
        let key = self.scoped(&key);
        let counted = self.call.store.incr(&key, delta).await;
        counted.map_err(|refusal| over_limit(&self.call.plugin, "kv_max_keys", refusal.to_string()))
    }

    async fn history_append(
        &mut self,
        room: String,
        entry_json: String,
        max_len: u32,
    ) -> wasmtime::Result<()> {
        self.within_value_limit(entry_json.len())?;
        let list = self.scoped(&format!("history:{room}"));
        self.call
            .store
            .append(&list, entry_json, max_len.min(MAX_HISTORY_READ) as usize)
            .await;
        Ok(())
    }

    async fn history_range(&mut self, room: String, limit: u32) -> wasmtime::Result<Vec<String>> {
        let list = self.scoped(&format!("history:{room}"));
        Ok(self
            .call
            .store
            .range(&list, limit.min(MAX_HISTORY_READ) as usize)
            .await)
    }
}

impl HostState {
    /// Refuses a value or history entry of `len` bytes past `kv_max_value_bytes`.
    fn within_value_limit(&self, len: usize) -> wasmtime::Result<()> {
        let max = self.call.kv_max_value_bytes;
        if len > max {
            let what = format!("a value of {len} bytes is over plugins.limits.kv_max_value_bytes ({max})");
            return Err(over_limit(&self.call.plugin, "kv_max_value_bytes", what));
        }
        Ok(())
    }

    /// A namespace by name; `None` is the caller's (`/` for an HTTP call).
    fn namespace(&self, name: Option<&str>) -> Option<std::sync::Arc<crate::router::Namespace>> {
        let name = name.or(self.namespace.as_deref()).unwrap_or("/");
        self.call.namespaces.upgrade()?.get(name).cloned()
    }
}

impl presence::Host for HostState {
    fn online_users(&mut self, namespace: Option<String>) -> Vec<presence::OnlineUser> {
        let Some(ns) = self.namespace(namespace.as_deref()) else {
            return Vec::new();
        };
        ns.presence()
            .online()
            .into_iter()
            .map(|u| presence::OnlineUser {
                user_id: u.user_id,
                username: u.username,
                sockets: u32::try_from(u.sockets).unwrap_or(u32::MAX),
            })
            .collect()
    }

    fn user_sockets(&mut self, namespace: Option<String>, user_id: String) -> Vec<String> {
        let Some(ns) = self.namespace(namespace.as_deref()) else {
            return Vec::new();
        };
        ns.presence()
            .sockets_of(&user_id)
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    fn is_online(&mut self, namespace: Option<String>, user_id: String) -> bool {
        self.namespace(namespace.as_deref())
            .is_some_and(|ns| ns.presence().is_online(&user_id))
    }
}
