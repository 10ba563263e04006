//! Namespaces, sockets, rooms and fan-out: where an emit finds its recipients.
//!
//! # Layout
//! - [`adapter`]: a namespace's sockets, rooms and delivery behind the [`adapter::Adapter`]
//!   seam (local now, Redis next).
//! - [`broadcast`]: who receives an emit ([`broadcast::Targets`]) and the event encoded once.
//! - [`socket`]: one client in one namespace, whatever its framing.
//! - [`namespace`]: connect and dispatch for every transport; its adapter, handler, presence.
//! - [`namespaces`]: every namespace by name.
//! - [`presence`]: users online per namespace, across their sockets.
//! - [`recovery`]: what a namespace keeps so a reconnecting client resumes its socket.
//! - [`observer`]: who is told of sockets and rooms changing (the Admin UI).
//! - [`handler`]: the trait event handlers implement (built-ins now, plugins later).

pub mod adapter;
pub mod broadcast;
pub mod handler;
pub mod namespace;
pub mod namespaces;
pub mod observer;
pub mod presence;
pub mod recovery;
pub mod socket;

pub use broadcast::Targets;
pub use handler::EventHandler;
pub use namespace::{Connected, Namespace};
pub use namespaces::{Namespaces, WeakNamespaces};
pub use observer::Observer;
pub use socket::{Framing, Handshake, Socket};

/// A room name.
pub type Room = std::sync::Arc<str>;
/// A socket id.
pub type SocketId = std::sync::Arc<str>;
