//! Sockets per verified user (token `sub`) in one namespace on this node, bounded by
//! `max_connections_per_user`.

use std::collections::HashMap;
use std::sync::Mutex;

use super::Refusal;

/// One namespace's sockets per user, connecting or admitted.
#[derive(Debug, Default)]
pub struct UserSockets {
    /// Most sockets per user; `0` for no limit (and no counting).
    max: usize,
    /// A std mutex: one map operation per socket that connects or leaves.
    counts: Mutex<HashMap<String, usize>>,
}

impl UserSockets {
    /// Counts allowing `max` sockets per user (`0`: no limit, nothing counted).
    pub fn new(max: usize) -> UserSockets {
        UserSockets {
            max,
            counts: Mutex::default(),
        }
    }

    /// Whether sockets are counted at all.
    pub fn limited(&self) -> bool {
        self.max != 0
    }

    /// Counts one more socket of `user`, or refuses it (counted) when it has its most.
    pub fn take(&self, user: &str) -> Result<(), Refusal> {
        let mut counts = self.counts();
        let count = counts.entry(user.to_owned()).or_default();
        if *count >= self.max {
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
        assert!(users.limited());
        users.take("7").expect("first");
        users.take("7").expect("second");
        assert_eq!(users.take("7"), Err(Refusal::ConnectionsPerUser));
        users.take("8").expect("another user");
        users.give("7");
        users.take("7").expect("a place came back");
        users.give("8");
        assert_eq!(users.counts().len(), 1, "a user with no socket is forgotten");
        assert!(!UserSockets::new(0).limited());
    }
}
