//! Quotas and throttling: per-user (per-mailbox) units in a sliding window, an optional limit
//! of requests in flight at once, and forced refusals (`throttle_next`). Each provider gives its
//! limits ([`QuotaRules`]) and the cost of each call; how a refusal looks on the wire is the
//! emulator's.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// A provider's limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaRules {
    /// Units per user in any `window`.
    pub units: u32,
    pub window: Duration,
    /// Requests in flight at once per user (None: no limit).
    pub max_concurrent: Option<usize>,
}

/// Why a call is refused; each carries its Retry-After in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Forced by `throttle_next`.
    Forced(u64),
    /// Too many requests in flight.
    Concurrency(u64),
    /// The units of the window are used up.
    Rate(u64),
}

impl Refusal {
    pub fn retry_after(self) -> u64 {
        match self {
            Refusal::Forced(s) | Refusal::Concurrency(s) | Refusal::Rate(s) => s,
        }
    }
}

pub(crate) struct Quota {
    pub enabled: bool,
    pub rules: QuotaRules,
    used: HashMap<String, VecDeque<(Instant, u32)>>,
    in_flight: HashMap<String, usize>,
    forced: u32,
    forced_retry_after: u64,
}

impl Quota {
    pub fn new(enabled: bool, rules: QuotaRules) -> Quota {
        Quota {
            enabled,
            rules,
            used: HashMap::new(),
            in_flight: HashMap::new(),
            forced: 0,
            forced_retry_after: 1,
        }
    }

    /// Forgets the units used so far.
    pub fn reset(&mut self) {
        self.used.clear();
    }

    pub fn force(&mut self, n: u32, retry_after_secs: u64) {
        self.forced = n;
        self.forced_retry_after = retry_after_secs;
    }

    /// Charges `cost` units to `user` (and, with `slot`, takes one of its request slots, given
    /// back by [`Quota::release`]): the requests in flight for `user` after it, or the refusal.
    pub fn admit(&mut self, user: &str, cost: u32, slot: bool) -> Result<usize, Refusal> {
        if self.forced > 0 {
            self.forced -= 1;
            return Err(Refusal::Forced(self.forced_retry_after));
        }
        let in_flight = self.in_flight.get(user).copied().unwrap_or(0);
        if self.enabled {
            if slot
                && self
                    .rules
                    .max_concurrent
                    .is_some_and(|max| in_flight >= max)
            {
                return Err(Refusal::Concurrency(1));
            }
            let now = Instant::now();
            let window = self.rules.window;
            let q = self.used.entry(user.to_string()).or_default();
            while q
                .front()
                .is_some_and(|(t, _)| now.duration_since(*t) >= window)
            {
                q.pop_front();
            }
            let used: u32 = q.iter().map(|(_, c)| c).sum();
            if used + cost > self.rules.units {
                let wait = q
                    .front()
                    .map(|(t, _)| window.saturating_sub(now.duration_since(*t)))
                    .unwrap_or(window);
                return Err(Refusal::Rate(wait.as_secs_f64().ceil().max(1.0) as u64));
            }
            q.push_back((now, cost));
        }
        if slot {
            self.in_flight.insert(user.to_string(), in_flight + 1);
            return Ok(in_flight + 1);
        }
        Ok(in_flight)
    }

    /// Gives back a request slot taken by [`Quota::admit`].
    pub fn release(&mut self, user: &str) {
        self.release_slots(user, 1);
    }

    /// Takes up to `n` of `user`'s request slots at once (a batch whose parts run in
    /// parallel): how many it got. All of them when quotas are off or there is no limit.
    pub fn take_slots(&mut self, user: &str, n: usize) -> usize {
        let in_flight = self.in_flight.get(user).copied().unwrap_or(0);
        let granted = match self.rules.max_concurrent.filter(|_| self.enabled) {
            Some(max) => n.min(max.saturating_sub(in_flight)),
            None => n,
        };
        self.in_flight.insert(user.to_string(), in_flight + granted);
        granted
    }

    /// Gives back `n` slots taken by [`Quota::take_slots`].
    pub fn release_slots(&mut self, user: &str, n: usize) {
        if let Some(m) = self.in_flight.get_mut(user) {
            *m = m.saturating_sub(n);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(units: u32, max_concurrent: Option<usize>) -> QuotaRules {
        QuotaRules {
            units,
            window: Duration::from_secs(60),
            max_concurrent,
        }
    }

    #[test]
    fn units_run_out_per_user_and_say_when_to_retry() {
        let mut q = Quota::new(true, rules(10, None));
        assert!(q.admit("ada", 5, false).is_ok());
        assert!(q.admit("ada", 5, false).is_ok());
        let refused = q.admit("ada", 1, false).unwrap_err();
        assert!(matches!(refused, Refusal::Rate(s) if (59..=60).contains(&s)));
        assert!(q.admit("grace", 10, false).is_ok(), "per user");
        q.reset();
        assert!(q.admit("ada", 10, false).is_ok(), "reset forgets usage");
    }

    #[test]
    fn slots_limit_requests_in_flight() {
        let mut q = Quota::new(true, rules(100, Some(2)));
        assert_eq!(q.admit("ada", 1, true), Ok(1));
        assert_eq!(q.admit("ada", 1, true), Ok(2));
        assert_eq!(q.admit("ada", 1, true), Err(Refusal::Concurrency(1)));
        q.release("ada");
        assert_eq!(q.admit("ada", 1, true), Ok(2));
    }

    #[test]
    fn slots_taken_together_are_granted_up_to_the_limit() {
        let mut q = Quota::new(true, rules(100, Some(50)));
        assert_eq!(q.admit("ada", 1, true), Ok(1));
        assert_eq!(
            q.take_slots("ada", 100),
            49,
            "a batch of 100 gets what is left"
        );
        assert_eq!(q.take_slots("ada", 1), 0);
        assert_eq!(q.take_slots("grace", 25), 25, "per user");
        q.release_slots("ada", 49);
        q.release("ada");
        assert_eq!(q.take_slots("ada", 25), 25);
        q.enabled = false;
        assert_eq!(q.take_slots("ada", 100), 100, "no limit with quotas off");
    }

    #[test]
    fn switched_off_it_admits_everything_but_forced_refusals() {
        let mut q = Quota::new(false, rules(1, Some(1)));
        assert!(q.admit("ada", 5, true).is_ok());
        assert!(q.admit("ada", 5, true).is_ok());
        q.force(2, 120);
        assert_eq!(q.admit("ada", 1, false), Err(Refusal::Forced(120)));
        assert_eq!(q.admit("ada", 1, false), Err(Refusal::Forced(120)));
        assert!(q.admit("ada", 1, false).is_ok());
    }
}
