//! Each socket's event budget: a token bucket (GCRA, from `governor`) refilled at
//! `events_per_second` and holding `event_burst`, plus a second bucket of strikes
//! that a flooding socket empties: then it is disconnected.
//!
//! A check is one clock read and one compare-and-swap on the socket's own state, so
//! it costs every event almost nothing and a refused event even less.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

use crate::config::LimitsConfig;

/// The window in which `rate_limited_disconnect_after` refusals disconnect a socket.
pub const STRIKE_WINDOW: Duration = Duration::from_secs(10);

/// The event limits of every socket of a namespace, from `[limits]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventLimits {
    /// The sustained rate and the burst; `None` when events are not limited.
    events: Option<Quota>,
    /// Refusals tolerated per [`STRIKE_WINDOW`]; `None` never disconnects.
    strikes: Option<Quota>,
}

impl EventLimits {
    /// No limit at all.
    pub const UNLIMITED: EventLimits = EventLimits {
        events: None,
        strikes: None,
    };

    /// The limits `[limits]` sets.
    pub fn from_config(limits: &LimitsConfig) -> EventLimits {
        let events = NonZeroU32::new(limits.events_per_second).map(|rate| {
            let burst = NonZeroU32::new(limits.event_burst).unwrap_or(rate);
            Quota::per_second(rate).allow_burst(burst)
        });
        let strikes = NonZeroU32::new(limits.rate_limited_disconnect_after)
            .and_then(|n| Some(Quota::with_period(STRIKE_WINDOW / n.get())?.allow_burst(n)));
        EventLimits { events, strikes }
    }

    /// A fresh budget for one socket, or `None` when its events are not limited.
    pub fn budget(&self) -> Option<EventBudget> {
        Some(EventBudget {
            events: RateLimiter::direct(self.events?),
            strikes: self.strikes.map(RateLimiter::direct),
        })
    }
}

/// What [`EventBudget::check`] says about one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Within the budget: handle it.
    Allowed,
    /// Over the budget: refuse it, tell the client.
    Refused,
    /// Over the budget, and the socket has been refused too often: disconnect it.
    Abusive,
}

/// One socket's event budget.
pub struct EventBudget {
    events: DefaultDirectRateLimiter,
    strikes: Option<DefaultDirectRateLimiter>,
}

impl std::fmt::Debug for EventBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventBudget").finish_non_exhaustive()
    }
}

impl EventBudget {
    /// Takes one event from the budget.
    pub fn check(&self) -> Verdict {
        if self.events.check().is_ok() {
            return Verdict::Allowed;
        }
        match &self.strikes {
            Some(strikes) if strikes.check().is_err() => Verdict::Abusive,
            _ => Verdict::Refused,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(rate: u32, burst: u32, strikes: u32) -> EventLimits {
        EventLimits::from_config(&LimitsConfig {
            events_per_second: rate,
            event_burst: burst,
            rate_limited_disconnect_after: strikes,
            ..LimitsConfig::default()
        })
    }

    fn verdicts(budget: &EventBudget, n: usize) -> Vec<Verdict> {
        (0..n).map(|_| budget.check()).collect()
    }

    #[test]
    fn a_burst_passes_then_events_are_refused_then_the_socket_is_abusive() {
        let budget = limits(1, 3, 2).budget().expect("limited");
        use Verdict::*;
        // Three in the bucket; two strikes tolerated; the third refusal is abuse.
        assert_eq!(
            verdicts(&budget, 7),
            [Allowed, Allowed, Allowed, Refused, Refused, Abusive, Abusive]
        );
    }

    #[test]
    fn the_bucket_refills_at_the_sustained_rate() {
        let budget = limits(1000, 1, 0).budget().expect("limited");
        assert_eq!(budget.check(), Verdict::Allowed);
        assert_eq!(budget.check(), Verdict::Refused);
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(budget.check(), Verdict::Allowed);
    }

    #[test]
    fn zero_turns_limits_off() {
        assert!(limits(0, 10, 10).budget().is_none());
        assert_eq!(EventLimits::UNLIMITED.budget().map(|_| ()), None);
        // No strikes: refused forever, never abusive.
        let budget = limits(1, 1, 0).budget().expect("limited");
        assert!(
            verdicts(&budget, 500)
                .iter()
                .skip(1)
                .all(|v| *v == Verdict::Refused)
        );
    }
}
