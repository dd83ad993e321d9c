//! Every schema's by-id answer held in memory, compressed, so a registry of a
//! million schemas serves any id without reading storage.
//!
//! # Why
//! Consumers meet ids in no particular order: after a deploy, a fleet asks for
//! every id its topics hold. The serialized answers of a million schemas take
//! about a gigabyte; compressed one by one against a dictionary made of the
//! registry's own schemas they take a small fraction of that (the scale
//! corpus: 1.2 KB answers in about 30 bytes, 51 with the record's header and
//! table slot), because schemas repeat the same field names, types and
//! structure. The format is LZ4's block format (see [`super::lz`]): unpacking
//! an answer costs about 0.1 us, where zstd, which packed this tier before,
//! took 0.4-0.5 us for answers half as large again (46 bytes). This tier sits
//! behind the plain answers of the ids being read right now (`id_bodies`),
//! and what is read again soon moves there.
//!
//! # The dictionary
//! It is made once, when [`super::Registry::warm_schemas`] starts, from up
//! to [`SAMPLES`] stored schemas read at even steps over the ids: zstd's
//! dictionary trainer picks the segments they share most, and the last
//! 65,535 bytes of its output (the segments, after zstd's header of about 130
//! bytes) are the dictionary. Samples too alike give a shorter output, used
//! whole, header included: wasted bytes, never wrong ones.
//! Samples from the oldest ids alone would teach it a few subjects' fields:
//! on the scale corpus such a dictionary packed answers six times as large
//! (178 bytes against 30), and unpacking them took three times as long. A
//! registry that starts with fewer than 64 schemas packs without one (LZ4
//! alone packs the scale corpus's answers to under a third) until its next start.
//! Each entry says whether it was packed with the dictionary, and the
//! dictionary never changes once set, so every entry unpacks with what packed it.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use super::lz;

/// A packed answer's key: its context's number (see [`ContextNumbers`]) and its id.
pub type PackedKey = (u32, i64);

/// Contexts numbered for the [`PackedTier`]: a context's number picks its
/// tables, so a lookup never compares the context's text. Contexts are few
/// and never renumbered; the default context is 0.
#[derive(Default)]
pub struct ContextNumbers {
    others: parking_lot::RwLock<std::collections::HashMap<String, u32>>,
}

impl ContextNumbers {
    /// The context's number, if it has one.
    pub fn get(&self, context: &str) -> Option<u32> {
        if context == crate::subject::DEFAULT_CONTEXT {
            return Some(0);
        }
        self.others.read().get(context).copied()
    }

    /// The context's number, given one when it has none.
    pub fn get_or_add(&self, context: &str) -> u32 {
        if let Some(number) = self.get(context) {
            return number;
        }
        let mut others = self.others.write();
        let next = u32::try_from(others.len() + 1).unwrap_or(u32::MAX);
        *others.entry(context.to_owned()).or_insert(next)
    }
}

/// How many stored answers the dictionary is made from, at most.
pub const SAMPLES: usize = 2000;
/// Fewer samples than this make no dictionary worth having.
const MIN_SAMPLES: usize = 64;
/// What zstd's trainer is asked for. Its header and tables come first and
/// take a few hundred bytes; LZ4 uses the last [`lz::MAX_OFFSET`] bytes, the
/// segments the samples share most.
const TRAINED_BYTES: usize = 72 * 1024;

/// One compressed answer, on its way into the [`PackedTier`].
pub struct Packed {
    bytes: Vec<u8>,
    /// The answer's length, unpacked.
    len: u32,
    /// The answer's `ETag` hash (see [`super::SchemaJson`]).
    etag: u64,
    /// Packed with the registry's dictionary, or with none.
    with_dictionary: bool,
}

/// Packs and unpacks answers; holds the dictionary once made.
#[derive(Default)]
pub struct Packer {
    dictionary: OnceLock<lz::Dictionary>,
}

impl Packer {
    /// Whether the dictionary is made.
    pub fn trained(&self) -> bool {
        self.dictionary.get().is_some()
    }

    /// Makes the dictionary from `samples` unless one is set or there are too
    /// few; whether a dictionary is set afterwards.
    pub fn train<S: AsRef<[u8]>>(&self, samples: &[S]) -> bool {
        if self.dictionary.get().is_some() {
            return true;
        }
        if samples.len() < MIN_SAMPLES {
            return false;
        }
        match zstd::dict::from_samples(samples, TRAINED_BYTES) {
            Ok(trained) => {
                let _ = self.dictionary.set(lz::Dictionary::new(&trained));
                true
            }
            Err(error) => {
                tracing::warn!(%error, "no compression dictionary: schema answers are packed without one");
                false
            }
        }
    }

    /// `body` compressed, or nothing if it does not unpack to itself (the
    /// answer then stays unpacked: never kept is better than kept wrong).
    pub fn pack(&self, body: &[u8], etag: u64) -> Option<Packed> {
        let len = u32::try_from(body.len()).ok()?;
        let dictionary = self.dictionary.get();
        let bytes = lz::compress(dictionary, body);
        if Self::unpack_with(dictionary, &bytes, len).as_deref() != Some(body) {
            tracing::error!(len, "an answer packed did not unpack to itself: it is not kept packed");
            return None;
        }
        Some(Packed { bytes, len, etag, with_dictionary: dictionary.is_some() })
    }

    /// An answer unpacked: `len` bytes from `bytes`, packed with the dictionary or without.
    fn unpack(&self, bytes: &[u8], len: u32, with_dictionary: bool) -> Option<Vec<u8>> {
        let dictionary = if with_dictionary { Some(self.dictionary.get()?) } else { None };
        Self::unpack_with(dictionary, bytes, len)
    }

    fn unpack_with(dictionary: Option<&lz::Dictionary>, bytes: &[u8], len: u32) -> Option<Vec<u8>> {
        let dictionary = dictionary.map_or(&[][..], lz::Dictionary::bytes);
        let body = lz4_flex::block::decompress_with_dict(bytes, len as usize, dictionary).ok()?;
        (body.len() == len as usize).then_some(body)
    }
}

/// The ids unpacked lately, one per slot of a small table: whether an id is
/// read again soon after, which is what earns it a place in the front tier.
/// Reads spread over a million ids almost never meet their own id in a slot,
/// so they do not churn the front tier; an id read often meets itself within
/// a couple of reads. Two busy ids that share a slot keep missing each other,
/// and are served from this tier.
pub struct RecentReads {
    slots: Box<[AtomicU64]>,
}

impl Default for RecentReads {
    fn default() -> RecentReads {
        RecentReads::new()
    }
}

impl RecentReads {
    /// Slots: 32 KiB, which stays in the processor's cache.
    const SLOTS: usize = 4096;

    pub fn new() -> RecentReads {
        RecentReads { slots: (0..Self::SLOTS).map(|_| AtomicU64::new(0)).collect() }
    }

    /// Notes a read of the id; whether its slot last noted this same id.
    pub fn read_again(&self, number: u32, id: i64) -> bool {
        // Never 0, the empty slot.
        let tag = (id as u64 ^ (u64::from(number) << 48)) | 1 << 63;
        let index = (tag.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 52) as usize % Self::SLOTS;
        let slot = &self.slots[index];
        let again = slot.load(Ordering::Relaxed) == tag;
        if !again {
            slot.store(tag, Ordering::Relaxed);
        }
        again
    }
}

/// How many shards the tier is split into, by id: readers on different cores
/// mostly take different locks.
const SHARDS: usize = 16;
/// The largest chunk of records: one huge page (see [`Chunk`]).
const CHUNK_BYTES: usize = 2 << 20;
/// The largest record (see [`Slot`]).
const RECORD_BYTES: usize = 1 << 20;
/// A shard's first chunk: chunks double from here, so a small registry stays small.
const FIRST_CHUNK_BYTES: usize = 16 << 10;
/// A record's header: the `ETag` hash (8 bytes), the unpacked length (4), flags (1).
const HEADER: usize = 13;
/// The flag of a record packed with the dictionary.
const WITH_DICTIONARY: u8 = 1;
/// An id this far past the end of its table, or further, is kept aside
/// rather than growing the table (ids imported in IMPORT mode can be anything).
const TABLE_SLACK: usize = 4096;

/// Where a record lives in its shard: its chunk (23 bits), its offset in the
/// chunk (21 bits) and its length (20 bits). Zero: no record.
#[derive(Clone, Copy)]
struct Slot(u64);

impl Slot {
    fn new(chunk: usize, offset: usize, len: usize) -> Option<Slot> {
        let fits = chunk < 1 << 23 && offset < CHUNK_BYTES && (1..RECORD_BYTES).contains(&len);
        fits.then_some(Slot(((chunk as u64) << 41) | ((offset as u64) << 20) | len as u64))
    }

    fn parts(self) -> (usize, usize, usize) {
        let Slot(raw) = self;
        ((raw >> 41) as usize, ((raw >> 20) & 0x1F_FFFF) as usize, (raw & 0xF_FFFF) as usize)
    }
}

/// Records, appended. A full-size chunk is an anonymous mapping of one huge
/// page (the kernel aligns mappings of that size to it): reads spread over a
/// million records then miss the processor's address cache (TLB) far less
/// than over 4 KiB pages. Smaller chunks, for small registries, are plain vectors.
enum Chunk {
    Small(Vec<u8>),
    Huge { map: memmap2::MmapMut, len: usize },
}

impl Chunk {
    fn with_capacity(capacity: usize) -> Chunk {
        if capacity == CHUNK_BYTES
            && let Ok(map) = memmap2::MmapMut::map_anon(capacity)
        {
            // Only a hint: without transparent huge pages the mapping still works.
            let _ = map.advise(memmap2::Advice::HugePage);
            return Chunk::Huge { map, len: 0 };
        }
        Chunk::Small(Vec::with_capacity(capacity))
    }

    fn capacity(&self) -> usize {
        match self {
            Chunk::Small(bytes) => bytes.capacity(),
            Chunk::Huge { map, .. } => map.len(),
        }
    }

    fn len(&self) -> usize {
        match self {
            Chunk::Small(bytes) => bytes.len(),
            Chunk::Huge { len, .. } => *len,
        }
    }

    fn bytes(&self) -> &[u8] {
        match self {
            Chunk::Small(bytes) => bytes,
            Chunk::Huge { map, len } => &map[..*len],
        }
    }

    /// Appends `record`, which the caller made sure fits.
    fn push(&mut self, record: &[u8]) {
        match self {
            Chunk::Small(bytes) => bytes.extend_from_slice(record),
            Chunk::Huge { map, len } => {
                map[*len..*len + record.len()].copy_from_slice(record);
                *len += record.len();
            }
        }
    }
}

/// One shard's records, appended to chunks, and where each id's is.
#[derive(Default)]
struct Shard {
    /// By context number, the slot of each id; an id's index is `id / SHARDS`.
    tables: Vec<Vec<u64>>,
    /// By context number, how many ids its table holds: it bounds the table's length.
    in_tables: Vec<usize>,
    /// The slots of ids that did not fit a table.
    aside: std::collections::HashMap<PackedKey, u64>,
    /// Records; each chunk is allocated once, at its final capacity.
    chunks: Vec<Chunk>,
}

impl Shard {
    fn index(id: i64) -> Option<usize> {
        usize::try_from(id).ok().map(|id| id / SHARDS)
    }

    fn slot(&self, number: u32, id: i64) -> Option<Slot> {
        let in_table = Self::index(id)
            .and_then(|index| self.tables.get(number as usize)?.get(index).copied())
            .filter(|raw| *raw != 0);
        let raw = match in_table {
            Some(raw) => raw,
            None if self.aside.is_empty() => return None,
            None => *self.aside.get(&(number, id))?,
        };
        Some(Slot(raw))
    }

    /// The record `slot` points at.
    fn record(&self, slot: Slot) -> Option<&[u8]> {
        let (chunk, offset, len) = slot.parts();
        self.chunks.get(chunk)?.bytes().get(offset..offset + len)
    }

    /// Appends `record`; its slot, and the bytes newly allocated for it.
    fn append(&mut self, record: &[u8]) -> Option<(Slot, usize)> {
        let mut allocated = 0;
        let room = self.chunks.last().is_some_and(|chunk| chunk.capacity() - chunk.len() >= record.len());
        if !room {
            let previous = self.chunks.last().map_or(0, Chunk::capacity);
            let capacity = (previous * 2).clamp(FIRST_CHUNK_BYTES, CHUNK_BYTES).max(record.len());
            self.chunks.push(Chunk::with_capacity(capacity));
            allocated = capacity;
        }
        let chunk_index = self.chunks.len() - 1;
        let chunk = self.chunks.last_mut()?;
        let slot = Slot::new(chunk_index, chunk.len(), record.len())?;
        chunk.push(record);
        Some((slot, allocated))
    }

    /// Points the id at `slot`; the bytes newly allocated for that. A table
    /// grows to take the id only while it stays within twice its ids (plus
    /// [`TABLE_SLACK`]) and the growth within `room`; otherwise the id is kept aside.
    fn set(&mut self, number: u32, id: i64, slot: Slot, room: usize) -> usize {
        /// What one id kept aside costs, the map's spare room included.
        const ASIDE_BYTES: usize = 64;
        let number_index = number as usize;
        if self.tables.len() <= number_index {
            self.tables.resize_with(number_index + 1, Vec::new);
            self.in_tables.resize(number_index + 1, 0);
        }
        let table = &mut self.tables[number_index];
        let fits = |index: usize| {
            let held = self.in_tables[number_index];
            // A Vec grows to at least twice its capacity.
            let grown = (index + 1).max(table.capacity() * 2);
            let growth = if index < table.len() { 0 } else { (grown - table.capacity()) * size_of::<u64>() };
            index < held * 2 + TABLE_SLACK && growth <= room
        };
        match Self::index(id) {
            Some(index) if fits(index) => {
                let before = table.capacity();
                if table.len() <= index {
                    table.resize(index + 1, 0);
                }
                table[index] = slot.0;
                self.in_tables[number_index] += 1;
                (table.capacity() - before) * size_of::<u64>()
            }
            _ => {
                self.aside.insert((number, id), slot.0);
                ASIDE_BYTES
            }
        }
    }

    /// Forgets the id's record; whether it had one. Its bytes stay until the tier is cleared.
    fn remove(&mut self, number: u32, id: i64) -> bool {
        let in_table = Self::index(id)
            .and_then(|index| self.tables.get_mut(number as usize)?.get_mut(index))
            .map_or(0, std::mem::take);
        if in_table != 0 {
            self.in_tables[number as usize] -= 1;
        }
        let aside = self.aside.remove(&(number, id)).unwrap_or(0);
        in_table != 0 || aside != 0
    }
}

/// Every schema's by-id answer, compressed, by (context number, id).
///
/// Ids are dense, so each shard keeps a table indexed by id, and records sit
/// one after another in chunks: a lookup is an index into the table and a
/// read of the record, two cache misses, without an allocation per entry.
/// It never evicts: it takes records until its budget is spent, and misses
/// past that go to the front tier and storage. A permanent delete forgets an
/// id's record but its bytes stay until the tier is cleared, which a
/// registry's rare permanent deletes make a small cost.
pub struct PackedTier {
    shards: Box<[parking_lot::RwLock<Shard>]>,
    budget: usize,
    /// Bytes allocated: chunks, tables, ids kept aside.
    used: AtomicUsize,
    entries: AtomicUsize,
    generations: super::cache::Generations,
    counters: crate::metrics::CacheCounters,
}

impl PackedTier {
    /// The cache's name in metrics.
    const NAME: &'static str = "schema_json_packed";

    /// A tier of at most about `budget` bytes.
    pub fn new(budget: usize) -> PackedTier {
        PackedTier {
            shards: (0..SHARDS).map(|_| parking_lot::RwLock::default()).collect(),
            budget,
            used: AtomicUsize::default(),
            entries: AtomicUsize::default(),
            generations: super::cache::Generations::default(),
            counters: crate::metrics::cache_counters(Self::NAME),
        }
    }

    fn shard(&self, id: i64) -> &parking_lot::RwLock<Shard> {
        &self.shards[id.unsigned_abs() as usize % SHARDS]
    }

    /// The id's answer unpacked, and its `ETag` hash.
    pub fn get(&self, packer: &Packer, number: u32, id: i64) -> Option<(Vec<u8>, u64)> {
        let shard = self.shard(id).read();
        let record = shard.record(shard.slot(number, id)?)?;
        let (header, bytes) = record.split_at_checked(HEADER)?;
        let etag = u64::from_le_bytes(header[..8].try_into().ok()?);
        let len = u32::from_le_bytes(header[8..12].try_into().ok()?);
        let body = packer.unpack(bytes, len, header[12] & WITH_DICTIONARY != 0)?;
        Some((body, etag))
    }

    /// Keeps `packed` as the id's answer unless an invalidation happened since
    /// `ticket` or the budget is spent; whether the id's answer is held.
    pub fn fill(&self, ticket: super::cache::Ticket, number: u32, id: i64, packed: &Packed) -> bool {
        use Ordering::Relaxed;
        if HEADER + packed.bytes.len() >= RECORD_BYTES {
            return false;
        }
        let mut record = Vec::with_capacity(HEADER + packed.bytes.len());
        record.extend_from_slice(&packed.etag.to_le_bytes());
        record.extend_from_slice(&packed.len.to_le_bytes());
        record.push(if packed.with_dictionary { WITH_DICTIONARY } else { 0 });
        record.extend_from_slice(&packed.bytes);
        let insert = || {
            let mut shard = self.shard(id).write();
            if shard.slot(number, id).is_some() {
                // An id's answer never changes: the one held is this one.
                return true;
            }
            let used = self.used.load(Relaxed) + record.len();
            if used > self.budget {
                return false;
            }
            let Some((slot, chunk_bytes)) = shard.append(&record) else { return false };
            let table_bytes = shard.set(number, id, slot, self.budget - used);
            self.used.fetch_add(chunk_bytes + table_bytes, Relaxed);
            self.entries.fetch_add(1, Relaxed);
            true
        };
        self.generations.fill(ticket, insert).unwrap_or(false)
    }

    /// Taken before reading storage for a fill (see `cache.rs`).
    pub fn ticket(&self) -> super::cache::Ticket {
        self.generations.ticket()
    }

    /// Forgets the answers of `ids` in the context numbered `number`,
    /// refusing every fill in flight.
    pub fn forget(&self, number: u32, ids: &[i64]) {
        self.generations.invalidate(|| {
            for id in ids {
                if self.shard(*id).write().remove(number, *id) {
                    self.entries.fetch_sub(1, Ordering::Relaxed);
                }
            }
        });
    }

    /// Forgets every answer and frees their bytes, refusing every fill in flight.
    pub fn clear(&self) {
        self.generations.invalidate(|| {
            for shard in &self.shards {
                *shard.write() = Shard::default();
            }
            self.used.store(0, Ordering::Relaxed);
            self.entries.store(0, Ordering::Relaxed);
        });
    }

    /// Whether most of the budget is spent: past this, a warm-up stops.
    pub fn nearly_full(&self) -> bool {
        self.used.load(Ordering::Relaxed) >= self.budget / 10 * 9
    }

    /// Counts a lookup.
    pub fn counted(&self, hit: bool) {
        self.counters.count(hit);
    }

    /// Reports its entries and bytes.
    pub fn report(&self) {
        use Ordering::Relaxed;
        crate::metrics::cache_size(Self::NAME, self.entries.load(Relaxed), self.used.load(Relaxed));
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A `GET /schemas/ids/{id}` answer: an Avro record of 3 to 22 fields.
    pub(in crate::service) fn answer(i: usize) -> Vec<u8> {
        let fields: Vec<String> =
            (0..i % 20 + 3).map(|f| format!(r#"{{\"name\":\"field{f}\",\"type\":\"long\"}}"#)).collect();
        format!(r#"{{"schema":"{{\"type\":\"record\",\"name\":\"E{i}\",\"fields\":[{}]}}"}}"#, fields.join(","))
            .into_bytes()
    }

    #[test]
    fn contexts_keep_their_numbers_and_the_default_is_zero() {
        let numbers = ContextNumbers::default();
        assert_eq!(numbers.get("."), Some(0));
        assert_eq!(numbers.get(".team"), None);
        let team = numbers.get_or_add(".team");
        let other = numbers.get_or_add(".other");
        assert_ne!(team, other);
        assert_ne!(team, 0);
        assert_eq!(numbers.get_or_add(".team"), team);
        assert_eq!(numbers.get(".other"), Some(other));
    }

    fn tier() -> PackedTier {
        PackedTier::new(64 << 20)
    }

    /// The answer the tier holds for `id` in the default context, unpacked.
    fn held(tier: &PackedTier, packer: &Packer, id: i64) -> Option<Vec<u8>> {
        tier.get(packer, 0, id).map(|(body, _)| body)
    }

    #[test]
    fn answers_unpack_to_what_was_packed_with_and_without_a_dictionary() {
        let (packer, tier) = (Packer::default(), tier());
        let before = packer.pack(&answer(7), 42).expect("packs");
        assert!(tier.fill(tier.ticket(), 0, 7, &before));
        assert!(!packer.train(&[answer(1)]), "too few samples train nothing");
        let samples: Vec<Vec<u8>> = (0..500).map(answer).collect();
        assert!(packer.train(&samples));
        let after = packer.pack(&answer(7), 43).expect("packs");
        assert!(after.bytes.len() < before.bytes.len(), "{} < {}", after.bytes.len(), before.bytes.len());
        assert!(after.bytes.len() * 4 < answer(7).len(), "the dictionary packs a schema to a fraction");
        assert!(tier.fill(tier.ticket(), 0, 8, &after));
        // Entries packed before the dictionary still unpack.
        assert_eq!(tier.get(&packer, 0, 7), Some((answer(7), 42)));
        assert_eq!(tier.get(&packer, 0, 8), Some((answer(7), 43)));
        // Another packer's dictionary unpacks its own answers beside the first's.
        let other = Packer::default();
        assert!(other.train(&(100..400).map(answer).collect::<Vec<_>>()));
        assert!(tier.fill(tier.ticket(), 0, 9, &other.pack(&answer(3), 1).expect("packs")));
        assert_eq!(held(&tier, &other, 9), Some(answer(3)));
        assert_eq!(held(&tier, &packer, 8), Some(answer(7)));
    }

    #[test]
    fn every_id_finds_its_own_answer_dense_sparse_or_negative_in_any_context() {
        let (packer, tier) = (Packer::default(), tier());
        let ids: Vec<i64> = (1..3000).chain([1 << 40, i64::MAX, 70_000, -5]).collect();
        for id in &ids {
            let number = u32::from(*id % 3 == 0);
            let usize_id = usize::try_from(id.unsigned_abs() % 1000).expect("small");
            let packed = packer.pack(&answer(usize_id), id.unsigned_abs()).expect("packs");
            assert!(tier.fill(tier.ticket(), number, *id, &packed), "id {id}");
        }
        for id in &ids {
            let number = u32::from(*id % 3 == 0);
            let usize_id = usize::try_from(id.unsigned_abs() % 1000).expect("small");
            assert_eq!(tier.get(&packer, number, *id), Some((answer(usize_id), id.unsigned_abs())), "id {id}");
            assert_eq!(tier.get(&packer, 1 - number, *id), None, "id {id} in the other context");
        }
        assert_eq!(held(&tier, &packer, 3000), None);
        assert_eq!(tier.entries.load(Ordering::Relaxed), ids.len());
    }

    #[test]
    fn a_forgotten_id_is_gone_and_a_fill_that_started_before_is_refused() {
        let (packer, tier) = (Packer::default(), tier());
        let packed = |i: usize| packer.pack(&answer(i), 0).expect("packs");
        for id in [1, 2, 1 << 40] {
            assert!(tier.fill(tier.ticket(), 0, id, &packed(1)));
        }
        let in_flight = tier.ticket();
        tier.forget(0, &[2, 1 << 40]);
        assert_eq!(held(&tier, &packer, 2), None);
        assert_eq!(held(&tier, &packer, 1 << 40), None);
        assert_eq!(held(&tier, &packer, 1), Some(answer(1)));
        assert!(!tier.fill(in_flight, 0, 3, &packed(3)), "the read may predate the delete");
        let in_flight = tier.ticket();
        tier.forget(5, &[1]);
        assert!(!tier.fill(in_flight, 0, 3, &packed(3)), "a context with no answers still moves the generation");
        assert_eq!(held(&tier, &packer, 1), Some(answer(1)), "only the named context's ids are forgotten");
        tier.clear();
        assert_eq!(held(&tier, &packer, 1), None);
        assert_eq!(tier.used.load(Ordering::Relaxed), 0);
        assert!(tier.fill(tier.ticket(), 0, 1, &packed(1)));
    }

    #[test]
    fn a_table_grows_with_its_own_contexts_ids_not_with_another_contexts() {
        let (packer, tier) = (Packer::default(), tier());
        let packed = packer.pack(&answer(1), 0).expect("packs");
        for id in 0..20_000 {
            assert!(tier.fill(tier.ticket(), 0, id, &packed));
        }
        let used = tier.used.load(Ordering::Relaxed);
        // A far id in a context that holds nothing yet is kept aside: its
        // table does not grow to the default context's length.
        assert!(tier.fill(tier.ticket(), 1, 100_000, &packed));
        let grown = tier.used.load(Ordering::Relaxed) - used;
        assert!(grown < 16 * 1024, "{grown} bytes for one id");
        assert_eq!(tier.get(&packer, 1, 100_000).map(|(body, _)| body), Some(answer(1)));
        assert_eq!(tier.shard(100_000).read().aside.len(), 1);
    }

    #[test]
    fn an_id_read_again_soon_is_told_apart_from_reads_spread_wide() {
        let recent = RecentReads::new();
        assert!(!recent.read_again(0, 7), "a first read");
        assert!(recent.read_again(0, 7), "read again at once");
        assert!(!recent.read_again(1, 7), "the same id in another context is another id");
        // Reads spread over many ids rarely meet themselves again.
        let again = (0..100_000).filter(|id| recent.read_again(0, *id * 7919 % 1_000_003)).count();
        assert!(again < 1_000, "{again} of 100,000 spread reads counted as repeats");
        // A small hot set gets there within a couple of rounds.
        let hot: Vec<i64> = (1..=500).collect();
        for id in &hot {
            recent.read_again(0, *id);
        }
        let again = hot.iter().filter(|id| recent.read_again(0, **id)).count();
        assert!(again > 400, "only {again} of 500 hot ids seen again");
    }

    #[test]
    fn the_budget_bounds_what_is_held() {
        const BUDGET: usize = 4 << 20;
        let packer = Packer::default();
        let tier = PackedTier::new(BUDGET);
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut noise = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()
        };
        let mut held_count = 0;
        for id in 0..20_000 {
            // 320 bytes that do not compress: 6 MB offered in all.
            let body: Vec<u8> = (0..40).flat_map(|_| noise()).collect();
            if tier.fill(tier.ticket(), 0, id, &packer.pack(&body, 0).expect("packs")) {
                held_count += 1;
            }
        }
        assert!(tier.used.load(Ordering::Relaxed) <= BUDGET + SHARDS * CHUNK_BYTES);
        assert!(tier.nearly_full());
        assert!(held_count > 8_000, "it holds what fits: {held_count}");
        assert!(held_count < 20_000, "and refuses the rest");
    }
}
