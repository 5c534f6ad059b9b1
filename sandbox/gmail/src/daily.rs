//! Gmail's daily sending limit: the sends of each user in the last 24 hours.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::lock;

const DAY: Duration = Duration::from_secs(24 * 60 * 60);

/// When each user sent, over the last day.
#[derive(Default)]
pub(crate) struct DailySends(Mutex<HashMap<String, VecDeque<Instant>>>);

impl DailySends {
    /// With `limit` sends a day, how long until `user` may send again (None: now).
    pub fn over_limit(&self, user: &str, limit: u32) -> Option<Duration> {
        let mut all = lock(&self.0);
        let sent = all.entry(user.to_string()).or_default();
        let now = Instant::now();
        while sent.front().is_some_and(|t| now.duration_since(*t) >= DAY) {
            sent.pop_front();
        }
        (sent.len() >= limit as usize).then(|| {
            sent.front()
                .map(|t| DAY.saturating_sub(now.duration_since(*t)))
                .unwrap_or(DAY)
        })
    }

    /// Counts a send of `user`'s.
    pub fn record(&self, user: &str) {
        lock(&self.0)
            .entry(user.to_string())
            .or_default()
            .push_back(Instant::now());
    }
}
