//! LZ4 block compression against a fixed dictionary whose match index is
//! built once, for the packed tier's answers (see [`super::packed`]).
//!
//! # Why not `lz4_flex`'s own compressor
//! `lz4_flex` decodes blocks that refer to a dictionary, and that is what the
//! packed tier uses to read. Its compressor indexes the dictionary again on
//! every call: with a 64 KiB dictionary that is about 18 us per answer (a
//! million answers took 32 s to pack at start). [`Dictionary::new`] indexes
//! the dictionary once; [`compress`] then looks each position up in that
//! index and in one of the input's own, and packs a 1.2 KB answer of the
//! scale corpus in about 1 us (less repetitive JSON takes a few
//! microseconds). Walking up to 16 candidates of each (not only the last
//! one, as a fast LZ4 compressor does) finds longer matches: fewer
//! sequences, which also decode faster. Time grows with the input's length
//! alone: each position tries at most 32 candidates, and a comparison never
//! runs past the match the position then skips.
//!
//! The output is the LZ4 block format (lz4's `lz4_Block_format.md`): each
//! sequence is a token (literal length, match length less 4), the literals,
//! a two-byte little-endian offset back from the current position (the
//! dictionary counts as the bytes just before the input) and the match
//! length's extension; the last sequence holds literals alone. A block must
//! end in at least 5 literals, and its last match must start at least 12
//! bytes before its end. Matches in the dictionary end inside it.

/// The shortest match the format has.
const MIN_MATCH: usize = 4;
/// The longest offset two bytes hold; the dictionary keeps its last this many bytes.
pub const MAX_OFFSET: usize = 65_535;
/// A block ends in at least this many literals.
const END_LITERALS: usize = 5;
/// The last match starts at least this many bytes before the block's end.
const LAST_MATCH_START: usize = 12;
/// The dictionary index's hash table: 2^16 slots.
const DICTIONARY_HASH_BITS: u32 = 16;
/// How many candidates of each index a position tries.
const DEPTH: usize = 16;
/// Inputs up to this long, packed with a dictionary, leave the inside of
/// their matches out of their own index (see [`compress`]).
const SHORT_INPUT: usize = 16 * 1024;

/// The four bytes at the start of `bytes` (at least four), hashed to `bits` bits.
fn hash(bytes: &[u8], bits: u32) -> usize {
    let word = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    (word.wrapping_mul(2_654_435_761) >> (32 - bits)) as usize
}

/// Where each four-byte sequence of some bytes occurs: hash chains, newest first.
struct Chains {
    bits: u32,
    /// By hash, the last position with it, plus one (0: none).
    heads: Vec<u32>,
    /// By position, the position before it with the same hash, plus one.
    previous: Vec<u32>,
}

impl Chains {
    /// Chains for `len` bytes, hashed to `bits` bits.
    fn new(bits: u32, len: usize) -> Chains {
        Chains { bits, heads: vec![0; 1 << bits], previous: vec![0; len] }
    }

    /// Adds `position` of `bytes` (with at least four bytes from there).
    fn insert(&mut self, bytes: &[u8], position: usize) {
        let slot = &mut self.heads[hash(&bytes[position..], self.bits)];
        self.previous[position] = *slot;
        *slot = position as u32 + 1;
    }

    /// Improves `best` (length, offset) with the longest match for `ahead`
    /// among the first [`DEPTH`] positions of `source` with its hash, each
    /// `offset(position)` back; positions further back than [`MAX_OFFSET`]
    /// end the walk, as every one after them is further still.
    fn longest(&self, source: &[u8], ahead: &[u8], offset: impl Fn(usize) -> usize, best: &mut (usize, usize)) {
        let mut candidate = self.heads[hash(ahead, self.bits)];
        for _ in 0..DEPTH {
            let Some(at) = (candidate as usize).checked_sub(1) else { return };
            let back = offset(at);
            if back > MAX_OFFSET {
                return;
            }
            if let Some(length) = longer_match(&source[at..], ahead, best.0) {
                *best = (length, back);
            }
            candidate = self.previous[at];
        }
    }
}

/// A dictionary and where each of its four-byte sequences occurs.
pub struct Dictionary {
    bytes: Vec<u8>,
    chains: Chains,
}

impl Dictionary {
    /// Indexes the last [`MAX_OFFSET`] bytes of `bytes` (the ones a match can reach).
    pub fn new(bytes: &[u8]) -> Dictionary {
        let bytes = bytes[bytes.len().saturating_sub(MAX_OFFSET)..].to_vec();
        let mut chains = Chains::new(DICTIONARY_HASH_BITS, bytes.len());
        for position in 0..(bytes.len() + 1).saturating_sub(MIN_MATCH) {
            chains.insert(&bytes, position);
        }
        Dictionary { bytes, chains }
    }

    /// The bytes blocks refer to: what a decoder is given as its dictionary.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// The input's own chains, filled as the compressor moves along.
struct InputIndex {
    chains: Chains,
    /// Positions below this are indexed.
    indexed: usize,
}

impl InputIndex {
    fn new(len: usize) -> InputIndex {
        let bits = len.next_power_of_two().trailing_zeros().clamp(8, 16);
        InputIndex { chains: Chains::new(bits, len), indexed: 0 }
    }

    /// Leaves the positions before `position` out of the index: the inside of a match.
    fn skip_to(&mut self, position: usize) {
        self.indexed = self.indexed.max(position);
    }

    /// Indexes every position of `input` before `end` not yet indexed.
    fn index_to(&mut self, input: &[u8], end: usize) {
        while self.indexed < end && self.indexed + MIN_MATCH <= input.len() {
            self.chains.insert(input, self.indexed);
            self.indexed += 1;
        }
    }
}

/// How many bytes `a` and `b` share from their starts, compared eight at a time.
fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    let mut shared = 0;
    for (x, y) in a.chunks_exact(8).zip(b.chunks_exact(8)) {
        let differ =
            u64::from_le_bytes(x.try_into().unwrap_or_default()) ^ u64::from_le_bytes(y.try_into().unwrap_or_default());
        if differ != 0 {
            return shared + (differ.trailing_zeros() / 8) as usize;
        }
        shared += 8;
    }
    shared + a[shared..].iter().zip(&b[shared..]).take_while(|(x, y)| x == y).count()
}

/// How long a match `candidate` makes with `ahead`, if longer than `best`
/// (checked first at the byte that would make it longer, which most
/// candidates fail).
fn longer_match(candidate: &[u8], ahead: &[u8], best: usize) -> Option<usize> {
    if candidate.get(best) != ahead.get(best) || best >= ahead.len() {
        return None;
    }
    Some(common_prefix(candidate, ahead)).filter(|length| *length > best)
}

/// Appends a length's extension bytes: 255 while it lasts, then the rest.
fn push_length(out: &mut Vec<u8>, mut length: usize) {
    while length >= 255 {
        out.push(255);
        length -= 255;
    }
    out.push(length as u8);
}

/// Appends one sequence: `literals`, then the match (offset, length), if any.
fn push_sequence(out: &mut Vec<u8>, literals: &[u8], matched: Option<(usize, usize)>) {
    let match_code = matched.map_or(0, |(_, length)| length - MIN_MATCH);
    out.push(((literals.len().min(15) as u8) << 4) | match_code.min(15) as u8);
    if literals.len() >= 15 {
        push_length(out, literals.len() - 15);
    }
    out.extend_from_slice(literals);
    if let Some((offset, _)) = matched {
        out.extend_from_slice(&(offset as u16).to_le_bytes());
        if match_code >= 15 {
            push_length(out, match_code - 15);
        }
    }
}

/// `input` as one LZ4 block that refers to `dictionary` (or to none).
pub fn compress(dictionary: Option<&Dictionary>, input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len() / 4 + 16);
    let mut index = InputIndex::new(input.len());
    // An answer of the usual size finds its matches in the dictionary:
    // indexing every byte its matches cover doubled the time to pack one and
    // found almost nothing more. Without a dictionary, or in a long input,
    // the input's own earlier bytes are where matches are (leaving them out
    // packed 4 MiB of schemas to 205 KB instead of 57 KB).
    let skip_matched = dictionary.is_some() && input.len() <= SHORT_INPUT;
    // A match ends before the last literals.
    let match_end = input.len().saturating_sub(END_LITERALS);
    let (mut position, mut literals_start) = (0, 0);
    while position + LAST_MATCH_START <= input.len() {
        index.index_to(input, position);
        let ahead = &input[position..match_end];
        // (length, offset) of the longest match found.
        let mut best = (0, 0);
        index.chains.longest(input, ahead, |earlier| position - earlier, &mut best);
        if let Some(dictionary) = dictionary {
            let reach = dictionary.bytes.len() + position;
            dictionary.chains.longest(&dictionary.bytes, ahead, |at| reach - at, &mut best);
        }
        let (length, offset) = best;
        if length >= MIN_MATCH {
            push_sequence(&mut out, &input[literals_start..position], Some((offset, length)));
            position += length;
            literals_start = position;
            if skip_matched {
                // The match's last two positions alone are indexed.
                index.skip_to(position - 2);
            }
        } else {
            position += 1;
        }
    }
    push_sequence(&mut out, &input[literals_start..], None);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::packed::tests::answer as schema;

    fn decode(dictionary: Option<&Dictionary>, block: &[u8], len: usize) -> Vec<u8> {
        let bytes = dictionary.map_or(&[][..], Dictionary::bytes);
        lz4_flex::block::decompress_with_dict(block, len, bytes).expect("a valid block")
    }

    /// A length's extension bytes from `block` at `*at`, added to `base`.
    fn read_length(block: &[u8], at: &mut usize, base: usize) -> usize {
        let mut length = base;
        if base == 15 {
            loop {
                let byte = block[*at];
                *at += 1;
                length += usize::from(byte);
                if byte != 255 {
                    break;
                }
            }
        }
        length
    }

    /// Decodes `block` by the format's rules, failing on any rule it breaks
    /// (`lz4_flex` accepts blocks that break the end-of-block rules).
    fn strict_decode(dictionary: &[u8], block: &[u8]) -> Vec<u8> {
        let (mut out, mut at) = (Vec::new(), 0);
        // Where each match started, in the output.
        let mut match_starts = Vec::new();
        let last_literals = loop {
            let token = block[at];
            at += 1;
            let literals = read_length(block, &mut at, usize::from(token >> 4));
            out.extend_from_slice(&block[at..at + literals]);
            at += literals;
            if at == block.len() {
                assert_eq!(token & 15, 0, "the last sequence holds literals alone");
                break literals;
            }
            let offset = usize::from(u16::from_le_bytes([block[at], block[at + 1]]));
            at += 2;
            let length = read_length(block, &mut at, usize::from(token & 15)) + MIN_MATCH;
            assert!(offset >= 1 && offset <= out.len() + dictionary.len(), "offset {offset} reaches nothing");
            if offset > out.len() {
                assert!(offset - out.len() >= length, "a match from the dictionary ends inside it");
            }
            match_starts.push(out.len());
            for _ in 0..length {
                let at = out.len();
                out.push(if offset > at { dictionary[dictionary.len() + at - offset] } else { out[at - offset] });
            }
        };
        // The format's own numbers, not the compressor's constants.
        assert!(last_literals >= 5.min(out.len()), "the block ends in {last_literals} literals");
        for start in match_starts {
            assert!(out.len() - start >= 12, "a match starts {} bytes before the end", out.len() - start);
        }
        out
    }

    fn round_trip(dictionary: Option<&Dictionary>, input: &[u8]) -> usize {
        let block = compress(dictionary, input);
        assert_eq!(decode(dictionary, &block, input.len()), input, "{} bytes", input.len());
        assert_eq!(strict_decode(dictionary.map_or(&[][..], Dictionary::bytes), &block), input);
        block.len()
    }

    /// Deterministic noise.
    fn noise(len: usize, mut state: u64) -> Vec<u8> {
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect()
    }

    #[test]
    fn short_empty_and_incompressible_inputs_come_back_whole() {
        let dictionary = Dictionary::new(&schema(40));
        for dictionary in [None, Some(&dictionary)] {
            for len in 0..40 {
                round_trip(dictionary, &schema(3)[..len]);
                round_trip(dictionary, &noise(len, 7));
            }
            // Literal runs and matches long enough to need extension bytes.
            round_trip(dictionary, &noise(300, 9));
            round_trip(dictionary, &noise(70_000, 11));
            round_trip(dictionary, &[b'a'; 5000]);
            round_trip(dictionary, &[noise(500, 1), vec![0; 600], noise(20, 2)].concat());
            // A repeat further back than an offset reaches is sent as literals.
            let far = noise(100, 12);
            round_trip(dictionary, &[far.clone(), noise(MAX_OFFSET, 13), far].concat());
        }
    }

    #[test]
    fn the_dictionary_is_reached_at_the_longest_offset_and_not_past_it() {
        // The dictionary's first bytes are the only copy of this pattern, at
        // offset 65,535 from the input's first byte and one past it from its second.
        let pattern = noise(64, 3);
        let dictionary = Dictionary::new(&[noise(1000, 4), pattern.clone(), noise(MAX_OFFSET - 64, 5)].concat());
        assert_eq!(dictionary.bytes()[..64], pattern[..]);
        assert_eq!(dictionary.bytes().len(), MAX_OFFSET);
        let input = [pattern.clone(), noise(100, 6)].concat();
        assert!(round_trip(Some(&dictionary), &input) < input.len() - 40, "the pattern is found at the edge");
        let shifted = [vec![b'x'], pattern, noise(100, 6)].concat();
        round_trip(Some(&dictionary), &shifted);
    }

    #[test]
    fn a_dictionary_of_similar_schemas_packs_an_answer_to_a_fraction() {
        let samples: Vec<u8> = (0..200).flat_map(schema).collect();
        let dictionary = Dictionary::new(&samples);
        for i in [5, 17, 301, 999] {
            let plain = round_trip(None, &schema(i));
            let packed = round_trip(Some(&dictionary), &schema(i));
            assert!(packed * 8 < schema(i).len(), "{packed} of {} bytes", schema(i).len());
            assert!(packed < plain, "{packed} with the dictionary, {plain} without");
        }
    }

    #[test]
    fn a_long_input_finds_its_own_repeats_with_a_dictionary_as_without() {
        let dictionary = Dictionary::new(&(1000..1040).flat_map(schema).collect::<Vec<u8>>());
        // 300 answers in one input, about 150 KB: most of it repeats itself.
        let input: Vec<u8> = (0..300).flat_map(schema).collect();
        let without = round_trip(None, &input);
        let with = round_trip(Some(&dictionary), &input);
        assert!(with <= without + without / 20, "{with} bytes with a dictionary, {without} without");
        assert!(without * 20 < input.len(), "{without} of {} bytes", input.len());
    }

    #[test]
    fn inputs_much_like_the_dictionary_or_not_at_all_come_back_whole() {
        let samples: Vec<u8> = (0..100).flat_map(schema).collect();
        let dictionary = Dictionary::new(&samples);
        for seed in 0..300_u64 {
            let mut input = schema(seed as usize * 7);
            // Flip a few bytes, cut, or append noise: every shape of match and literal run.
            let len = input.len();
            for (k, byte) in noise(4, seed).into_iter().enumerate() {
                let at = (usize::from(byte) * 31 + k * 97) % len;
                input[at] ^= byte | 1;
            }
            input.truncate(len - (seed as usize % 50));
            input.extend(noise(seed as usize % 40, seed + 1));
            round_trip(Some(&dictionary), &input);
            round_trip(None, &input);
        }
    }
}
