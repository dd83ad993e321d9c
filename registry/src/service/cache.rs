//! In-memory caches of stored answers, and the one rule that orders their fills
//! against invalidations.
//!
//! # The rule
//! A reader that misses takes a [`Ticket`] *before* it reads storage, and may
//! fill the cache only if no invalidation has happened since
//! ([`Cache::fill`]). Every invalidation bumps the cache's generation *before*
//! it removes entries, under the same lock the fill takes.
//!
//! Why that suffices: a write's invalidation runs after the write commits
//! (locally once the store returns, on other replicas when its notification
//! arrives). A reader whose storage read may have missed the write started it
//! before the commit, so its ticket predates the invalidation. If the reader
//! fills first, the invalidation then removes the entry; if the invalidation
//! comes first, the generation has moved and the fill is refused. Either way
//! no answer from before a write outlives the write's invalidation.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::RwLock;

use crate::metrics::{CacheCounters, cache_counters};

/// When a reader started: see the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket(u64);

pub struct Cache<K, V> {
    /// The `cache` label of its metrics.
    name: &'static str,
    map: RwLock<HashMap<K, V>>,
    generation: AtomicU64,
    counters: CacheCounters,
    /// At most this many entries (see [`Cache::bounded`]).
    max_entries: usize,
}

impl<K: Eq + Hash + Clone, V: Clone> Cache<K, V> {
    pub fn new(name: &'static str) -> Self {
        Cache {
            name,
            map: RwLock::new(HashMap::new()),
            generation: AtomicU64::new(0),
            counters: cache_counters(name),
            max_entries: usize::MAX,
        }
    }

    /// Holds at most `max_entries`: a fill into a full cache first removes an
    /// arbitrary entry. For caches whose keys clients choose (request digests).
    pub fn bounded(mut self, max_entries: usize) -> Self {
        self.max_entries = max_entries.max(1);
        self
    }

    /// Reports its entries and approximate bytes (`weigh` sizes one entry).
    pub fn report(&self, weigh: impl Fn(&K, &V) -> usize) {
        let (entries, bytes) = {
            let map = self.map.read();
            (map.len(), map.iter().map(|(k, v)| weigh(k, v)).sum())
        };
        crate::metrics::cache_size(self.name, entries, bytes);
    }

    /// Counts a lookup answered elsewhere (the nested maps of [`Cache::read`]).
    pub fn counted(&self, hit: bool) {
        if hit { &self.counters.hits } else { &self.counters.misses }.increment(1);
    }

    /// Taken before reading storage for a fill.
    pub fn ticket(&self) -> Ticket {
        Ticket(self.generation.load(Ordering::SeqCst))
    }

    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let found = self.map.read().get(key).cloned();
        self.counted(found.is_some());
        found
    }

    /// Reads the map in place (for nested maps on the hot path).
    pub fn read<R>(&self, f: impl FnOnce(&HashMap<K, V>) -> R) -> R {
        f(&self.map.read())
    }

    /// The cached value of `key`, or `load`'s, kept unless the cache was
    /// invalidated while `load` ran (the rule above, in one call).
    pub async fn get_or_load<E>(&self, key: &str, load: impl Future<Output = Result<V, E>>) -> Result<V, E>
    where
        K: std::borrow::Borrow<str> + for<'a> From<&'a str>,
    {
        if let Some(value) = self.get(key) {
            return Ok(value);
        }
        let ticket = self.ticket();
        let value = load.await?;
        self.fill(ticket, K::from(key), value.clone());
        Ok(value)
    }

    /// Inserts unless the cache was invalidated since `ticket`; whether it did.
    pub fn fill(&self, ticket: Ticket, key: K, value: V) -> bool {
        let max_entries = self.max_entries;
        self.fill_with(ticket, |map| {
            if map.len() >= max_entries
                && !map.contains_key(&key)
                && let Some(victim) = map.keys().next().cloned()
            {
                map.remove(&victim);
            }
            map.insert(key, value);
        })
    }

    /// Changes the map unless the cache was invalidated since `ticket`.
    pub fn fill_with(&self, ticket: Ticket, f: impl FnOnce(&mut HashMap<K, V>)) -> bool {
        let mut map = self.map.write();
        if self.generation.load(Ordering::SeqCst) != ticket.0 {
            return false;
        }
        f(&mut map);
        true
    }

    /// Removes the entries `keep` refuses, refusing every fill in flight.
    pub fn evict(&self, mut keep: impl FnMut(&K, &mut V) -> bool) {
        let mut map = self.map.write();
        self.generation.fetch_add(1, Ordering::SeqCst);
        map.retain(|k, v| keep(k, v));
    }

    /// Removes every entry, refusing every fill in flight.
    pub fn clear(&self) {
        let mut map = self.map.write();
        self.generation.fetch_add(1, Ordering::SeqCst);
        map.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fill_that_started_before_an_invalidation_is_refused() {
        let cache: Cache<&str, i32> = Cache::new("test");
        let before = cache.ticket();
        cache.clear();
        assert!(!cache.fill(before, "id", 1), "the read may predate the write");
        assert_eq!(cache.get("id"), None);
        let after = cache.ticket();
        assert!(cache.fill(after, "id", 2));
        assert_eq!(cache.get("id"), Some(2));
    }

    #[test]
    fn a_targeted_eviction_also_moves_the_generation() {
        let cache: Cache<i32, i32> = Cache::new("test");
        let ticket = cache.ticket();
        assert!(cache.fill(ticket, 1, 1));
        let in_flight = cache.ticket();
        cache.evict(|k, _| *k != 1);
        assert_eq!(cache.get(&1), None);
        assert!(!cache.fill(in_flight, 2, 2));
    }
}
