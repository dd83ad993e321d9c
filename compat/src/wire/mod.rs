//! The wire oracle: compatibility verdicts checked against what the formats'
//! own libraries do with real data.
//!
//! The checkers in [`crate::avro`], [`crate::protobuf`] and [`crate::json`]
//! compare schema *texts*. This module asks the question those rules stand for
//! directly: generate values the writer's schema allows, encode them with the
//! format's real implementation, read them back with the reader's schema, and
//! see what happens. A value the reader refuses is a failure; so is a value it
//! reads without complaint but as something else (a number that changes, a
//! symbol that becomes another, a field that is silently dropped), because
//! silent corruption is worse than an error.
//!
//! # What "proven" means
//! [`prove`] returns [`Proof::Holds`] when none of a bounded number of values
//! ([`ProofOptions::budget`]) failed, and [`Proof::CounterExample`] with the
//! first value that did. A counter-example is a proof of incompatibility; a
//! pass is evidence, not a proof: the values are generated, shaped by the
//! writer's schema to reach every union branch, enum symbol, null, default,
//! empty and long collection and numeric edge, and then random, but they are a
//! sample. Generation is deterministic from [`ProofOptions::seed`].
//!
//! # Per format
//! - Avro ([`avro`]): values are encoded and decoded by `apache-avro`. What the
//!   reader should see is computed with the resolution rules of the Avro
//!   specification (fields by name or alias, defaults, promotions, enum
//!   defaults, union branch matching); a reader the specification refuses, or
//!   a value the specification changes on the way (a lossy promotion, an enum
//!   default standing in for a written symbol), is a counter-example.
//!   `apache-avro`'s own resolver is run as a second reader, and where it reads
//!   a value differently from the specification the proof records a
//!   [`Divergence`] without failing: the verdict follows the specification,
//!   which Java's reader (what Confluent's clients run) implements.
//! - Protobuf ([`protobuf`]): `prost-reflect` encodes a `DynamicMessage` with
//!   the writer's descriptor and decodes the bytes with the reader's, and each
//!   field the reader knows by number must hold what was written (the same
//!   number, the same bytes, the same message); unknown fields are fine. With
//!   [`ProofOptions::protobuf_json`] the message also goes through the
//!   Protobuf JSON mapping.
//! - JSON Schema ([`json`]): documents the writer accepts (checked by the
//!   `jsonschema` crate) must be accepted by the reader.
//!
//! Each counter-example names its [`CounterExample::cause`], a stable id of
//! the mechanism that failed; [`KNOWN_DIFFERENCES`] lists the causes for which
//! Confluent's verdict (which Stele's default profile gives) is knowingly
//! "compatible" although the wire disagrees.

mod avro;
mod json;
mod known;
mod protobuf;

use rand::{Rng as _, SeedableRng as _};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use serde_json::Value;

pub use known::{KNOWN_DIFFERENCES, KnownDifference, known_difference};

use crate::finding::Incompatibility;
use crate::level::{CompatibilityLevel, VersionFailure};
use crate::schema::{Model, ParsedSchema};

/// How hard [`prove`] tries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProofOptions {
    /// The seed every generated value derives from.
    pub seed: u64,
    /// Values generated per (writer, reader) pair; the oracle's cost is linear in it.
    pub budget: usize,
    /// Protobuf: also send each message through the Protobuf JSON mapping
    /// (field names and enum names then matter), as buf's `WIRE_JSON` does.
    pub protobuf_json: bool,
}

impl ProofOptions {
    /// The seed used when none is given.
    pub const DEFAULT_SEED: u64 = 0x5_7E1E;
    /// The number of values tried per pair when none is given.
    pub const DEFAULT_BUDGET: usize = 64;
}

impl Default for ProofOptions {
    fn default() -> Self {
        ProofOptions { seed: Self::DEFAULT_SEED, budget: Self::DEFAULT_BUDGET, protobuf_json: false }
    }
}

/// What the oracle concluded about one (writer, reader) pair.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Proof {
    /// Every generated value was read back as written.
    Holds {
        /// How many values were written and read.
        values: usize,
        /// The first value a format library read differently from its
        /// specification, when one did (not a failure of the pair).
        #[serde(skip_serializing_if = "Option::is_none")]
        divergence: Option<Divergence>,
    },
    /// A value the writer may write that the reader fails on.
    CounterExample(CounterExample),
    /// The oracle cannot judge this pair (and says why).
    Unsupported { reason: String },
}

impl Proof {
    pub fn counter_example(&self) -> Option<&CounterExample> {
        match self {
            Proof::CounterExample(example) => Some(example),
            _ => None,
        }
    }

    pub fn holds(&self) -> bool {
        matches!(self, Proof::Holds { .. })
    }

    fn unsupported(reason: impl Into<String>) -> Proof {
        Proof::Unsupported { reason: reason.into() }
    }
}

/// How a value failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// The reader refused the bytes.
    DecodeError,
    /// The reader read the bytes without error, but as a different value.
    Changed,
    /// The reader's schema rejects a document the writer's accepts (JSON Schema).
    Rejected,
}

/// The first generated value the reader fails on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CounterExample {
    /// A stable id of the mechanism that failed (`AVRO_ENUM_DEFAULT_SUBSTITUTED`,
    /// `PROTOBUF_INTEGER_TRUNCATED`, `JSON_REJECTED_BY_REQUIRED`...).
    pub cause: String,
    pub kind: FailureKind,
    /// A JSON pointer into [`CounterExample::payload`] to the value that failed.
    pub path: String,
    /// What happened, in a sentence.
    pub reason: String,
    /// Protobuf: the full name of the message the payload is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_type: Option<String>,
    /// The writer's value as JSON: Avro's JSON encoding, the Protobuf JSON
    /// mapping, or the JSON document itself.
    pub payload: Value,
}

/// A value a format library read differently from the format's specification.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Divergence {
    /// The library and version (`apache-avro 0.21`).
    pub library: String,
    pub path: String,
    pub reason: String,
    pub payload: Value,
}

/// Writes values the `writer` schema allows with the format's library, reads
/// them with the `reader` schema, and reports the first one that fails.
/// For a BACKWARD check the old schema is the writer and the new one the reader.
pub fn prove(writer: &ParsedSchema, reader: &ParsedSchema, options: &ProofOptions) -> Proof {
    match (&writer.model, &reader.model) {
        (Model::Avro(w), Model::Avro(r)) => avro::prove(w, r, options),
        (Model::Protobuf(w), Model::Protobuf(r)) => protobuf::prove(w, r, options),
        (Model::Json(w), Model::Json(r)) => json::prove(w, r, options),
        _ => Proof::unsupported(format!(
            "a {} writer cannot be read with a {} reader at all",
            writer.schema_type, reader.schema_type
        )),
    }
}

/// The generator's choices: deterministic from the seed and the value's index.
///
/// The first half of a budget is *systematic*: the `i`-th value takes option
/// `i mod n` at every choice with `n` options, so within `n` values every union
/// branch, enum symbol and numeric edge at every place has been written at
/// least once. The second half draws each choice at random.
pub(crate) struct Gen {
    rng: ChaCha8Rng,
    index: usize,
    systematic: bool,
    /// Nodes generated for the current value: past a limit, values get minimal.
    nodes: usize,
}

/// Past this many nodes in one value, collections are empty and unions take
/// their shortest branch.
const NODE_LIMIT: usize = 4_000;
/// Past this nesting depth, the same.
pub(crate) const DEPTH_LIMIT: usize = 6;

impl Gen {
    pub(crate) fn new(seed: u64) -> Gen {
        Gen { rng: ChaCha8Rng::seed_from_u64(seed), index: 0, systematic: true, nodes: 0 }
    }

    /// Starts value number `index` of `budget`.
    pub(crate) fn start(&mut self, index: usize, budget: usize) {
        self.index = index;
        self.systematic = index < budget.div_ceil(2);
        self.nodes = 0;
    }

    /// One of `n` options (`n > 0`).
    pub(crate) fn pick(&mut self, n: usize) -> usize {
        self.nodes += 1;
        if n <= 1 {
            0
        } else if self.systematic {
            self.index % n
        } else {
            self.rng.random_range(0..n)
        }
    }

    /// Whether values must be kept small from here on.
    pub(crate) fn exhausted(&self, depth: usize) -> bool {
        depth >= DEPTH_LIMIT || self.nodes >= NODE_LIMIT
    }

    /// A collection length: empty, one, a few, or long; empty once exhausted.
    pub(crate) fn length(&mut self, depth: usize) -> usize {
        if self.exhausted(depth) {
            return 0;
        }
        let long = if depth <= 1 { 24 } else { 6 };
        match self.pick(4) {
            0 => 0,
            1 => 1,
            2 => 2 + self.rng.random_range(0..3),
            _ => long + self.rng.random_range(0..long),
        }
    }

    /// An edge from `edges`, or (randomly, outside the systematic phase) a random value.
    pub(crate) fn edge<T: Copy>(&mut self, edges: &[T], random: impl FnOnce(&mut ChaCha8Rng) -> T) -> T {
        self.nodes += 1;
        if self.systematic {
            edges[self.index % edges.len()]
        } else if self.rng.random_bool(0.5) {
            edges[self.rng.random_range(0..edges.len())]
        } else {
            random(&mut self.rng)
        }
    }

    pub(crate) fn coin(&mut self) -> bool {
        self.pick(2) == 1
    }

    pub(crate) fn rng(&mut self) -> &mut ChaCha8Rng {
        &mut self.rng
    }

    /// A string: empty, short, non-ASCII, or long.
    pub(crate) fn string(&mut self) -> String {
        const EDGES: &[&str] = &["", "a", "é€😀", "x y", "0", "true"];
        self.nodes += 1;
        let choice =
            if self.systematic { self.index % (EDGES.len() + 1) } else { self.rng.random_range(0..=EDGES.len()) };
        if let Some(edge) = EDGES.get(choice) {
            (*edge).to_owned()
        } else {
            let length = self.rng.random_range(8..40);
            (0..length).map(|_| char::from(self.rng.random_range(b'a'..=b'z'))).collect()
        }
    }

    /// Bytes: empty, one zero, invalid UTF-8, ASCII, or long random.
    pub(crate) fn bytes(&mut self) -> Vec<u8> {
        const EDGES: &[&[u8]] = &[b"", b"\0", b"\xff\xfe\xfd", b"hello"];
        self.nodes += 1;
        let choice =
            if self.systematic { self.index % (EDGES.len() + 1) } else { self.rng.random_range(0..=EDGES.len()) };
        if let Some(edge) = EDGES.get(choice) {
            edge.to_vec()
        } else {
            let length = self.rng.random_range(1..40);
            (0..length).map(|_| self.rng.random()).collect()
        }
    }
}

/// Whether a number read back is the number written: exactly, NaN being NaN.
#[expect(clippy::float_cmp, reason = "a value read back must be exactly the value written")]
pub(crate) fn same_number(a: f64, b: f64) -> bool {
    a == b || (a.is_nan() && b.is_nan())
}

/// Appends one reference token to a JSON pointer, escaped.
pub(crate) fn pointer(path: &str, token: &str) -> String {
    format!("{path}/{}", token.replace('~', "~0").replace('/', "~1"))
}

/// The root pointer spelled as users read it.
pub(crate) fn display_path(path: &str) -> String {
    if path.is_empty() { "/".to_owned() } else { path.to_owned() }
}

/// Which way data flows in a proven pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Written with the old schema, read with the new one (BACKWARD).
    OldToNew,
    /// Written with the new schema, read with the old one (FORWARD).
    NewToOld,
}

impl Direction {
    /// The direction in words, for messages.
    pub fn words(self) -> &'static str {
        match self {
            Direction::OldToNew => "written with the old schema and read with the new one",
            Direction::NewToOld => "written with the new schema and read with the old one",
        }
    }
}

/// Runs the oracle on each (writer, reader) pair `level` asks about between
/// `new` and one `old` version: old to new for the backward levels, new to old
/// for the forward ones, both for FULL. NONE asks about none.
pub fn prove_pair(
    level: CompatibilityLevel,
    new: &ParsedSchema,
    old: &ParsedSchema,
    options: &ProofOptions,
) -> Vec<(Direction, Proof)> {
    let mut proofs = Vec::new();
    if level.checks_backward() {
        proofs.push((Direction::OldToNew, prove(old, new, options)));
    }
    if level.checks_forward() {
        proofs.push((Direction::NewToOld, prove(new, old, options)));
    }
    proofs
}

/// The oracle over a subject's history (`previous`, oldest first), comparing
/// the versions `level` compares, as [`crate::level::check_level_with`] does:
/// the latest only, or every version newest first for the transitive levels.
/// The first version with a counter-example fails, with one finding per
/// failing direction (see [`CounterExample::finding`]).
pub fn prove_level(
    level: CompatibilityLevel,
    new: &ParsedSchema,
    previous: &[&ParsedSchema],
    options: &ProofOptions,
) -> Option<VersionFailure> {
    crate::level::compared_versions(level, previous.len())
        .into_iter()
        .find_map(|index| prove_version(level, new, previous, index, options))
}

/// The oracle against one version of a history (`previous[index]`): its
/// counter-examples as findings, `None` when every pair holds.
pub fn prove_version(
    level: CompatibilityLevel,
    new: &ParsedSchema,
    previous: &[&ParsedSchema],
    index: usize,
    options: &ProofOptions,
) -> Option<VersionFailure> {
    let mut backward = false;
    let problems: Vec<Incompatibility> = prove_pair(level, new, previous[index], options)
        .into_iter()
        .filter_map(|(direction, proof)| {
            let example = proof.counter_example()?;
            backward |= direction == Direction::OldToNew;
            Some(example.finding(direction))
        })
        .collect();
    (!problems.is_empty()).then_some(VersionFailure { index, problems, backward })
}

impl CounterExample {
    /// This counter-example as a finding: the cause as its rule, the path, and
    /// a sentence that carries the payload as JSON, so a user sees the exact
    /// message a consumer would fail on. A cause in [`KNOWN_DIFFERENCES`] says
    /// so, with the reason Confluent accepts the change.
    pub fn finding(&self, direction: Direction) -> Incompatibility {
        let outcome = match self.kind {
            FailureKind::DecodeError => "fails to decode",
            FailureKind::Changed => "decodes to a different value",
            FailureKind::Rejected => "is rejected",
        };
        let of_type = self.message_type.as_ref().map_or_else(String::new, |t| format!(" ({t})"));
        let known = known_difference(&self.cause).map_or_else(String::new, |k| {
            format!(". A known difference from Confluent, which accepts the change: {}", k.reason)
        });
        let description = format!(
            "a value {} {outcome}: {}. Payload{of_type}: {}{known}",
            direction.words(),
            self.reason,
            self.payload
        );
        Incompatibility::with_error_type(&self.cause, self.path.clone(), description)
    }
}
