//! Sockets per verified user (token `sub`) in one namespace on this node, bounded by
//! `max_connections_per_user`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::Refusal;

/// One namespace's sockets per user, connecting or admitted. They are counted even
/// with no limit, so a reload that sets one finds the counts right.
#[derive(Debug, Default)]
pub struct UserSockets {
    /// Most sockets per user; `0` for no limit. An atomic: a reload changes it.
    max: AtomicUsize,
    /// A std mutex: one map operation per socket that connects or leaves.
    counts: Mutex<HashMap<String, usize>>,
}

impl UserSockets {
    /// Counts allowing `max` sockets per user (`0`: no limit).
    pub fn new(max: usize) -> UserSockets {
        UserSockets {
            max: AtomicUsize::new(max),
            counts: Mutex::default(),
        }
    }

    /// Allows `max` sockets per user from now on; users past it keep their sockets.
    pub fn set_max(&self, max: usize) {
        self.max.store(max, Ordering::Relaxed);
    }

    /// Counts one more socket of `user`, or refuses it (counted) when it has its most.
    pub fn take(&self, user: &str) -> Result<(), Refusal> {
        let mut counts = self.counts();
        let max = self.max.load(Ordering::Relaxed);
        let count = counts.entry(user.to_owned()).or_default();
        if max != 0 && *count >= max {
            Refusal::ConnectionsPerUser.count();
            return Err(Refusal::ConnectionsPerUser);
        }
        *count += 1;
        Ok(())
    }

    /// Gives back one of `user`'s places.
    pub fn give(&self, user: &str) {
        let mut counts = self.counts();
        if let Some(count) = counts.get_mut(user) {
            *count -= 1;
            if *count == 0 {
                counts.remove(user);
            }
        }
    }

    fn counts(&self) -> std::sync::MutexGuard<'_, HashMap<String, usize>> {
        self.counts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_user_has_its_own_places_and_gets_them_back() {
        let users = UserSockets::new(2);
        users.take("7").expect("first");
        users.take("7").expect("second");
        assert_eq!(users.take("7"), Err(Refusal::ConnectionsPerUser));
        users.take("8").expect("another user");
        users.give("7");
        users.take("7").expect("a place came back");
        users.give("8");
        assert_eq!(users.counts().len(), 1, "a user with no socket is forgotten");
    }

    #[test]
    fn a_limit_set_later_counts_the_sockets_taken_before() {
        let users = UserSockets::new(0);
        for _ in 0..3 {
            users.take("7").expect("no limit");
        }
        users.set_max(3);
        assert_eq!(users.take("7"), Err(Refusal::ConnectionsPerUser));
        users.give("7");
        users.take("7").expect("a place came back under the new limit");
        users.set_max(0);
        users.take("7").expect("no limit again");
    }
}
