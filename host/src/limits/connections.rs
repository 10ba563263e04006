//! Connections open at once: on the whole node (`max_connections`) and from one client
//! address (`max_connections_per_ip`). A connection holds a [`ConnectionPermit`] for
//! its life; dropping it gives the place back.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use super::Refusal;
use crate::config::LimitsConfig;

/// The client's address: the TCP peer the accept loop recorded on the request, if
/// it came through it.
pub fn peer_ip<B>(req: &http::Request<B>) -> Option<IpAddr> {
    req.extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|info| info.0.ip())
}

/// The node's connection counts and their limits; shared by both transports.
#[derive(Debug, Default)]
pub struct ConnectionLimits {
    /// Most connections at once; `0` for no limit. Atomics, so a reload can change
    /// them while connections come and go.
    max: AtomicUsize,
    /// Most connections from one address; `0` for no limit.
    per_ip: AtomicUsize,
    open: AtomicUsize,
    /// Connections by address, only kept when `per_ip` is set. A std mutex: one map
    /// operation per connection opened or closed.
    by_ip: Mutex<HashMap<IpAddr, usize>>,
}

impl ConnectionLimits {
    /// The limits `[limits]` sets.
    pub fn from_config(limits: &LimitsConfig) -> ConnectionLimits {
        let connections = ConnectionLimits::default();
        connections.reconfigure(limits);
        connections
    }

    /// Takes the limits a reloaded `[limits]` sets. Connections open already stay;
    /// when `max_connections_per_ip` is turned on, only those opened after count.
    pub fn reconfigure(&self, limits: &LimitsConfig) {
        self.max.store(limits.max_connections, Ordering::Relaxed);
        self.per_ip
            .store(limits.max_connections_per_ip, Ordering::Relaxed);
    }

    /// Takes a place for a connection from `ip` (unknown when the request did not come
    /// through the listener, as in tests), or says which limit is reached. The refusal
    /// is counted.
    pub fn acquire(self: &Arc<Self>, ip: Option<IpAddr>) -> Result<ConnectionPermit, Refusal> {
        let open = self.open.fetch_add(1, Ordering::AcqRel);
        let mut permit = ConnectionPermit {
            limits: self.clone(),
            ip: None,
        };
        let (max, per_ip) = (
            self.max.load(Ordering::Relaxed),
            self.per_ip.load(Ordering::Relaxed),
        );
        if max != 0 && open >= max {
            Refusal::Connections.count();
            return Err(Refusal::Connections);
        }
        if let Some(ip) = ip.filter(|_| per_ip != 0) {
            let mut by_ip = self.by_ip();
            let count = by_ip.entry(ip).or_default();
            if *count >= per_ip {
                Refusal::ConnectionsPerIp.count();
                return Err(Refusal::ConnectionsPerIp);
            }
            *count += 1;
            permit.ip = Some(ip);
        }
        Ok(permit)
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.open.load(Ordering::Acquire)
    }

    fn release(&self, ip: Option<IpAddr>) {
        self.open.fetch_sub(1, Ordering::AcqRel);
        if let Some(ip) = ip {
            let mut by_ip = self.by_ip();
            if let Some(count) = by_ip.get_mut(&ip) {
                *count -= 1;
                if *count == 0 {
                    by_ip.remove(&ip);
                }
            }
        }
    }

    fn by_ip(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, usize>> {
        self.by_ip.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// One connection's place; given back when dropped.
#[derive(Debug)]
pub struct ConnectionPermit {
    limits: Arc<ConnectionLimits>,
    /// The address counted, when per-address counting is on.
    ip: Option<IpAddr>,
}

impl Drop for ConnectionPermit {
    fn drop(&mut self) {
        self.limits.release(self.ip.take());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max: usize, per_ip: usize) -> Arc<ConnectionLimits> {
        Arc::new(ConnectionLimits::from_config(&LimitsConfig {
            max_connections: max,
            max_connections_per_ip: per_ip,
            ..LimitsConfig::default()
        }))
    }

    const A: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1)));
    const B: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2)));

    #[test]
    fn the_total_is_bounded_and_a_closed_connection_gives_its_place_back() {
        let limits = limits(2, 0);
        let first = limits.acquire(A).expect("first");
        let _second = limits.acquire(B).expect("second");
        assert_eq!(limits.acquire(A).err(), Some(Refusal::Connections));
        assert_eq!(limits.open(), 2, "a refused connection holds nothing");
        drop(first);
        assert!(limits.acquire(None).is_ok());
    }

    #[test]
    fn each_address_is_bounded_on_its_own() {
        let limits = limits(0, 1);
        let a = limits.acquire(A).expect("a");
        assert_eq!(limits.acquire(A).err(), Some(Refusal::ConnectionsPerIp));
        let _b = limits.acquire(B).expect("another address");
        let _unknown = limits.acquire(None).expect("no address, no per-address limit");
        drop(a);
        let _again = limits.acquire(A).expect("its place came back");
        assert_eq!(limits.by_ip().len(), 2);
    }

    #[test]
    fn zero_means_no_limit() {
        let limits = limits(0, 0);
        let permits: Vec<_> = (0..1000).map(|_| limits.acquire(A)).collect();
        assert!(permits.iter().all(Result::is_ok));
        assert!(limits.by_ip().is_empty(), "addresses are not even kept");
    }
}
