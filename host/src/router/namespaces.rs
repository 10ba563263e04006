//! Every namespace the gateway serves, by name, and a handle to them that does not
//! keep them alive.

use std::collections::HashMap;
use std::sync::Arc;

use super::Namespace;

/// All configured namespaces, by name. Fixed at start-up.
#[derive(Debug, Clone, Default)]
pub struct Namespaces(Arc<HashMap<String, Arc<Namespace>>>);

impl Namespaces {
    /// The registry of `namespaces`.
    pub fn new(namespaces: impl IntoIterator<Item = Arc<Namespace>>) -> Namespaces {
        Namespaces(Arc::new(
            namespaces
                .into_iter()
                .map(|ns| (ns.name().to_owned(), ns))
                .collect(),
        ))
    }

    /// A namespace by name.
    pub fn get(&self, name: &str) -> Option<&Arc<Namespace>> {
        self.0.get(name)
    }

    /// Every namespace.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<Namespace>> {
        self.0.values()
    }

    /// A handle that does not keep the namespaces alive, for what the namespaces
    /// themselves own (their handlers' plugin registry): no reference cycle.
    pub fn downgrade(&self) -> WeakNamespaces {
        WeakNamespaces(Arc::downgrade(&self.0))
    }
}

/// [`Namespaces`] without ownership: see [`Namespaces::downgrade`].
#[derive(Debug, Clone, Default)]
pub struct WeakNamespaces(std::sync::Weak<HashMap<String, Arc<Namespace>>>);

impl WeakNamespaces {
    /// The namespaces, while the gateway serving them exists.
    pub fn upgrade(&self) -> Option<Namespaces> {
        self.0.upgrade().map(Namespaces)
    }
}
