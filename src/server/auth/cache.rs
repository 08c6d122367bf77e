//! A small bounded cache of review answers with an expiry per entry, so a
//! scraper polling the debug listener costs the API server one TokenReview
//! and one SubjectAccessReview per [`super::ALLOWED_TTL`], not per request.
//!
//! Pure: the caller passes the time, so expiry is unit-tested without a clock.
//!
//! Invariants: never more than `capacity` entries; an expired entry is never
//! returned; when full, expired entries go first, then the one closest to
//! expiring.

use std::{
    collections::HashMap,
    hash::Hash,
    time::{Duration, Instant},
};

/// Answers by key, each until its own expiry, at most `capacity` of them.
#[derive(Debug)]
pub struct TtlCache<K, V> {
    capacity: usize,
    entries: HashMap<K, (Instant, V)>,
}

impl<K: Eq + Hash + Clone, V: Clone> TtlCache<K, V> {
    /// An empty cache holding at most `capacity` entries (at least one).
    #[must_use]
    pub fn new(capacity: usize) -> TtlCache<K, V> {
        TtlCache {
            capacity: capacity.max(1),
            entries: HashMap::new(),
        }
    }

    /// The answer for `key`, unless absent or expired at `now`.
    pub fn get(&mut self, key: &K, now: Instant) -> Option<V> {
        match self.entries.get(key) {
            Some((until, value)) if now < *until => Some(value.clone()),
            Some(_) => {
                self.entries.remove(key);
                None
            }
            None => None,
        }
    }

    /// Keeps `value` for `key` from `now` for `ttl`, making room if full.
    pub fn insert(&mut self, key: K, value: V, now: Instant, ttl: Duration) {
        if self.entries.len() >= self.capacity && !self.entries.contains_key(&key) {
            self.entries.retain(|_, (until, _)| now < *until);
            if self.entries.len() >= self.capacity
                && let Some(soonest) = self
                    .entries
                    .iter()
                    .min_by_key(|(_, (until, _))| *until)
                    .map(|(k, _)| k.clone())
            {
                self.entries.remove(&soonest);
            }
        }
        self.entries.insert(key, (now + ttl, value));
    }

    /// How many entries are held, expired ones included.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when nothing is held.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn entries_expire() {
        let t0 = Instant::now();
        let mut cache = TtlCache::new(4);
        cache.insert("a", 1, t0, 10 * S);
        assert_eq!(cache.get(&"a", t0 + 9 * S), Some(1));
        assert_eq!(cache.get(&"a", t0 + 10 * S), None);
        assert!(cache.is_empty(), "an expired entry is dropped when seen");
        cache.insert("a", 2, t0, S);
        cache.insert("a", 3, t0, S);
        assert_eq!(cache.get(&"a", t0), Some(3), "the latest answer wins");
    }

    #[test]
    fn the_size_is_bounded() {
        let t0 = Instant::now();
        let mut cache = TtlCache::new(3);
        cache.insert(1, (), t0, 5 * S);
        cache.insert(2, (), t0, S);
        cache.insert(3, (), t0, 9 * S);
        // Full, nothing expired: the one closest to expiring (2) goes.
        cache.insert(4, (), t0, 9 * S);
        assert_eq!(cache.len(), 3);
        assert_eq!(cache.get(&2, t0), None);
        assert!(cache.get(&1, t0).is_some() && cache.get(&4, t0).is_some());
        // Full, with expired entries: they all go first.
        cache.insert(5, (), t0 + 6 * S, S);
        assert_eq!(cache.len(), 3);
        assert_eq!(cache.get(&1, t0), None);
        for k in [3, 4, 5] {
            assert!(cache.get(&k, t0 + 6 * S).is_some(), "{k}");
        }
        for k in 10..100 {
            cache.insert(k, (), t0, S);
            assert!(cache.len() <= 3);
        }
    }
}
