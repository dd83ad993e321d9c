//! Every schema's by-id answer held in memory, compressed, so a registry of a
//! million schemas serves any id without reading storage.
//!
//! # Why
//! Consumers meet ids in no particular order: after a deploy, a fleet asks for
//! every id its topics hold. The serialized answers of a million schemas take
//! about a gigabyte; compressed one by one against a dictionary trained on the
//! registry's own schemas they take about a twentieth of that, because schemas
//! repeat the same field names, types and structure. Unpacking one costs well
//! under a microsecond, so this tier sits behind the plain answers of the ids
//! being read right now (`id_bodies`), and what it unpacks moves there.
//!
//! # The dictionary
//! It is trained once, when [`super::Registry::warm_schemas`] reads the
//! stored schemas at start-up, on up to [`SAMPLES`] of them. A registry that
//! starts with fewer packs without one (zstd alone still halves most schemas)
//! until its next start. Each entry says whether it was packed with the
//! dictionary, and the dictionary never changes once set, so every entry
//! unpacks with what packed it.

use std::cell::RefCell;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// A packed answer's key: its context's number (see [`ContextNumbers`]) and its id.
pub type PackedKey = (u32, i64);

/// Contexts numbered for [`PackedKey`]: a key of two integers is hashed and
/// compared without following a pointer to the context's text (a cache miss
/// per lookup in a table of a million), and takes 16 bytes. Contexts are few
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

/// How many stored answers the dictionary is trained on, at most.
pub const SAMPLES: usize = 2000;
/// Fewer samples than this train no dictionary worth having.
const MIN_SAMPLES: usize = 64;
/// The dictionary's size: zstd's advice is about 100 times smaller than the samples.
const DICTIONARY_BYTES: usize = 64 * 1024;
/// zstd's default level: packing a schema takes about a microsecond.
const LEVEL: i32 = 3;

/// One compressed answer.
#[derive(Clone)]
pub struct Packed {
    /// Shared, so the copy a cache lookup hands out costs no allocation.
    bytes: std::sync::Arc<[u8]>,
    /// The answer's length, unpacked.
    len: u32,
    /// The answer's `ETag` hash (see [`super::SchemaJson`]).
    pub etag: u64,
    /// Packed with the registry's dictionary, or with none.
    with_dictionary: bool,
}

impl Packed {
    /// Its compressed bytes, for the cache's budget.
    pub fn size(&self) -> usize {
        self.bytes.len() + std::mem::size_of::<Packed>()
    }
}

/// A trained dictionary, and a process-wide number that tells threads' codecs apart.
struct Dictionary {
    serial: u64,
    bytes: Vec<u8>,
}

/// Packs and unpacks answers; holds the dictionary once trained.
#[derive(Default)]
pub struct Packer {
    dictionary: OnceLock<Dictionary>,
}

/// A zstd compressor and decompressor for one dictionary (or none). zstd's
/// contexts are not shareable and cost several microseconds to make, so each
/// thread keeps its own.
struct Codec {
    serial: u64,
    compressor: zstd::bulk::Compressor<'static>,
    decompressor: zstd::bulk::Decompressor<'static>,
}

impl Codec {
    fn new(dictionary: Option<&Dictionary>) -> std::io::Result<Codec> {
        let bytes = dictionary.map_or(&[][..], |d| d.bytes.as_slice());
        Ok(Codec {
            serial: dictionary.map_or(0, |d| d.serial),
            compressor: zstd::bulk::Compressor::with_dictionary(LEVEL, bytes)?,
            decompressor: zstd::bulk::Decompressor::with_dictionary(bytes)?,
        })
    }
}

thread_local! {
    /// This thread's codecs: without a dictionary, and with the last one used.
    static CODECS: RefCell<(Option<Codec>, Option<Codec>)> = const { RefCell::new((None, None)) };
}

/// Runs `work` with this thread's codec for `dictionary`, made on first use.
fn with_codec<T>(dictionary: Option<&Dictionary>, work: impl FnOnce(&mut Codec) -> std::io::Result<T>) -> Option<T> {
    CODECS.with_borrow_mut(|(plain, trained)| {
        let slot = if dictionary.is_some() { trained } else { plain };
        let serial = dictionary.map_or(0, |d| d.serial);
        if slot.as_ref().is_none_or(|codec| codec.serial != serial) {
            *slot = Some(Codec::new(dictionary).ok()?);
        }
        work(slot.as_mut()?).ok()
    })
}

impl Packer {
    /// Trains the dictionary on `samples` unless one is set or there are too
    /// few; whether a dictionary is set afterwards.
    pub fn train<S: AsRef<[u8]>>(&self, samples: &[S]) -> bool {
        static SERIALS: AtomicU64 = AtomicU64::new(1);
        if self.dictionary.get().is_some() {
            return true;
        }
        if samples.len() < MIN_SAMPLES {
            return false;
        }
        match zstd::dict::from_samples(samples, DICTIONARY_BYTES) {
            Ok(bytes) => {
                let _ = self.dictionary.set(Dictionary { serial: SERIALS.fetch_add(1, Ordering::Relaxed), bytes });
                true
            }
            Err(error) => {
                tracing::warn!(%error, "no compression dictionary: schema answers are packed without one");
                false
            }
        }
    }

    /// `body` compressed, or nothing if zstd failed (the answer then stays unpacked).
    pub fn pack(&self, body: &[u8], etag: u64) -> Option<Packed> {
        let len = u32::try_from(body.len()).ok()?;
        let dictionary = self.dictionary.get();
        let bytes = with_codec(dictionary, |codec| codec.compressor.compress(body))?;
        Some(Packed { bytes: bytes.into(), len, etag, with_dictionary: dictionary.is_some() })
    }

    /// The answer `packed` holds.
    pub fn unpack(&self, packed: &Packed) -> Option<Vec<u8>> {
        let dictionary = if packed.with_dictionary { Some(self.dictionary.get()?) } else { None };
        with_codec(dictionary, |codec| codec.decompressor.decompress(&packed.bytes, packed.len as usize))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(i: usize) -> Vec<u8> {
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

    #[test]
    fn answers_unpack_to_what_was_packed_with_and_without_a_dictionary() {
        let packer = Packer::default();
        let before = packer.pack(&answer(7), 42).expect("packs");
        assert_eq!(before.etag, 42);
        assert!(!packer.train(&[answer(1)]), "too few samples train nothing");
        let samples: Vec<Vec<u8>> = (0..500).map(answer).collect();
        assert!(packer.train(&samples));
        let after = packer.pack(&answer(7), 42).expect("packs");
        assert!(after.bytes.len() < before.bytes.len(), "{} < {}", after.bytes.len(), before.bytes.len());
        assert!(after.bytes.len() * 4 < answer(7).len(), "the dictionary packs a schema to a fraction");
        // Entries packed before the dictionary still unpack.
        assert_eq!(packer.unpack(&before).as_deref(), Some(answer(7).as_slice()));
        assert_eq!(packer.unpack(&after).as_deref(), Some(answer(7).as_slice()));
        // Another packer's dictionary is another codec on the same thread.
        let other = Packer::default();
        assert!(other.train(&(100..400).map(answer).collect::<Vec<_>>()));
        let theirs = other.pack(&answer(3), 1).expect("packs");
        assert_eq!(other.unpack(&theirs).as_deref(), Some(answer(3).as_slice()));
        assert_eq!(packer.unpack(&after).as_deref(), Some(answer(7).as_slice()));
    }
}
