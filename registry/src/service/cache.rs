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

use std::hash::Hash;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use parking_lot::RwLock;
use quick_cache::{Equivalent, Weighter};

use crate::metrics::{CacheCounters, cache_counters};

/// When a reader started: see the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket(u64);

/// The rule's state for one store of answers: a generation that every
/// invalidation moves, and the lock that orders fills against invalidations.
#[derive(Default)]
pub struct Generations {
    /// Fills hold it shared, invalidations exclusively: see the module docs.
    gate: RwLock<()>,
    generation: AtomicU64,
}

impl Generations {
    /// Taken before reading storage for a fill.
    pub fn ticket(&self) -> Ticket {
        Ticket(self.generation.load(Ordering::SeqCst))
    }

    /// Runs `insert` unless an invalidation happened since `ticket`.
    pub fn fill<T>(&self, ticket: Ticket, insert: impl FnOnce() -> T) -> Option<T> {
        let _gate = self.gate.read();
        (self.generation.load(Ordering::SeqCst) == ticket.0).then(insert)
    }

    /// Runs `remove`, refusing every fill in flight.
    pub fn invalidate<T>(&self, remove: impl FnOnce() -> T) -> T {
        let _gate = self.gate.write();
        self.generation.fetch_add(1, Ordering::SeqCst);
        remove()
    }
}

/// Approximate bytes of one entry (key and value), for the budget and the metrics.
pub type Size<K, V> = fn(&K, &V) -> usize;

/// Every entry costs what its [`Size`] says, plus a fixed overhead (the
/// table's slot, the allocations' headers).
struct Bytes<K, V>(Size<K, V>);

impl<K, V> Clone for Bytes<K, V> {
    fn clone(&self) -> Self {
        Bytes(self.0)
    }
}

/// What an entry costs beyond the bytes its [`Size`] counts.
const ENTRY_OVERHEAD: u64 = 64;

impl<K, V> Weighter<K, V> for Bytes<K, V> {
    fn weight(&self, key: &K, value: &V) -> u64 {
        (self.0)(key, value) as u64 + ENTRY_OVERHEAD
    }
}

/// A concurrent cache bounded by bytes: past its budget, a fill evicts the
/// entries least likely to be asked for again (`quick_cache`'s CLOCK-Pro, which
/// a scan of every id does not flush).
pub struct Cache<K, V> {
    /// The `cache` label of its metrics.
    name: &'static str,
    entries: quick_cache::sync::Cache<K, V, Bytes<K, V>>,
    generations: Generations,
    counters: CacheCounters,
    /// The budget, in the weigher's bytes.
    capacity: u64,
    /// What [`Cache::nearly_full`] answered last.
    full_when_seen: AtomicBool,
}

impl<K: Eq + Hash + Clone, V: Clone> Cache<K, V> {
    /// A cache of at most `max_bytes`, entries sized by `size`.
    pub fn new(name: &'static str, max_bytes: usize, size: Size<K, V>) -> Self {
        let max_bytes = (max_bytes as u64).max(ENTRY_OVERHEAD * 16);
        Cache {
            name,
            // quick_cache sizes its table from the expected number of entries;
            // 1 KiB each is about a schema's.
            entries: quick_cache::sync::Cache::with_weighter(
                (max_bytes / 1024).max(16) as usize,
                max_bytes,
                Bytes(size),
            ),
            generations: Generations::default(),
            counters: cache_counters(name),
            capacity: max_bytes,
            full_when_seen: AtomicBool::new(false),
        }
    }

    /// Reports its entries and approximate bytes.
    pub fn report(&self) {
        crate::metrics::cache_size(self.name, self.entries.len(), self.entries.weight() as usize);
    }

    /// Whether its entries take most of its budget: past this, filling more
    /// only evicts what is there.
    pub fn nearly_full(&self) -> bool {
        let full = self.entries.weight() >= self.capacity / 10 * 9;
        self.full_when_seen.store(full, Ordering::Relaxed);
        full
    }

    /// [`Cache::nearly_full`] for a hot path: summing the weight takes every
    /// shard's lock in turn, so a thread looks again one call in 64 and
    /// otherwise answers what was seen last.
    pub fn probably_full(&self) -> bool {
        /// A thread sums the weight again after this many calls.
        const LOOK_ONE_IN: u32 = 64;
        thread_local! {
            static CALLS: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
        }
        let look = CALLS.with(|calls| {
            let next = calls.get().wrapping_add(1);
            calls.set(next);
            next % LOOK_ONE_IN == 1
        });
        if look { self.nearly_full() } else { self.full_when_seen.load(Ordering::Relaxed) }
    }

    /// Counts a lookup answered elsewhere.
    pub fn counted(&self, hit: bool) {
        self.counters.count(hit);
    }

    /// Taken before reading storage for a fill.
    pub fn ticket(&self) -> Ticket {
        self.generations.ticket()
    }

    /// The entry for `key`, counted as a hit or a miss.
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        Q: Hash + Equivalent<K> + ?Sized,
    {
        let found = self.peek(key);
        self.counted(found.is_some());
        found
    }

    /// The entry for `key`, not counted.
    pub fn peek<Q>(&self, key: &Q) -> Option<V>
    where
        Q: Hash + Equivalent<K> + ?Sized,
    {
        self.entries.get(key)
    }

    /// The cached value of `key`, or `load`'s, kept unless the cache was
    /// invalidated while `load` ran (the rule above, in one call).
    pub async fn get_or_load<E>(&self, key: &str, load: impl Future<Output = Result<V, E>>) -> Result<V, E>
    where
        str: Equivalent<K>,
        K: for<'a> From<&'a str>,
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
        self.generations.fill(ticket, || self.entries.insert(key, value)).is_some()
    }

    /// Removes the entries `keep` refuses, refusing every fill in flight.
    pub fn evict(&self, keep: impl Fn(&K, &V) -> bool) {
        self.generations.invalidate(|| self.entries.retain(keep));
    }

    /// Removes the entries of `keys`, refusing every fill in flight.
    pub fn forget<'q, Q>(&self, keys: impl IntoIterator<Item = &'q Q>)
    where
        Q: Hash + Equivalent<K> + ?Sized + 'q,
    {
        self.generations.invalidate(|| {
            for key in keys {
                self.entries.remove(key);
            }
        });
    }

    /// Removes every entry, refusing every fill in flight.
    pub fn clear(&self) {
        self.generations.invalidate(|| self.entries.clear());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache() -> Cache<i32, String> {
        Cache::new("test", 64 * 1024, |_, v| v.len())
    }

    #[test]
    fn a_fill_that_started_before_an_invalidation_is_refused() {
        let cache = cache();
        let before = cache.ticket();
        cache.clear();
        assert!(!cache.fill(before, 1, "one".into()), "the read may predate the write");
        assert_eq!(cache.get(&1), None);
        let after = cache.ticket();
        assert!(cache.fill(after, 1, "two".into()));
        assert_eq!(cache.get(&1).as_deref(), Some("two"));
    }

    #[test]
    fn a_targeted_eviction_also_moves_the_generation() {
        let cache = cache();
        let ticket = cache.ticket();
        assert!(cache.fill(ticket, 1, "one".into()));
        assert!(cache.fill(ticket, 3, "three".into()));
        let in_flight = cache.ticket();
        cache.evict(|k, _| *k != 1);
        assert_eq!(cache.get(&1), None);
        assert!(!cache.fill(in_flight, 2, "two".into()));
        cache.forget([&3]);
        assert_eq!(cache.get(&3), None);
    }

    #[test]
    fn the_budget_bounds_the_bytes_held_whatever_is_filled() {
        let cache = cache();
        for key in 0..10_000 {
            cache.fill(cache.ticket(), key, "x".repeat(1000));
        }
        assert!(cache.entries.weight() <= 64 * 1024, "{} bytes held", cache.entries.weight());
        assert!(cache.entries.len() > 10, "the cache still holds what fits: {}", cache.entries.len());
    }
}
