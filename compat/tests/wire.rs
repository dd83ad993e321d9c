//! The wire oracle, and the compatibility checkers held to it.
//!
//! A binary of its own (`cargo test -p stele-compat --test wire`) so the
//! differential runs can be repeated alone with another seed:
//! `STELE_WIRE_SEED=7 STELE_WIRE_PAIRS=10000 cargo test -p stele-compat --test wire`.
//!
//! The differential tests evolve generated schemas the way users do (add,
//! remove, rename, retype, reorder, widen, narrow, defaults, aliases, union and
//! oneof moves, enum symbols) and hold every pair to one rule: when the
//! BACKWARD checker calls the new schema compatible with the old, the oracle
//! must find no value written with the old schema that the new one fails on,
//! unless the oracle's cause is a listed known difference.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use rand::{Rng, SeedableRng as _};
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value, json};
use stele_compat::level::check_pair;
use stele_compat::wire::{FailureKind, KNOWN_DIFFERENCES, Proof, ProofOptions, known_difference, prove};
use stele_compat::{CompatibilityLevel, ParsedSchema, SchemaType, parse};

fn schema(schema_type: SchemaType, text: &str) -> ParsedSchema {
    parse(schema_type, text, &[], false).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn avro(value: &Value) -> ParsedSchema {
    schema(SchemaType::Avro, &value.to_string())
}

fn proto(text: &str) -> ParsedSchema {
    schema(SchemaType::Protobuf, text)
}

fn json_schema(value: &Value) -> ParsedSchema {
    schema(SchemaType::Json, &value.to_string())
}

/// The oracle on (old as writer, new as reader): what BACKWARD asks.
fn backward(old: &ParsedSchema, new: &ParsedSchema) -> Proof {
    prove(old, new, &ProofOptions::default())
}

fn counter_example(proof: &Proof) -> &stele_compat::wire::CounterExample {
    proof.counter_example().unwrap_or_else(|| panic!("expected a counter-example, got {proof:?}"))
}

fn record(fields: &Value) -> Value {
    json!({"type": "record", "name": "Order", "namespace": "shop", "fields": fields})
}

// --- The oracle on chosen pairs -------------------------------------------------------------

#[test]
fn identical_schemas_hold_in_every_format() {
    let avro_schema = avro(&record(&json!([
        {"name": "id", "type": "long"},
        {"name": "tags", "type": {"type": "array", "items": "string"}},
        {"name": "kind", "type": {"type": "enum", "name": "Kind", "symbols": ["A", "B"]}},
        {"name": "next", "type": ["null", {"type": "record", "name": "Line", "fields": [{"name": "sku", "type": "string"}]}, {"type": "record", "name": "Note", "fields": [{"name": "text", "type": "string"}]}]},
        {"name": "attrs", "type": {"type": "map", "values": ["null", "double", "bytes"]}},
        {"name": "hash", "type": {"type": "fixed", "name": "Hash", "size": 4}}
    ])));
    let proto_schema = proto(
        "syntax = \"proto3\";\nmessage M {\n  int32 a = 1;\n  repeated string b = 2;\n  map<string, M> c = 3;\n  oneof o {\n    sint64 d = 4;\n    bytes e = 5;\n  }\n  optional double f = 6;\n  E g = 7;\n}\nenum E {\n  E_ZERO = 0;\n  E_ONE = 1;\n}\n",
    );
    let json = json_schema(&json!({
        "type": "object",
        "properties": {"a": {"type": "integer", "minimum": 0}, "b": {"type": "array", "items": {"enum": ["x", "y"]}}, "c": {"oneOf": [{"type": "string"}, {"type": "null"}]}},
        "required": ["a"]
    }));
    for parsed in [&avro_schema, &proto_schema, &json] {
        let proof = backward(parsed, parsed);
        assert!(matches!(proof, Proof::Holds { values: 64, divergence: None }), "{}: {proof:?}", parsed.schema_type);
    }
}

#[test]
fn avro_reader_field_without_default_fails_to_decode() {
    let old = avro(&record(&json!([{"name": "id", "type": "long"}])));
    let new = avro(&record(&json!([{"name": "id", "type": "long"}, {"name": "note", "type": "string"}])));
    let example = counter_example(&backward(&old, &new)).clone();
    assert_eq!(example.cause, "AVRO_MISSING_FIELD");
    assert_eq!(example.kind, FailureKind::DecodeError);
    assert_eq!(example.path, "/");
    assert!(example.reason.contains("note"), "{}", example.reason);
    assert!(example.payload.get("id").is_some_and(Value::is_i64), "{}", example.payload);
}

#[test]
fn avro_field_renamed_with_an_alias_holds_and_without_one_fails() {
    let old = avro(&record(&json!([{"name": "amount", "type": "long"}])));
    let aliased = avro(&record(&json!([{"name": "total", "type": "long", "aliases": ["amount"]}])));
    let bare = avro(&record(&json!([{"name": "total", "type": "long"}])));
    assert!(backward(&old, &aliased).holds(), "{:?}", backward(&old, &aliased));
    assert_eq!(counter_example(&backward(&old, &bare)).cause, "AVRO_MISSING_FIELD");
}

#[test]
fn avro_long_narrowed_to_int_is_refused_at_the_field() {
    let old = avro(&record(&json!([{"name": "n", "type": "long"}])));
    let new = avro(&record(&json!([{"name": "n", "type": "int"}])));
    let example = counter_example(&backward(&old, &new)).clone();
    assert_eq!((example.cause.as_str(), example.path.as_str()), ("AVRO_TYPE_MISMATCH", "/n"));
    assert!(example.reason.contains("found long, expecting int"), "{}", example.reason);
}

#[test]
fn avro_int_promoted_to_float_changes_large_values() {
    let old = avro(&record(&json!([{"name": "n", "type": "int"}])));
    let new = avro(&record(&json!([{"name": "n", "type": "float"}])));
    let example = counter_example(&backward(&old, &new)).clone();
    assert_eq!((example.cause.as_str(), example.kind), ("AVRO_LOSSY_PROMOTION", FailureKind::Changed));
    let written = example.payload["n"].as_i64().expect("an int");
    assert!(written.unsigned_abs() > 1 << 24, "{written} is exact as a float");
}

#[test]
fn avro_union_branch_paths_name_the_branch() {
    let old = avro(&record(&json!([{"name": "v", "type": ["null", "string", "long"]}])));
    let new = avro(&record(&json!([{"name": "v", "type": ["null", "string"]}])));
    let example = counter_example(&backward(&old, &new)).clone();
    assert_eq!((example.cause.as_str(), example.path.as_str()), ("AVRO_NO_MATCHING_BRANCH", "/v/long"));
    assert!(example.payload["v"]["long"].is_i64(), "{}", example.payload);
}

#[test]
fn avro_recursive_types_are_generated_finitely() {
    let list = json!({"type": "record", "name": "Node", "fields": [
        {"name": "value", "type": "int"},
        {"name": "next", "type": ["null", "Node"]},
        {"name": "children", "type": {"type": "array", "items": "Node"}}
    ]});
    let parsed = avro(&list);
    assert!(backward(&parsed, &parsed).holds());
    let endless = avro(&json!({"type": "record", "name": "Loop", "fields": [{"name": "again", "type": "Loop"}]}));
    assert!(matches!(backward(&endless, &endless), Proof::Unsupported { .. }));
}

#[test]
fn protobuf_int64_narrowed_to_int32_truncates_silently() {
    let old = proto("syntax = \"proto3\";\nmessage M { int64 n = 1; }\n");
    let new = proto("syntax = \"proto3\";\nmessage M { int32 n = 1; }\n");
    let example = counter_example(&backward(&old, &new)).clone();
    assert_eq!(
        (example.cause.as_str(), example.kind, example.path.as_str()),
        ("PROTOBUF_INTEGER_TRUNCATED", FailureKind::Changed, "/n")
    );
    assert_eq!(example.message_type.as_deref(), Some("M"));
}

#[test]
fn protobuf_field_renamed_holds_in_binary_and_fails_in_the_json_mapping() {
    let old = proto("syntax = \"proto3\";\nmessage M { string name = 1; }\n");
    let new = proto("syntax = \"proto3\";\nmessage M { string title = 1; }\n");
    assert!(backward(&old, &new).holds());
    let json = prove(&old, &new, &ProofOptions { protobuf_json: true, ..ProofOptions::default() });
    assert_eq!(counter_example(&json).cause, "PROTOBUF_JSON_FIELD_LOST");
}

#[test]
fn protobuf_fields_moved_into_one_oneof_lose_all_but_the_last() {
    let old = proto("syntax = \"proto3\";\nmessage M { string a = 1; string b = 2; }\n");
    let new = proto("syntax = \"proto3\";\nmessage M { oneof o { string a = 1; string b = 2; } }\n");
    let example = counter_example(&backward(&old, &new)).clone();
    assert_eq!((example.cause.as_str(), example.path.as_str()), ("PROTOBUF_ONEOF_MEMBER_DROPPED", "/a"));
}

#[test]
fn protobuf_required_field_added_is_refused() {
    let old = proto("syntax = \"proto2\";\nmessage M { optional string a = 1; }\n");
    let new = proto("syntax = \"proto2\";\nmessage M { optional string a = 1; required int32 b = 2; }\n");
    let example = counter_example(&backward(&old, &new)).clone();
    assert_eq!((example.cause.as_str(), example.path.as_str()), ("PROTOBUF_MISSING_REQUIRED", "/b"));
}

#[test]
fn protobuf_bytes_read_as_a_message_that_contains_itself_is_reported_not_looped_on() {
    // prost-reflect's `Debug` of such a message never ends; the oracle must not use it.
    let old = proto("syntax = \"proto3\";\nmessage Line {\n  oneof choice {\n    bytes o0 = 2;\n  }\n}\n");
    let new = proto("syntax = \"proto3\";\nmessage Line {\n  oneof choice {\n    Line o0 = 2;\n  }\n}\n");
    for seed in 0..64 {
        let proof = prove(&old, &new, &ProofOptions { seed, budget: 24, protobuf_json: false });
        assert!(proof.counter_example().is_some(), "{proof:?}");
    }
}

#[test]
fn protobuf_message_removed_has_nothing_to_read_it_as() {
    let old = proto("syntax = \"proto3\";\nmessage A { int32 x = 1; }\nmessage B { int32 y = 1; }\n");
    let new = proto("syntax = \"proto3\";\nmessage A { int32 x = 1; }\n");
    let example = counter_example(&backward(&old, &new)).clone();
    assert_eq!((example.cause.as_str(), example.message_type.as_deref()), ("PROTOBUF_MESSAGE_MISSING", Some("B")));
}

#[test]
fn json_schema_required_property_added_rejects_documents_without_it() {
    let old = json_schema(&json!({"type": "object", "properties": {"a": {"type": "string"}}}));
    let new = json_schema(&json!({"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}));
    let example = counter_example(&backward(&old, &new)).clone();
    assert_eq!((example.cause.as_str(), example.kind), ("JSON_REJECTED_BY_REQUIRED", FailureKind::Rejected));
    assert!(example.payload.get("a").is_none(), "{}", example.payload);
}

#[test]
fn json_schema_open_content_model_sends_the_properties_a_reader_adds() {
    let old = json_schema(&json!({"type": "object", "properties": {"a": {"type": "string"}}}));
    let new =
        json_schema(&json!({"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "integer"}}}));
    let example = counter_example(&backward(&old, &new)).clone();
    assert_eq!((example.cause.as_str(), example.path.as_str()), ("JSON_REJECTED_BY_TYPE", "/b"));
}

#[test]
fn json_schema_widening_holds() {
    let old = json_schema(
        &json!({"type": "object", "properties": {"n": {"type": "integer", "maximum": 10}}, "additionalProperties": false}),
    );
    let new = json_schema(
        &json!({"type": "object", "properties": {"n": {"type": "number", "maximum": 100}, "m": {"type": "string"}}, "additionalProperties": false}),
    );
    assert!(matches!(backward(&old, &new), Proof::Holds { values: 64, .. }), "{:?}", backward(&old, &new));
}

// Checker fixes the oracle found: each pair is now incompatible, and the oracle shows why.

fn rules(old: &ParsedSchema, new: &ParsedSchema) -> Vec<String> {
    check_pair(CompatibilityLevel::Backward, new, old).into_iter().map(|p| format!("{} {}", p.rule, p.path)).collect()
}

#[test]
fn json_schema_type_added_beside_a_combination_narrows_it() {
    let old = json_schema(
        &json!({"type": "object", "properties": {"id": {"oneOf": [{"type": "string"}, {"type": "integer"}]}}}),
    );
    let new = json_schema(
        &json!({"type": "object", "properties": {"id": {"oneOf": [{"type": "string"}, {"type": "integer"}], "type": "integer"}}}),
    );
    assert_eq!(rules(&old, &new), ["TYPE_NARROWED #/properties/id"]);
    let example = counter_example(&backward(&old, &new)).clone();
    assert_eq!((example.cause.as_str(), example.path.as_str()), ("JSON_REJECTED_BY_TYPE", "/id"));
    // A type that every branch already has narrows nothing.
    let old = json_schema(&json!({"oneOf": [{"type": "string", "maxLength": 3}, {"type": "string", "minLength": 5}]}));
    let new = json_schema(
        &json!({"oneOf": [{"type": "string", "maxLength": 3}, {"type": "string", "minLength": 5}], "type": "string"}),
    );
    assert_eq!(rules(&old, &new), Vec::<String>::new());
    assert!(backward(&old, &new).holds());
}

#[test]
fn json_schema_requiring_a_property_declared_nowhere_is_a_new_requirement() {
    let old =
        json_schema(&json!({"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": false}));
    let new = json_schema(
        &json!({"type": "object", "properties": {"a": {"type": "string"}}, "required": ["b"], "additionalProperties": false}),
    );
    assert_eq!(rules(&old, &new), ["REQUIRED_ATTRIBUTE_ADDED #/required/b"]);
    assert_eq!(counter_example(&backward(&old, &new)).cause, "JSON_REJECTED_BY_REQUIRED");
}

#[test]
fn a_proof_is_deterministic_for_a_seed_and_varies_with_it() {
    let old = proto("syntax = \"proto3\";\nmessage M { int64 n = 1; repeated string s = 2; }\n");
    let new = proto("syntax = \"proto3\";\nmessage M { int32 n = 1; repeated string s = 2; }\n");
    let at = |seed| prove(&old, &new, &ProofOptions { seed, budget: 64, protobuf_json: false });
    assert_eq!(at(1), at(1));
    assert!(at(1).counter_example().is_some() && at(2).counter_example().is_some());
}

#[test]
fn a_proof_serializes_with_its_verdict_and_the_payload_as_json() {
    let old = avro(&record(&json!([{"name": "id", "type": "long"}])));
    let new = avro(&record(&json!([{"name": "id", "type": "long"}, {"name": "note", "type": "string"}])));
    let value = serde_json::to_value(backward(&old, &new)).expect("serializes");
    assert_eq!(value["verdict"], "counter_example");
    assert_eq!(value["kind"], "decode_error");
    assert_eq!(value["cause"], "AVRO_MISSING_FIELD");
    assert!(value["payload"].is_object(), "{value}");
    let holds = serde_json::to_value(backward(&old, &old)).expect("serializes");
    assert_eq!(holds, json!({"verdict": "holds", "values": 64}));
}

#[test]
fn a_zero_budget_proves_nothing_and_costs_nothing() {
    let parsed = proto("syntax = \"proto3\";\nmessage M { int32 a = 1; }\n");
    let proof = prove(&parsed, &parsed, &ProofOptions { budget: 0, ..ProofOptions::default() });
    assert_eq!(proof, Proof::Holds { values: 0, divergence: None });
}

// --- Known differences ----------------------------------------------------------------------

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/wire")
}

fn extension(schema_type: SchemaType) -> &'static str {
    match schema_type {
        SchemaType::Avro => "avsc",
        SchemaType::Protobuf => "proto",
        SchemaType::Json => "json",
    }
}

fn backward_compatible(old: &ParsedSchema, new: &ParsedSchema) -> bool {
    check_pair(CompatibilityLevel::Backward, new, old).is_empty()
}

#[test]
fn every_known_difference_still_reproduces_from_its_fixture() {
    for known in KNOWN_DIFFERENCES {
        let dir = fixtures().join(known.cause);
        let read = |side: &str| {
            let path = dir.join(format!("{side}.{}", extension(known.schema_type)));
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            schema(known.schema_type, &text)
        };
        let (old, new) = (read("old"), read("new"));
        assert!(backward_compatible(&old, &new), "{}: Confluent's verdict is no longer compatible", known.cause);
        let proof = backward(&old, &new);
        assert_eq!(
            proof.counter_example().map(|e| e.cause.as_str()),
            Some(known.cause),
            "{}: the wire no longer disagrees: {proof:?}",
            known.cause
        );
    }
}

#[test]
fn the_known_differences_are_sorted_and_have_a_fixture_each() {
    let keys: Vec<(SchemaType, &str)> = KNOWN_DIFFERENCES.iter().map(|k| (k.schema_type, k.cause)).collect();
    let mut sorted = keys.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(keys, sorted);
    let mut dirs: Vec<String> = std::fs::read_dir(fixtures())
        .expect("fixtures/wire exists")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    dirs.sort();
    let mut causes: Vec<String> = KNOWN_DIFFERENCES.iter().map(|k| k.cause.to_owned()).collect();
    causes.sort();
    assert_eq!(dirs, causes, "one fixture directory per known difference, and no other");
}

// --- Differential runs ----------------------------------------------------------------------

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn seed() -> u64 {
    env_number("STELE_WIRE_SEED", 20)
}

fn pairs() -> usize {
    usize::try_from(env_number("STELE_WIRE_PAIRS", 2_000)).unwrap_or(2_000)
}

/// Values per pair in the differential runs: the systematic half of the
/// generator covers every branch and edge within a few values, so a smaller
/// budget than the default keeps 6,000 pairs within seconds.
const PAIR_BUDGET: usize = 24;

#[derive(Debug, Default)]
struct Tally {
    pairs: usize,
    /// Checker compatible, oracle found nothing.
    agreed_compatible: usize,
    /// Checker incompatible, oracle found a failing value.
    agreed_incompatible: usize,
    /// Checker incompatible, oracle found nothing: the checker is stricter than the sample.
    stricter: usize,
    /// The rules behind the stricter verdicts, with counts.
    stricter_rules: std::collections::BTreeMap<String, usize>,
    /// Known differences met, by cause.
    known_causes: std::collections::BTreeMap<String, usize>,
    /// Values a format library read differently from its specification (Avro).
    divergences: usize,
    /// Checker compatible, oracle failed, cause listed in `KNOWN_DIFFERENCES`.
    known: usize,
    unsupported: usize,
    /// Checker compatible, oracle failed, cause not listed: a checker bug.
    disagreements: Vec<String>,
}

fn differential(
    schema_type: SchemaType,
    mut generate: impl FnMut(&mut ChaCha8Rng) -> (String, String),
    protobuf_json: bool,
) -> Tally {
    let seed = seed();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut tally = Tally::default();
    let mut attempts = 0;
    while tally.pairs < pairs() {
        attempts += 1;
        assert!(attempts < pairs() * 4, "too few generated {schema_type} pairs parse: {tally:?}");
        let (old_text, new_text) = generate(&mut rng);
        let (Ok(old), Ok(new)) = (parse(schema_type, &old_text, &[], false), parse(schema_type, &new_text, &[], false))
        else {
            continue;
        };
        tally.pairs += 1;
        let problems = check_pair(CompatibilityLevel::Backward, &new, &old);
        let compatible = problems.is_empty();
        let options = ProofOptions { seed: seed ^ tally.pairs as u64, budget: PAIR_BUDGET, protobuf_json };
        let proof = prove(&old, &new, &options);
        if let Proof::Holds { divergence: Some(divergence), .. } = &proof {
            tally.divergences += 1;
            if tally.divergences == 1 {
                eprintln!(
                    "{schema_type}: {} diverges: {} at {} for {}\n  old {old_text}\n  new {new_text}",
                    divergence.library, divergence.reason, divergence.path, divergence.payload
                );
            }
        }
        match (compatible, proof) {
            (true, Proof::Holds { .. }) => tally.agreed_compatible += 1,
            (false, Proof::Holds { .. }) => {
                tally.stricter += 1;
                for rule in problems.iter().map(|p| p.rule.clone()).collect::<std::collections::BTreeSet<_>>() {
                    *tally.stricter_rules.entry(rule).or_default() += 1;
                }
            }
            (false, Proof::CounterExample(_)) => tally.agreed_incompatible += 1,
            (_, Proof::Unsupported { .. }) => tally.unsupported += 1,
            (true, Proof::CounterExample(example)) => {
                if known_difference(&example.cause).is_some_and(|k| k.schema_type == schema_type) {
                    tally.known += 1;
                    *tally.known_causes.entry(example.cause.clone()).or_default() += 1;
                } else {
                    let mut report = String::new();
                    let _ = write!(
                        report,
                        "the checker calls this BACKWARD-compatible, the wire fails ({}):\n--- old (writer)\n{old_text}\n--- new (reader)\n{new_text}\n--- counter-example\n{}",
                        example.cause,
                        serde_json::to_string_pretty(&example).unwrap_or_default()
                    );
                    tally.disagreements.push(report);
                }
            }
        }
    }
    eprintln!("{schema_type} (seed {seed}): {tally:?}", tally = Summary(&tally));
    tally
}

/// A tally without the reports, for the log.
struct Summary<'a>(&'a Tally);

impl std::fmt::Debug for Summary<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let t = self.0;
        write!(
            f,
            "{} pairs: {} compatible and proven, {} incompatible and refuted, {} incompatible with no failing value found {:?}, {} known differences {:?}, {} unsupported, {} disagreements, {} library divergences",
            t.pairs,
            t.agreed_compatible,
            t.agreed_incompatible,
            t.stricter,
            t.stricter_rules,
            t.known,
            t.known_causes,
            t.unsupported,
            t.disagreements.len(),
            t.divergences
        )
    }
}

/// The first report of each cause (the cause is on the report's first line).
fn first_of_each_cause(reports: &[String]) -> Vec<&str> {
    let mut seen = std::collections::BTreeSet::new();
    reports
        .iter()
        .filter(|r| seen.insert(r.lines().next().unwrap_or_default().to_owned()))
        .map(String::as_str)
        .collect()
}

fn assert_tally(schema_type: SchemaType, tally: &Tally) {
    assert!(
        tally.disagreements.is_empty(),
        "{} {schema_type} disagreements; the first of each cause:\n{}",
        tally.disagreements.len(),
        first_of_each_cause(&tally.disagreements).join("\n\n")
    );
    // The generator must exercise both verdicts, or the run proves little.
    let tenth = tally.pairs / 10;
    assert!(tally.agreed_compatible > tenth, "{schema_type}: too few compatible pairs: {:?}", Summary(tally));
    assert!(tally.agreed_incompatible > tenth, "{schema_type}: too few refuted pairs: {:?}", Summary(tally));
    assert!(tally.unsupported <= tally.pairs / 50, "{schema_type}: too many unsupported: {:?}", Summary(tally));
}

#[test]
fn avro_backward_verdicts_hold_on_the_wire() {
    let tally = differential(SchemaType::Avro, avro_gen::pair, false);
    assert_tally(SchemaType::Avro, &tally);
}

#[test]
fn protobuf_backward_verdicts_hold_on_the_wire() {
    let tally = differential(SchemaType::Protobuf, proto_gen::pair, false);
    assert_tally(SchemaType::Protobuf, &tally);
}

#[test]
fn json_schema_backward_verdicts_hold_on_the_wire() {
    let tally = differential(SchemaType::Json, json_gen::pair, false);
    assert_tally(SchemaType::Json, &tally);
}

/// Avro schemas and the evolutions users make of them.
mod avro_gen {
    use super::{Map, Rng, Value, json};
    use rand::seq::{IndexedRandom as _, SliceRandom as _};
    use rand_chacha::ChaCha8Rng;

    #[derive(Debug, Clone)]
    pub enum Ty {
        Prim(&'static str),
        Array(Box<Ty>),
        Map(Box<Ty>),
        Union(Vec<Ty>),
        Enum { name: String, symbols: Vec<String>, default: Option<String> },
        Fixed { name: String, size: u64 },
        Record { name: String, aliases: Vec<String>, fields: Vec<Field> },
    }

    #[derive(Debug, Clone)]
    pub struct Field {
        pub name: String,
        pub ty: Ty,
        pub default: Option<Value>,
        pub aliases: Vec<String>,
    }

    const PRIMS: &[&str] = &["boolean", "int", "long", "float", "double", "bytes", "string"];

    struct Names(usize);

    impl Names {
        fn next(&mut self, prefix: &str) -> String {
            self.0 += 1;
            format!("{prefix}{}", self.0)
        }
    }

    fn ty(rng: &mut ChaCha8Rng, names: &mut Names, depth: usize) -> Ty {
        let choice = if depth >= 2 { rng.random_range(0..4) } else { rng.random_range(0..10) };
        match choice {
            0..=2 => Ty::Prim(PRIMS.choose(rng).copied().unwrap_or("int")),
            3 => enumeration(rng, names),
            4 => Ty::Array(Box::new(ty(rng, names, depth + 1))),
            5 => Ty::Map(Box::new(ty(rng, names, depth + 1))),
            6 | 7 => {
                let mut branches = vec![Ty::Prim("null")];
                for _ in 0..rng.random_range(1..3) {
                    let branch = ty(rng, names, depth + 1);
                    if !matches!(branch, Ty::Union(_)) && !branches.iter().any(|b| same_kind(b, &branch)) {
                        branches.push(branch);
                    }
                }
                if rng.random_bool(0.3) {
                    branches.rotate_left(1);
                }
                Ty::Union(branches)
            }
            8 => Ty::Fixed { name: names.next("F"), size: rng.random_range(1..4) },
            _ => record(rng, names, depth + 1),
        }
    }

    fn enumeration(rng: &mut ChaCha8Rng, names: &mut Names) -> Ty {
        let symbols: Vec<String> =
            ["A", "B", "C", "D"][..rng.random_range(1..=4)].iter().map(|s| (*s).to_owned()).collect();
        let default = rng.random_bool(0.3).then(|| symbols[0].clone());
        Ty::Enum { name: names.next("E"), symbols, default }
    }

    fn record(rng: &mut ChaCha8Rng, names: &mut Names, depth: usize) -> Ty {
        let fields = (0..rng.random_range(1..6))
            .map(|i| {
                let ty = ty(rng, names, depth);
                let default = rng.random_bool(0.5).then(|| default_of(&ty, rng));
                Field { name: format!("f{i}"), ty, default, aliases: Vec::new() }
            })
            .collect();
        Ty::Record { name: names.next("R"), aliases: Vec::new(), fields }
    }

    fn same_kind(a: &Ty, b: &Ty) -> bool {
        match (a, b) {
            (Ty::Prim(x), Ty::Prim(y)) => x == y,
            (Ty::Array(_), Ty::Array(_)) | (Ty::Map(_), Ty::Map(_)) | (Ty::Union(_), Ty::Union(_)) => true,
            (Ty::Enum { name: x, .. }, Ty::Enum { name: y, .. })
            | (Ty::Fixed { name: x, .. }, Ty::Fixed { name: y, .. })
            | (Ty::Record { name: x, .. }, Ty::Record { name: y, .. }) => x == y,
            _ => false,
        }
    }

    /// A valid default of `ty` (a union's is of its first branch).
    fn default_of(ty: &Ty, rng: &mut ChaCha8Rng) -> Value {
        match ty {
            Ty::Prim("null") => Value::Null,
            Ty::Prim("boolean") => json!(rng.random_bool(0.5)),
            Ty::Prim("int" | "long") => json!(rng.random_range(-3..300)),
            Ty::Prim("float" | "double") => json!(1.5),
            Ty::Prim(_) => json!(if rng.random_bool(0.5) { "" } else { "dflt" }),
            Ty::Array(_) => json!([]),
            Ty::Map(_) => json!({}),
            Ty::Union(branches) => default_of(&branches[0], rng),
            Ty::Enum { symbols, .. } => json!(symbols.choose(rng).cloned().unwrap_or_default()),
            Ty::Fixed { size, .. } => json!("\u{0}".repeat(usize::try_from(*size).unwrap_or(1))),
            Ty::Record { fields, .. } => {
                Value::Object(fields.iter().map(|f| (f.name.clone(), default_of(&f.ty, rng))).collect())
            }
        }
    }

    fn default_fits(ty: &Ty, value: &Value) -> bool {
        match ty {
            Ty::Prim("null") => value.is_null(),
            Ty::Prim("boolean") => value.is_boolean(),
            Ty::Prim("int") => value.as_i64().is_some_and(|v| i32::try_from(v).is_ok()),
            Ty::Prim("long") => value.is_i64(),
            Ty::Prim("float" | "double") => value.is_number(),
            Ty::Prim(_) => value.is_string(),
            Ty::Array(items) => value.as_array().is_some_and(|a| a.iter().all(|v| default_fits(items, v))),
            Ty::Map(values) => value.as_object().is_some_and(|m| m.values().all(|v| default_fits(values, v))),
            Ty::Union(branches) => default_fits(&branches[0], value),
            Ty::Enum { symbols, .. } => value.as_str().is_some_and(|s| symbols.iter().any(|x| x == s)),
            Ty::Fixed { size, .. } => value.as_str().is_some_and(|s| s.chars().count() as u64 == *size),
            Ty::Record { fields, .. } => value
                .as_object()
                .is_some_and(|o| fields.iter().all(|f| o.get(&f.name).is_some_and(|v| default_fits(&f.ty, v)))),
        }
    }

    /// Makes every default valid again after a change (as a careful author would).
    fn repair(ty: &mut Ty, rng: &mut ChaCha8Rng) {
        match ty {
            Ty::Array(inner) | Ty::Map(inner) => repair(inner, rng),
            Ty::Union(branches) => branches.iter_mut().for_each(|b| repair(b, rng)),
            Ty::Enum { symbols, default, .. } => {
                if default.as_ref().is_some_and(|d| !symbols.contains(d)) {
                    *default = symbols.first().cloned();
                }
            }
            Ty::Record { fields, .. } => {
                for field in fields {
                    repair(&mut field.ty, rng);
                    if field.default.as_ref().is_some_and(|d| !default_fits(&field.ty, d)) {
                        field.default = Some(default_of(&field.ty, rng));
                    }
                }
            }
            Ty::Prim(_) | Ty::Fixed { .. } => {}
        }
    }

    pub fn to_json(ty: &Ty) -> Value {
        match ty {
            Ty::Prim(p) => json!(p),
            Ty::Array(items) => json!({"type": "array", "items": to_json(items)}),
            Ty::Map(values) => json!({"type": "map", "values": to_json(values)}),
            Ty::Union(branches) => Value::Array(branches.iter().map(to_json).collect()),
            Ty::Enum { name, symbols, default } => {
                let mut e = json!({"type": "enum", "name": name, "symbols": symbols});
                if let Some(d) = default {
                    e["default"] = json!(d);
                }
                e
            }
            Ty::Fixed { name, size } => json!({"type": "fixed", "name": name, "size": size}),
            Ty::Record { name, aliases, fields } => {
                let fields: Vec<Value> = fields
                    .iter()
                    .map(|f| {
                        let mut o = Map::new();
                        o.insert("name".into(), json!(f.name));
                        o.insert("type".into(), to_json(&f.ty));
                        if let Some(d) = &f.default {
                            o.insert("default".into(), d.clone());
                        }
                        if !f.aliases.is_empty() {
                            o.insert("aliases".into(), json!(f.aliases));
                        }
                        Value::Object(o)
                    })
                    .collect();
                let mut r = json!({"type": "record", "name": name, "fields": fields});
                if !aliases.is_empty() {
                    r["aliases"] = json!(aliases);
                }
                r
            }
        }
    }

    /// Applies [`mutate`] to the `n`-th node of the tree, depth first.
    fn mutate_nth(ty: &mut Ty, n: &mut usize, rng: &mut ChaCha8Rng, names: &mut Names) -> bool {
        if *n == 0 {
            mutate(ty, rng, names);
            return true;
        }
        *n -= 1;
        match ty {
            Ty::Array(inner) | Ty::Map(inner) => mutate_nth(inner, n, rng, names),
            Ty::Union(branches) => branches.iter_mut().any(|b| mutate_nth(b, n, rng, names)),
            Ty::Record { fields, .. } => fields.iter_mut().any(|f| mutate_nth(&mut f.ty, n, rng, names)),
            _ => false,
        }
    }

    fn count(ty: &Ty) -> usize {
        1 + match ty {
            Ty::Array(inner) | Ty::Map(inner) => count(inner),
            Ty::Union(branches) => branches.iter().map(count).sum(),
            Ty::Record { fields, .. } => fields.iter().map(|f| count(&f.ty)).sum(),
            _ => 0,
        }
    }

    fn promoted_or_narrowed(p: &'static str, rng: &mut ChaCha8Rng) -> &'static str {
        let options: &[&str] = match p {
            "int" => &["long", "float", "double", "string"],
            "long" => &["int", "float", "double"],
            "float" => &["double", "int"],
            "double" => &["float", "long"],
            "string" => &["bytes", "int"],
            "bytes" => &["string", "boolean"],
            _ => &["int", "string"],
        };
        options.choose(rng).copied().unwrap_or("string")
    }

    /// One change to one node.
    fn mutate(ty: &mut Ty, rng: &mut ChaCha8Rng, names: &mut Names) {
        match ty {
            Ty::Prim(p) => {
                *ty = match rng.random_range(0..4) {
                    0 => Ty::Union(vec![Ty::Prim("null"), Ty::Prim(p)]),
                    1 => Ty::Prim(PRIMS.choose(rng).copied().unwrap_or("int")),
                    _ => Ty::Prim(promoted_or_narrowed(p, rng)),
                }
            }
            Ty::Array(inner) | Ty::Map(inner) => {
                if rng.random_bool(0.2) {
                    *ty = Ty::Union(vec![Ty::Prim("null"), ty.clone()]);
                } else {
                    mutate(inner, rng, names);
                }
            }
            Ty::Union(branches) => match rng.random_range(0..5) {
                0 if branches.len() > 1 => {
                    let i = rng.random_range(0..branches.len());
                    branches.remove(i);
                }
                1 => {
                    let extra = Ty::Prim(PRIMS.choose(rng).copied().unwrap_or("int"));
                    if !branches.iter().any(|b| same_kind(b, &extra)) {
                        branches.push(extra);
                    }
                }
                2 => branches.shuffle(rng),
                3 if branches.len() == 2 => {
                    *ty = branches.iter().find(|b| !matches!(b, Ty::Prim("null"))).cloned().unwrap_or(Ty::Prim("null"));
                }
                _ => {
                    let i = rng.random_range(0..branches.len());
                    let before = branches[i].clone();
                    mutate(&mut branches[i], rng, names);
                    if matches!(branches[i], Ty::Union(_))
                        || branches.iter().enumerate().any(|(j, b)| j != i && same_kind(b, &branches[i]))
                    {
                        branches[i] = before;
                    }
                }
            },
            Ty::Enum { name, symbols, default } => match rng.random_range(0..6) {
                0 => symbols.push(["E", "F", "G"].choose(rng).copied().unwrap_or("E").to_owned()),
                1 if symbols.len() > 1 => {
                    let i = rng.random_range(0..symbols.len());
                    symbols.remove(i);
                }
                2 => *default = if default.is_some() { None } else { symbols.last().cloned() },
                3 => {
                    let i = rng.random_range(0..symbols.len());
                    symbols[i] = format!("{}X", symbols[i]);
                }
                4 => *name = names.next("E"),
                _ => symbols.shuffle(rng),
            },
            Ty::Fixed { size, name } => {
                if rng.random_bool(0.5) {
                    *size += 1;
                } else {
                    *name = names.next("F");
                }
            }
            Ty::Record { name, aliases, fields } => match rng.random_range(0..9) {
                0 => {
                    let new_ty = self::ty(rng, names, 2);
                    let default = rng.random_bool(0.6).then(|| default_of(&new_ty, rng));
                    let at = rng.random_range(0..=fields.len());
                    fields.insert(at, Field { name: names.next("added"), ty: new_ty, default, aliases: Vec::new() });
                }
                1 if fields.len() > 1 => {
                    let i = rng.random_range(0..fields.len());
                    fields.remove(i);
                }
                2 => {
                    let i = rng.random_range(0..fields.len());
                    let old = std::mem::replace(&mut fields[i].name, names.next("renamed"));
                    if rng.random_bool(0.6) {
                        fields[i].aliases.push(old);
                    }
                }
                3 => fields.shuffle(rng),
                4 => {
                    let i = rng.random_range(0..fields.len());
                    fields[i].default = match fields[i].default {
                        Some(_) => None,
                        None => Some(default_of(&fields[i].ty, rng)),
                    };
                }
                5 => {
                    let old = std::mem::replace(name, names.next("R"));
                    if rng.random_bool(0.5) {
                        aliases.push(old);
                    }
                }
                _ => {
                    let i = rng.random_range(0..fields.len());
                    mutate(&mut fields[i].ty, rng, names);
                }
            },
        }
    }

    /// An (old, new) pair: a random schema and one to three changes of it.
    pub fn pair(rng: &mut ChaCha8Rng) -> (String, String) {
        let mut names = Names(0);
        let mut old = record(rng, &mut names, 0);
        repair(&mut old, rng);
        let mut new = old.clone();
        for _ in 0..rng.random_range(1..=3) {
            let mut n = rng.random_range(0..count(&new));
            mutate_nth(&mut new, &mut n, rng, &mut names);
        }
        repair(&mut new, rng);
        (to_json(&old).to_string(), to_json(&new).to_string())
    }
}

/// Protobuf files and the evolutions users make of them.
mod proto_gen {
    use super::Rng;
    use rand::seq::{IndexedRandom as _, SliceRandom as _};
    use rand_chacha::ChaCha8Rng;

    #[derive(Debug, Clone)]
    struct Field {
        name: String,
        number: u32,
        ty: String,
        label: &'static str,
        /// proto2 `[default = ...]`.
        default: Option<String>,
    }

    #[derive(Debug, Clone)]
    struct Oneof {
        name: String,
        fields: Vec<Field>,
    }

    #[derive(Debug, Clone)]
    struct Message {
        name: String,
        fields: Vec<Field>,
        oneofs: Vec<Oneof>,
    }

    #[derive(Debug, Clone)]
    struct File {
        proto2: bool,
        messages: Vec<Message>,
        enums: Vec<(String, Vec<(String, i32)>)>,
    }

    const GROUPS: &[&[&str]] = &[
        &["int32", "int64", "uint32", "uint64", "bool", "Status"],
        &["sint32", "sint64"],
        &["string", "bytes"],
        &["fixed32", "sfixed32"],
        &["fixed64", "sfixed64"],
        &["float"],
        &["double"],
    ];

    fn scalar(rng: &mut ChaCha8Rng) -> String {
        let group = GROUPS.choose(rng).copied().unwrap_or(GROUPS[0]);
        group.choose(rng).copied().unwrap_or("int32").to_owned()
    }

    fn field_type(rng: &mut ChaCha8Rng, own: &str) -> String {
        match rng.random_range(0..10) {
            0 => "Line".to_owned(),
            1 if own != "Line" => format!(
                "map<{}, {}>",
                ["string", "int32", "int64", "bool"].choose(rng).copied().unwrap_or("string"),
                scalar_or_line(rng)
            ),
            _ => scalar(rng),
        }
    }

    fn scalar_or_line(rng: &mut ChaCha8Rng) -> String {
        if rng.random_bool(0.2) { "Line".to_owned() } else { scalar(rng).replace("Status", "int32") }
    }

    fn label(rng: &mut ChaCha8Rng, proto2: bool, ty: &str) -> &'static str {
        if ty.starts_with("map<") {
            return "";
        }
        match (proto2, rng.random_range(0..6)) {
            (_, 0) => "repeated",
            (true, 1) => "required",
            (true, _) | (false, 1) => "optional",
            (false, _) => "",
        }
    }

    fn default_for(ty: &str, rng: &mut ChaCha8Rng) -> Option<String> {
        let value = match ty {
            "bool" => (if rng.random_bool(0.5) { "true" } else { "false" }).to_owned(),
            "string" | "bytes" => "\"d\"".to_owned(),
            "float" | "double" => "1.5".to_owned(),
            "Status" => "OPEN".to_owned(),
            t if t.starts_with("map<") || t == "Line" => return None,
            t if t.starts_with('u') || t.starts_with("fixed") => rng.random_range(0..9).to_string(),
            _ => rng.random_range(-5..9).to_string(),
        };
        Some(value)
    }

    fn message(rng: &mut ChaCha8Rng, name: &str, proto2: bool) -> Message {
        let mut number = 0;
        let mut next = || {
            number += 1;
            number
        };
        let fields = (0..rng.random_range(1..6))
            .map(|i| {
                let ty = field_type(rng, name);
                let label = label(rng, proto2, &ty);
                let default =
                    (proto2 && label == "optional" && rng.random_bool(0.3)).then(|| default_for(&ty, rng)).flatten();
                Field { name: format!("f{i}"), number: next(), ty, label, default }
            })
            .collect();
        let oneofs = if rng.random_bool(0.4) {
            let fields = (0..rng.random_range(1..3))
                .map(|i| Field {
                    name: format!("o{i}"),
                    number: next(),
                    ty: scalar_or_line(rng),
                    label: "",
                    default: None,
                })
                .collect();
            vec![Oneof { name: "choice".to_owned(), fields }]
        } else {
            Vec::new()
        };
        Message { name: name.to_owned(), fields, oneofs }
    }

    fn file(rng: &mut ChaCha8Rng) -> File {
        let proto2 = rng.random_bool(0.25);
        let mut messages = vec![message(rng, "Order", proto2)];
        let mut line = message(rng, "Line", proto2);
        line.fields.retain(|f| f.ty != "Line" && !f.ty.contains("Line"));
        line.oneofs.iter_mut().for_each(|o| o.fields.retain(|f| !f.ty.contains("Line")));
        line.oneofs.retain(|o| !o.fields.is_empty());
        if line.fields.is_empty() {
            line.fields.push(Field {
                name: "sku".into(),
                number: 1,
                ty: "string".into(),
                label: if proto2 { "optional" } else { "" },
                default: None,
            });
        }
        messages.push(line);
        let status = vec![("UNKNOWN".to_owned(), 0), ("OPEN".to_owned(), 1), ("CLOSED".to_owned(), 2)];
        File { proto2, messages, enums: vec![("Status".to_owned(), status)] }
    }

    fn render(file: &File) -> String {
        let mut out = format!("syntax = \"{}\";\npackage shop;\n", if file.proto2 { "proto2" } else { "proto3" });
        let field = |f: &Field, out: &mut String, indent: &str| {
            let label = if f.label.is_empty() { String::new() } else { format!("{} ", f.label) };
            let default = f.default.as_ref().map_or_else(String::new, |d| format!(" [default = {d}]"));
            out.push_str(&format!("{indent}{label}{} {} = {}{default};\n", f.ty, f.name, f.number));
        };
        for message in &file.messages {
            out.push_str(&format!("message {} {{\n", message.name));
            for f in &message.fields {
                field(f, &mut out, "  ");
            }
            for oneof in &message.oneofs {
                out.push_str(&format!("  oneof {} {{\n", oneof.name));
                for f in &oneof.fields {
                    field(f, &mut out, "    ");
                }
                out.push_str("  }\n");
            }
            out.push_str("}\n");
        }
        for (name, values) in &file.enums {
            out.push_str(&format!("enum {name} {{\n"));
            for (value, number) in values {
                out.push_str(&format!("  {value} = {number};\n"));
            }
            out.push_str("}\n");
        }
        out
    }

    fn free_number(message: &Message) -> u32 {
        let used = message.fields.iter().chain(message.oneofs.iter().flat_map(|o| &o.fields)).map(|f| f.number);
        used.max().unwrap_or(0) + 1
    }

    fn retype(field: &mut Field, rng: &mut ChaCha8Rng) {
        if rng.random_bool(0.7)
            && let Some(group) = GROUPS.iter().find(|g| g.contains(&field.ty.as_str()))
        {
            field.ty = group.choose(rng).copied().unwrap_or("int32").to_owned();
        } else {
            field.ty = field_type(rng, "");
        }
        if field.ty.starts_with("map<") {
            field.label = "";
        }
        field.default = None;
    }

    fn mutate(file: &mut File, rng: &mut ChaCha8Rng) {
        let proto2 = file.proto2;
        if rng.random_range(0..12) == 0 {
            let (_, values) = &mut file.enums[0];
            match rng.random_range(0..3) {
                0 => values.push(("REFUNDED".to_owned(), 3)),
                1 if values.len() > 1 => {
                    values.pop();
                }
                _ => {
                    if let Some((name, _)) = values.get_mut(1) {
                        "OPENED".clone_into(name);
                    }
                }
            }
            return;
        }
        let m = rng.random_range(0..file.messages.len());
        let message = &mut file.messages[m];
        let own = message.name.clone();
        match rng.random_range(0..12) {
            0 => {
                let number = free_number(message);
                let ty = field_type(rng, &own);
                let label = label(rng, proto2, &ty);
                message.fields.push(Field { name: format!("added{number}"), number, ty, label, default: None });
            }
            1 if message.fields.len() > 1 => {
                let i = rng.random_range(0..message.fields.len());
                message.fields.remove(i);
            }
            2 => {
                let i = rng.random_range(0..message.fields.len());
                message.fields[i].name = format!("renamed{i}");
            }
            3 | 4 => {
                let i = rng.random_range(0..message.fields.len());
                retype(&mut message.fields[i], rng);
            }
            5 => {
                let i = rng.random_range(0..message.fields.len());
                let f = &mut message.fields[i];
                if !f.ty.starts_with("map<") {
                    f.label = match f.label {
                        "repeated" => {
                            if proto2 {
                                "optional"
                            } else {
                                ""
                            }
                        }
                        "required" => "optional",
                        "optional" if proto2 && rng.random_bool(0.5) => "required",
                        _ => "repeated",
                    };
                    f.default = None;
                }
            }
            6 => {
                // Move one or two fields into a oneof (an existing one or a new one).
                let movable: Vec<usize> = (0..message.fields.len())
                    .filter(|&i| {
                        message.fields[i].label != "repeated"
                            && message.fields[i].label != "required"
                            && !message.fields[i].ty.starts_with("map<")
                    })
                    .collect();
                let take = rng.random_range(1..=2).min(movable.len());
                let mut chosen: Vec<usize> = movable.choose_multiple(rng, take).copied().collect();
                chosen.sort_unstable_by(|a, b| b.cmp(a));
                let moved: Vec<Field> = chosen
                    .into_iter()
                    .map(|i| {
                        let mut f = message.fields.remove(i);
                        f.label = "";
                        f.default = None;
                        f
                    })
                    .collect();
                if message.fields.is_empty() {
                    let number = free_number(message).max(100);
                    message.fields.push(Field {
                        name: "keep".into(),
                        number,
                        ty: "string".into(),
                        label: if proto2 { "optional" } else { "" },
                        default: None,
                    });
                }
                match message.oneofs.first_mut() {
                    Some(oneof) if rng.random_bool(0.5) => oneof.fields.extend(moved),
                    _ => message.oneofs.push(Oneof { name: format!("moved{}", message.oneofs.len()), fields: moved }),
                }
                message.oneofs.retain(|o| !o.fields.is_empty());
            }
            7 if !message.oneofs.is_empty() => {
                let oneof = &mut message.oneofs[0];
                if rng.random_bool(0.5) && oneof.fields.len() > 1 {
                    oneof.fields.pop();
                } else if let Some(mut f) = oneof.fields.pop() {
                    f.label = if proto2 { "optional" } else { "" };
                    message.fields.push(f);
                }
                message.oneofs.retain(|o| !o.fields.is_empty());
            }
            8 => {
                let i = rng.random_range(0..message.fields.len());
                let number = free_number(message);
                message.fields[i].number = number;
            }
            9 if proto2 => {
                let i = rng.random_range(0..message.fields.len());
                let f = &mut message.fields[i];
                if f.label == "optional" {
                    f.default = default_for(&f.ty, rng);
                }
            }
            10 => message.fields.shuffle(rng),
            _ => {
                if let Some(oneof) = message.oneofs.first_mut() {
                    let i = rng.random_range(0..oneof.fields.len());
                    retype(&mut oneof.fields[i], rng);
                    oneof.fields[i].label = "";
                    if oneof.fields[i].ty.starts_with("map<") {
                        "string".clone_into(&mut oneof.fields[i].ty);
                    }
                } else {
                    let i = rng.random_range(0..message.fields.len());
                    retype(&mut message.fields[i], rng);
                }
            }
        }
    }

    pub fn pair(rng: &mut ChaCha8Rng) -> (String, String) {
        let old = file(rng);
        let mut new = old.clone();
        for _ in 0..rng.random_range(1..=3) {
            mutate(&mut new, rng);
        }
        (render(&old), render(&new))
    }
}

/// JSON Schemas and the evolutions users make of them.
mod json_gen {
    use super::{Map, Rng, Value, json};
    use rand::seq::IndexedRandom as _;
    use rand_chacha::ChaCha8Rng;

    fn leaf(rng: &mut ChaCha8Rng) -> Value {
        match rng.random_range(0..9) {
            0 => json!({"type": "integer"}),
            1 => json!({"type": "integer", "minimum": 0, "maximum": rng.random_range(1..100)}),
            2 => json!({"type": "number"}),
            3 => json!({"type": "string"}),
            4 => json!({"type": "string", "maxLength": rng.random_range(1..10)}),
            5 => json!({"type": "boolean"}),
            6 => json!({"enum": ["a", "b", "c"]}),
            7 => json!({"type": ["string", "null"]}),
            _ => json!({"type": "array", "items": {"type": "integer"}}),
        }
    }

    fn schema(rng: &mut ChaCha8Rng, depth: usize) -> Value {
        match rng.random_range(0..10) {
            0 if depth < 2 => object(rng, depth + 1),
            1 if depth < 2 => json!({"type": "array", "items": schema(rng, depth + 1)}),
            2 => json!({"oneOf": [{"type": "string"}, {"type": "integer"}]}),
            3 => json!({"anyOf": [{"type": "string", "maxLength": 3}, {"type": "null"}]}),
            _ => leaf(rng),
        }
    }

    fn object(rng: &mut ChaCha8Rng, depth: usize) -> Value {
        let mut properties = Map::new();
        for i in 0..rng.random_range(1..5) {
            properties.insert(format!("p{i}"), schema(rng, depth));
        }
        let mut o = json!({"type": "object", "properties": properties});
        let names: Vec<String> = o["properties"].as_object().map(|p| p.keys().cloned().collect()).unwrap_or_default();
        if rng.random_bool(0.5) {
            o["required"] = json!([names.choose(rng)]);
        }
        match rng.random_range(0..4) {
            0 => o["additionalProperties"] = json!(false),
            1 => o["additionalProperties"] = json!({"type": "string"}),
            _ => {}
        }
        o
    }

    /// How many object schemas the tree has.
    fn objects(value: &Value) -> usize {
        let own = usize::from(value.get("properties").is_some());
        own + value.get("properties").and_then(Value::as_object).map_or(0, |p| p.values().map(objects).sum())
    }

    fn with_object(root: &mut Value, index: usize, f: impl FnOnce(&mut Value)) {
        fn walk(value: &mut Value, index: &mut usize, f: &mut Option<impl FnOnce(&mut Value)>) {
            if value.get("properties").is_some() {
                if *index == 0 {
                    if let Some(f) = f.take() {
                        f(value);
                    }
                    return;
                }
                *index -= 1;
            }
            if let Some(Value::Object(properties)) = value.get_mut("properties") {
                for child in properties.values_mut() {
                    walk(child, index, f);
                }
            }
        }
        let mut index = index;
        walk(root, &mut index, &mut Some(f));
    }

    fn mutate_property(p: &mut Value, rng: &mut ChaCha8Rng) {
        match rng.random_range(0..10) {
            0 => {
                p["type"] = if p["type"] == "integer" { json!("number") } else { json!("integer") };
            }
            1 => p["maximum"] = json!(rng.random_range(0..50)),
            2 => p["minimum"] = json!(rng.random_range(-5..5)),
            3 => p["maxLength"] = json!(rng.random_range(0..5)),
            4 => {
                if let Some(Value::Array(values)) = p.get_mut("enum") {
                    if rng.random_bool(0.5) {
                        values.push(json!("d"));
                    } else {
                        values.pop();
                    }
                } else {
                    *p = json!({"enum": ["a", "b"]});
                }
            }
            5 => {
                let key = if p.get("oneOf").is_some() { "oneOf" } else { "anyOf" };
                if let Some(Value::Array(branches)) = p.get_mut(key) {
                    match rng.random_range(0..3) {
                        0 => branches.push(json!({"type": "string", "minLength": 2})),
                        1 => {
                            branches.pop();
                        }
                        _ => branches.push(json!({"type": "boolean"})),
                    }
                } else {
                    *p = json!({"oneOf": [p.clone(), {"type": "null"}]});
                }
            }
            6 => {
                if let Some(Value::Array(types)) = p.get_mut("type") {
                    types.pop();
                } else if let Some(t) = p.get("type").cloned() {
                    p["type"] = json!([t, "null"]);
                }
            }
            7 => {
                if let Some(o) = p.as_object_mut() {
                    o.remove("maximum");
                    o.remove("maxLength");
                    o.remove("minimum");
                }
            }
            8 => {
                if p.get("oneOf").is_some() {
                    let branches = p["oneOf"].take();
                    *p = json!({"anyOf": branches});
                } else if p.get("anyOf").is_some() {
                    let branches = p["anyOf"].take();
                    *p = json!({"oneOf": branches});
                } else {
                    *p = leaf(rng);
                }
            }
            _ => *p = leaf(rng),
        }
    }

    fn mutate(root: &mut Value, rng: &mut ChaCha8Rng) {
        let index = rng.random_range(0..objects(root));
        let choice = rng.random_range(0..9);
        let extra = leaf(rng);
        let pick = rng.random_range(0..1024_usize);
        with_object(root, index, |o| {
            let names: Vec<String> =
                o["properties"].as_object().map(|p| p.keys().cloned().collect()).unwrap_or_default();
            let name = names[pick % names.len()].clone();
            match choice {
                0 => {
                    o["properties"][format!("added{}", names.len())] = extra;
                }
                1 => {
                    let mut added = extra;
                    added["default"] = json!(null);
                    let new_name = format!("req{}", names.len());
                    o["properties"][&new_name] = added;
                    let mut required = o.get("required").cloned().unwrap_or(json!([]));
                    if let Some(r) = required.as_array_mut() {
                        r.push(json!(new_name));
                    }
                    o["required"] = required;
                }
                2 if names.len() > 1 => {
                    if let Some(p) = o["properties"].as_object_mut() {
                        p.remove(&name);
                    }
                    if let Some(Value::Array(r)) = o.get_mut("required") {
                        r.retain(|n| n != &json!(name));
                    }
                }
                3 => {
                    let mut required = o.get("required").cloned().unwrap_or(json!([]));
                    if let Some(r) = required.as_array_mut() {
                        if r.contains(&json!(name)) {
                            r.retain(|n| n != &json!(name));
                        } else {
                            r.push(json!(name));
                        }
                    }
                    o["required"] = required;
                }
                4 => {
                    let current = o.get("additionalProperties").cloned();
                    let next = match current {
                        Some(Value::Bool(false)) => json!(true),
                        Some(Value::Bool(true)) => json!({"type": "string"}),
                        None | Some(_) => json!(false),
                    };
                    o["additionalProperties"] = next;
                }
                5 => {
                    if let Some(p) = o["properties"].as_object_mut()
                        && let Some(value) = p.remove(&name)
                    {
                        p.insert(format!("{name}_renamed"), value);
                    }
                }
                _ => mutate_property(&mut o["properties"][&name], rng),
            }
        });
    }

    pub fn pair(rng: &mut ChaCha8Rng) -> (String, String) {
        let old = object(rng, 0);
        let mut new = old.clone();
        for _ in 0..rng.random_range(1..=2) {
            mutate(&mut new, rng);
        }
        (old.to_string(), new.to_string())
    }
}

#[test]
fn the_generators_make_every_kind_of_change() {
    // A guard on the differential runs: their generators reach the changes the
    // known differences and the rules are about.
    let mut rng = ChaCha8Rng::seed_from_u64(seed());
    let texts: Vec<String> = (0..300).map(|_| proto_gen::pair(&mut rng).1).collect();
    for needle in ["oneof", "repeated", "map<", "[default", "required", "sint64", "sfixed32"] {
        assert!(texts.iter().any(|t| t.contains(needle)), "no generated .proto has {needle}");
    }
    let texts: Vec<String> = (0..300).map(|_| avro_gen::pair(&mut rng).1).collect();
    for needle in ["\"aliases\"", "\"default\"", "\"fixed\"", "\"enum\"", "\"map\""] {
        assert!(texts.iter().any(|t| t.contains(needle)), "no generated Avro schema has {needle}");
    }
    let texts: Vec<String> = (0..300).map(|_| json_gen::pair(&mut rng).1).collect();
    for needle in ["oneOf", "anyOf", "additionalProperties", "required", "maximum"] {
        assert!(texts.iter().any(|t| t.contains(needle)), "no generated JSON Schema has {needle}");
    }
}
