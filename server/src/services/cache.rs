//! Database answers kept in memory for a short, configured lifetime (`Duration::ZERO`: off).
//!
//! A cache belongs to the service that changes the data it holds, which forgets an entry in
//! the same call that changes it; nothing outside that service touches it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Above this many entries a cache sweeps the expired ones (and, if still full, drops all).
const CACHE_MAX: usize = 10_000;

/// Values by key, each reused for the cache's lifetime.
pub(crate) struct HotCache<V> {
    ttl: Duration,
    map: Mutex<HashMap<String, (V, Instant)>>,
    /// Bumped by every forget: an answer read before a forget is not cached after it (else a
    /// lookup racing a revoke could cache the revoked record again).
    generation: AtomicU64,
}

impl<V: Clone> HotCache<V> {
    pub(crate) fn new(ttl: Duration) -> Self {
        HotCache {
            ttl,
            map: Mutex::new(HashMap::new()),
            generation: AtomicU64::new(0),
        }
    }

    /// Whether the cache keeps anything at all.
    pub(crate) fn enabled(&self) -> bool {
        !self.ttl.is_zero()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (V, Instant)>> {
        self.map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The cached value if read less than the lifetime ago.
    pub(crate) fn get(&self, key: &str) -> Option<V> {
        let map = self.lock();
        let (v, at) = map.get(key)?;
        (at.elapsed() < self.ttl).then(|| v.clone())
    }

    /// Take before reading the database; pass to [`HotCache::put`].
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Caches `value` unless something was forgotten since `generation` was taken.
    pub(crate) fn put(&self, key: String, value: V, generation: u64) {
        if !self.enabled() {
            return;
        }
        let mut map = self.lock();
        if self.generation.load(Ordering::SeqCst) != generation {
            return;
        }
        if map.len() >= CACHE_MAX {
            map.retain(|_, (_, at)| at.elapsed() < self.ttl);
            if map.len() >= CACHE_MAX {
                map.clear();
            }
        }
        map.insert(key, (value, Instant::now()));
    }

    pub(crate) fn remove(&self, key: &str) {
        let mut map = self.lock();
        self.generation.fetch_add(1, Ordering::SeqCst);
        map.remove(key);
    }

    pub(crate) fn retain(&self, mut keep: impl FnMut(&V) -> bool) {
        let mut map = self.lock();
        self.generation.fetch_add(1, Ordering::SeqCst);
        map.retain(|_, (v, _)| keep(v));
    }

    pub(crate) fn clear(&self) {
        self.retain(|_| false);
    }

    #[cfg(test)]
    pub(crate) fn contains(&self, key: &str) -> bool {
        self.lock().contains_key(key)
    }

    #[cfg(test)]
    pub(crate) fn touch(&self, key: &str) {
        if let Some(entry) = self.lock().get_mut(key) {
            entry.1 = Instant::now();
        }
    }
}
