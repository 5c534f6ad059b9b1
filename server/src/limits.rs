//! What a stranger may cost the server: rates, concurrency, timeouts and sizes.
//!
//! Every number here is a default chosen for one server on a small machine; each is a field of
//! [`Limits`] (held in [`crate::Config`]) so tests and deployments can change it. The values,
//! and why, are listed in `docs/limits.md`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Limits of one server.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Client-secret checks (argon2) running at once; more wait up to
    /// [`Limits::secret_check_wait`], then get `429`.
    pub secret_checks: usize,
    pub secret_check_wait: Duration,
    /// Token requests per source address (every attempt counts).
    pub token_per_source: Rate,
    /// Failed token requests per client id.
    pub token_failures_per_client: Rate,
    /// Requests per source address to the other endpoints a stranger reaches without a token
    /// (the OAuth callback).
    pub public_per_source: Rate,
    /// A request's head (request line and headers) must arrive within this.
    pub header_timeout: Duration,
    /// A request's body must arrive within this once its head arrived.
    pub body_timeout: Duration,
    /// An idle keep-alive connection is closed after this.
    pub keep_alive: Duration,
    /// Open connections across all workers; more wait in the listen backlog.
    pub max_connections: usize,
    /// Body size of every JSON route but execute (execute: `max_execute_body`).
    pub max_body: usize,
    /// Uploads and attachment handles (docs/attachments.md).
    pub attachments: crate::services::attachments::AttachmentLimits,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            secret_checks: 2,
            secret_check_wait: Duration::from_secs(2),
            token_per_source: Rate::new(60, 10.0),
            token_failures_per_client: Rate::new(10, 1.0),
            public_per_source: Rate::new(60, 10.0),
            header_timeout: Duration::from_secs(5),
            body_timeout: Duration::from_secs(15),
            keep_alive: Duration::from_secs(5),
            max_connections: 10_000,
            max_body: 1024 * 1024,
            attachments: Default::default(),
        }
    }
}

/// A token bucket: `burst` at once, refilled at `per_second`.
#[derive(Debug, Clone, Copy)]
pub struct Rate {
    pub burst: u32,
    pub per_second: f64,
}

impl Rate {
    pub const fn new(burst: u32, per_second: f64) -> Rate {
        Rate { burst, per_second }
    }
}

/// Above this many keys a limiter forgets the full buckets (and, if still full, all).
const MAX_KEYS: usize = 100_000;

/// Token buckets by key (a source address, a client id), in memory of one process.
pub struct RateLimiter {
    rate: Rate,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    pub fn new(rate: Rate) -> RateLimiter {
        RateLimiter {
            rate,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    fn refilled(&self, (tokens, at): (f64, Instant), now: Instant) -> f64 {
        (tokens + now.duration_since(at).as_secs_f64() * self.rate.per_second)
            .min(f64::from(self.rate.burst))
    }

    /// Takes one token of `key`'s bucket, or says how long until one is there.
    pub fn take(&self, key: &str) -> Result<(), Duration> {
        let now = Instant::now();
        let mut map = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() >= MAX_KEYS && !map.contains_key(key) {
            let burst = f64::from(self.rate.burst);
            map.retain(|_, b| self.refilled(*b, now) < burst);
            if map.len() >= MAX_KEYS {
                map.clear();
            }
        }
        let full = (f64::from(self.rate.burst), now);
        let bucket = map.entry(key.to_string()).or_insert(full);
        let tokens = self.refilled(*bucket, now);
        if tokens >= 1.0 {
            *bucket = (tokens - 1.0, now);
            Ok(())
        } else {
            *bucket = (tokens, now);
            Err(self.wait_for_one(tokens))
        }
    }

    /// Whether `key` has a token left, without taking it; how long until it has one if not.
    pub fn check(&self, key: &str) -> Result<(), Duration> {
        let map = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match map.get(key) {
            Some(b) => {
                let tokens = self.refilled(*b, Instant::now());
                if tokens >= 1.0 {
                    Ok(())
                } else {
                    Err(self.wait_for_one(tokens))
                }
            }
            None => Ok(()),
        }
    }

    fn wait_for_one(&self, tokens: f64) -> Duration {
        if self.rate.per_second <= 0.0 {
            return Duration::from_secs(3600);
        }
        Duration::from_secs_f64(((1.0 - tokens) / self.rate.per_second).max(0.001))
    }
}

/// `rate_limited` with `Retry-After` (whole seconds, at least one).
pub fn too_many(what: &str, wait: Duration) -> connector_core::ConnectorError {
    connector_core::ConnectorError::new(
        connector_core::ErrorCode::RateLimited,
        format!("too many {what}; retry after the time in Retry-After"),
    )
    .with_retry_after(Some(Duration::from_secs(
        wait.as_secs_f64().ceil().max(1.0) as u64,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_says_when_to_come_back() {
        let l = RateLimiter::new(Rate::new(3, 1.0));
        for _ in 0..3 {
            l.take("a").unwrap();
        }
        let wait = l.take("a").unwrap_err();
        assert!(
            wait > Duration::from_millis(500) && wait <= Duration::from_secs(1),
            "{wait:?}"
        );
        assert!(l.check("a").is_err());
        l.take("b").unwrap();
    }
}
