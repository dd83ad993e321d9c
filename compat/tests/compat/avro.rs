//! Avro: the checker's verdicts, table by table, and its properties.

use apache_avro::schema_compatibility::SchemaCompatibility;
use proptest::prelude::*;
use serde_json::{Value, json};
use stele_compat::level::{check_level, check_pair};
use stele_compat::{CompatibilityLevel, ParsedSchema, SchemaType, parse};

fn avro(schema: &Value) -> ParsedSchema {
    parse(SchemaType::Avro, &schema.to_string(), &[], false).unwrap_or_else(|e| panic!("{schema} does not parse: {e}"))
}

#[expect(clippy::needless_pass_by_value, reason = "the table passes json! values inline")]
fn record(fields: Value) -> Value {
    json!({"type": "record", "name": "R", "namespace": "com.example", "fields": fields})
}

/// The findings (rule and path) when `new` reads data written with `old`.
#[expect(clippy::needless_pass_by_value, reason = "the table passes json! values inline")]
fn backward(old: Value, new: Value) -> Vec<(String, String)> {
    check_pair(CompatibilityLevel::Backward, &avro(&new), &avro(&old)).into_iter().map(|p| (p.rule, p.path)).collect()
}

fn found(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items.iter().map(|(r, p)| ((*r).to_owned(), (*p).to_owned())).collect()
}

macro_rules! table {
    ($($name:ident: $old:expr, $new:expr => [$(($rule:literal, $path:literal)),*];)*) => {
        $(
            #[test]
            fn $name() {
                assert_eq!(backward($old, $new), found(&[$(($rule, $path)),*]));
            }
        )*
    };
}

table! {
    int_promotes_to_long_float_and_double: record(json!([{"name": "a", "type": "int"}])), record(json!([{"name": "a", "type": "double"}])) => [];
    long_does_not_narrow_to_int: record(json!([{"name": "a", "type": "long"}])), record(json!([{"name": "a", "type": "int"}])) => [("TYPE_MISMATCH", "/fields/0/type")];
    string_and_bytes_read_each_other: record(json!([{"name": "a", "type": "bytes"}])), record(json!([{"name": "a", "type": "string"}])) => [];
    float_promotes_to_double_only: record(json!([{"name": "a", "type": "float"}])), record(json!([{"name": "a", "type": "long"}])) => [("TYPE_MISMATCH", "/fields/0/type")];
    a_removed_field_is_skipped: record(json!([{"name": "a", "type": "int"}, {"name": "b", "type": "int"}])), record(json!([{"name": "a", "type": "int"}])) => [];
    a_field_read_through_its_alias: record(json!([{"name": "old_name", "type": "int"}])), record(json!([{"name": "new_name", "type": "int", "aliases": ["old_name"]}])) => [];
    every_problem_is_reported_not_the_first: record(json!([{"name": "a", "type": "string"}, {"name": "b", "type": "int"}])), record(json!([{"name": "a", "type": "int"}, {"name": "b", "type": "string"}, {"name": "c", "type": "int"}])) => [("TYPE_MISMATCH", "/fields/0/type"), ("TYPE_MISMATCH", "/fields/1/type"), ("READER_FIELD_MISSING_DEFAULT_VALUE", "/fields/2")];
    a_writer_union_needs_every_branch_readable: record(json!([{"name": "a", "type": ["null", "string"]}])), record(json!([{"name": "a", "type": "string"}])) => [("TYPE_MISMATCH", "/fields/0/type/0")];
    a_writer_union_whose_every_branch_promotes_is_readable: record(json!([{"name": "a", "type": ["int", "double"]}])), record(json!([{"name": "a", "type": "double"}])) => [];
    a_reader_union_reads_a_plain_writer_type: record(json!([{"name": "a", "type": "string"}])), record(json!([{"name": "a", "type": ["null", "string"], "default": null}])) => [];
    a_reader_union_without_the_writer_type_is_missing_a_branch: record(json!([{"name": "a", "type": "boolean"}])), record(json!([{"name": "a", "type": ["null", "string"]}])) => [("MISSING_UNION_BRANCH", "/fields/0/type")];
    arrays_compare_their_items: record(json!([{"name": "a", "type": {"type": "array", "items": "int"}}])), record(json!([{"name": "a", "type": {"type": "array", "items": "string"}}])) => [("TYPE_MISMATCH", "/fields/0/type/items")];
    maps_compare_their_values: record(json!([{"name": "a", "type": {"type": "map", "values": "long"}}])), record(json!([{"name": "a", "type": {"type": "map", "values": "int"}}])) => [("TYPE_MISMATCH", "/fields/0/type/values")];
    named_types_match_by_unqualified_name: json!({"type": "record", "name": "a.R", "fields": []}), json!({"type": "record", "name": "b.R", "fields": []}) => [];
    an_enum_default_covers_missing_symbols: record(json!([{"name": "e", "type": {"type": "enum", "name": "E", "symbols": ["A", "B"]}}])), record(json!([{"name": "e", "type": {"type": "enum", "name": "E", "symbols": ["A"], "default": "A"}}])) => [];
    nested_records_report_nested_paths: record(json!([{"name": "inner", "type": {"type": "record", "name": "In", "fields": [{"name": "x", "type": "int"}]}}])), record(json!([{"name": "inner", "type": {"type": "record", "name": "In", "fields": [{"name": "x", "type": "int"}, {"name": "y", "type": "int"}]}}])) => [("READER_FIELD_MISSING_DEFAULT_VALUE", "/fields/0/type/fields/1")];
    a_type_change_at_the_top_is_at_the_root: json!("string"), json!("int") => [("TYPE_MISMATCH", "/")];
}

#[test]
fn a_full_failure_says_whether_the_new_schema_cannot_read_the_old_one() {
    let name = json!([{"name": "name", "type": "string"}]);
    let with_age = json!([{"name": "name", "type": "string"}, {"name": "age", "type": "int"}]);
    let as_int = json!([{"name": "name", "type": "int"}]);
    let full = CompatibilityLevel::Full;
    // Dropping a field without a default: only the old schema cannot read the new data.
    let dropped = check_level(full, &avro(&record(name.clone())), &[&avro(&record(with_age.clone()))]);
    let dropped = dropped.expect("dropping a required field is not FULL compatible");
    assert_eq!((dropped.index, dropped.backward), (0, false));
    // Adding one: the new schema cannot read the old data.
    let added = check_level(full, &avro(&record(with_age)), &[&avro(&record(name.clone()))]);
    assert!(added.expect("adding a required field is not FULL compatible").backward);
    // A changed type fails both ways, forward problems first.
    let changed = check_level(full, &avro(&record(as_int)), &[&avro(&record(name))]).expect("string to int");
    assert!(changed.backward);
    let messages: Vec<&str> = changed.problems.iter().map(|p| p.confluent_message.as_str()).collect();
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert!(messages[0].contains("in the old schema does not match with the new schema"), "{messages:?}");
    assert!(messages[1].contains("in the new schema does not match with the old schema"), "{messages:?}");
}

#[test]
fn recursive_types_terminate_and_compare() {
    let list = |extra: Value| {
        json!({"type": "record", "name": "Node", "fields": [
            {"name": "value", "type": "int"},
            {"name": "next", "type": ["null", "Node"], "default": null},
            extra
        ]})
    };
    let old = list(json!({"name": "label", "type": "string", "default": ""}));
    let new = list(json!({"name": "label", "type": "int", "default": 0}));
    assert_eq!(backward(old.clone(), old.clone()), found(&[]));
    assert_eq!(backward(old, new), found(&[("TYPE_MISMATCH", "/fields/2/type")]));
}

#[test]
fn named_types_from_a_referenced_subject_resolve() {
    let address = stele_compat::ResolvedReference {
        name: "com.example.Address".into(),
        schema_type: SchemaType::Avro,
        schema: json!({"type": "record", "name": "Address", "namespace": "com.example", "fields": [{"name": "city", "type": "string"}]}).to_string(),
        references: Vec::new(),
    };
    let customer = json!({"type": "record", "name": "Customer", "namespace": "com.example", "fields": [{"name": "address", "type": "Address"}]});
    let parsed = parse(SchemaType::Avro, &customer.to_string(), &[address], false).expect("parses with its reference");
    // The referenced type is printed by name only, as Confluent stores it.
    assert_eq!(
        parsed.canonical,
        r#"{"type":"record","name":"Customer","namespace":"com.example","fields":[{"name":"address","type":"Address"}]}"#
    );
}

#[test]
fn canonical_text_follows_javas_key_order_and_drops_whitespace() {
    let spelled = r#"{ "fields": [ {"default": 1, "type": "int", "name": "a", "doc": "d", "order": "descending", "aliases": ["b"]} ], "name": "R", "type": "record", "aliases": ["Q"], "custom": "x" }"#;
    let parsed = parse(SchemaType::Avro, spelled, &[], false).expect("parses");
    assert_eq!(
        parsed.canonical,
        r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int","doc":"d","default":1,"order":"descending","aliases":["b"]}],"custom":"x","aliases":["Q"]}"#
    );
    assert_eq!(parse(SchemaType::Avro, r#"{"type":"string"}"#, &[], false).expect("parses").canonical, r#""string""#);
}

#[test]
fn invalid_schemas_name_the_problem() {
    let cases = [
        (r#"{"type":"record","name":"X"}"#, "Record has no fields"),
        (r#"{"type":"record","name":"1X","fields":[]}"#, "Illegal initial character: 1X"),
        (
            r#"{"type":"record","name":"X","fields":[{"name":"a","type":"int"},{"name":"a","type":"int"}]}"#,
            "Duplicate field a",
        ),
        (r#"["null",["int"]]"#, "Nested union"),
        (r#"{"type":"enum","name":"E","symbols":["A","A"]}"#, "Duplicate enum symbol: A"),
        (r#"{"type":"map","values":"nope"}"#, "Undefined name: \"nope\""),
        (r#"["int","int"]"#, "Duplicate in union:int"),
        (r#"{"type":"record","name":"int","fields":[]}"#, "Schemas may not be named after primitives: int"),
    ];
    for (schema, expected) in cases {
        let error = parse(SchemaType::Avro, schema, &[], false).expect_err(schema).to_string();
        assert!(error.contains(expected), "{schema}: {error}");
    }
}

#[test]
fn normalize_validates_defaults_and_types_them() {
    let schema = stele_compat::avro::Schema::parse(
        r#"{"type":"record","name":"R","fields":[{"name":"f","type":"double","default":1}]}"#,
        &[],
    )
    .expect("parses");
    assert_eq!(
        schema.normalized(),
        r#"{"type":"record","name":"R","fields":[{"name":"f","type":"double","default":1.0}]}"#
    );
    let bad = stele_compat::avro::Schema::parse(
        r#"{"type":"record","name":"R","fields":[{"name":"f","type":"int","default":"x"}]}"#,
        &[],
    )
    .expect("parses");
    assert!(bad.validate_defaults().is_err());
}

// ---- properties ----

fn primitive() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!("null")),
        Just(json!("boolean")),
        Just(json!("int")),
        Just(json!("long")),
        Just(json!("float")),
        Just(json!("double")),
        Just(json!("bytes")),
        Just(json!("string")),
    ]
}

/// Nullable unions: `null` and up to three other branches. A union without
/// `null` whose every branch the reader can read (`["int", "double"]` read as
/// `"double"`) is where apache-avro's checker, the oracle below, is stricter
/// than Java's; the table test `a_writer_union_whose_every_branch_promotes_is_readable`
/// covers that case instead.
fn union() -> impl Strategy<Value = Value> {
    proptest::sample::subsequence(vec!["int", "string", "double"], 0..=3).prop_map(|rest| {
        let mut branches = vec!["null"];
        branches.extend(rest);
        json!(branches)
    })
}

fn enumeration(name: String) -> impl Strategy<Value = Value> {
    proptest::sample::subsequence(vec!["A", "B", "C", "D"], 1..=4)
        .prop_map(move |symbols| json!({"type": "enum", "name": name, "symbols": symbols}))
}

/// Field types: primitives, arrays, maps, unions of primitives, enums and nested records.
/// Named types get random names, so two of them rarely clash (a clash does not parse).
fn field_type(depth: u32) -> BoxedStrategy<Value> {
    let leaf = primitive().boxed();
    if depth == 0 {
        return leaf;
    }
    prop_oneof![
        3 => leaf,
        1 => field_type(depth - 1).prop_map(|items| json!({"type": "array", "items": items})),
        1 => field_type(depth - 1).prop_map(|values| json!({"type": "map", "values": values})),
        1 => union(),
        1 => (0u32..1_000_000).prop_flat_map(|n| enumeration(format!("E{n}"))),
        1 => (0u32..1_000_000, proptest::collection::vec(field_type(depth - 1), 1..4)).prop_map(|(n, types)| {
            let fields: Vec<Value> = types.into_iter().enumerate().map(|(i, t)| json!({"name": format!("n{i}"), "type": t})).collect();
            json!({"type": "record", "name": format!("Rec{n}"), "fields": fields})
        }),
    ]
    .boxed()
}

fn schema() -> impl Strategy<Value = Value> {
    proptest::collection::vec(field_type(2), 1..8).prop_map(|types| {
        let fields: Vec<Value> =
            types.into_iter().enumerate().map(|(i, t)| json!({"name": format!("f{i}"), "type": t})).collect();
        json!({"type": "record", "name": "Root", "fields": fields})
    })
}

/// A field added by evolution `generation`: with a default or without, so that
/// both verdicts come up. Names are unique per generation and position.
fn added_field(generation: usize, position: usize) -> BoxedStrategy<Value> {
    let name = format!("g{generation}_{position}");
    prop_oneof![
        any::<i32>().prop_map({
            let name = name.clone();
            move |default| json!({"name": name, "type": "int", "default": default})
        }),
        Just(json!({"name": name.clone(), "type": ["null", "string"], "default": null})),
        field_type(1).prop_map(move |ty| json!({"name": name, "type": ty})),
    ]
    .boxed()
}

/// The next version of a field type: mostly the same shape, evolved inside
/// (fields added, removed or retyped; enum symbols and union branches changed;
/// primitives swapped, which may or may not promote), sometimes another type.
fn evolve_type(ty: &Value, generation: usize) -> BoxedStrategy<Value> {
    let inner: BoxedStrategy<Value> = match ty {
        Value::String(_) => primitive().boxed(),
        Value::Array(_) => union().boxed(),
        Value::Object(object) => match object["type"].as_str() {
            Some("record") => evolve_record(ty, generation),
            Some("enum") => enumeration(object["name"].as_str().unwrap_or_default().to_owned()).boxed(),
            Some("array") => evolve_type(&object["items"], generation)
                .prop_map(|items| json!({"type": "array", "items": items}))
                .boxed(),
            Some("map") => evolve_type(&object["values"], generation)
                .prop_map(|values| json!({"type": "map", "values": values}))
                .boxed(),
            _ => Just(ty.clone()).boxed(),
        },
        _ => Just(ty.clone()).boxed(),
    };
    prop_oneof![12 => Just(ty.clone()), 3 => inner, 1 => field_type(1)].boxed()
}

/// The next version of a record: each field kept (its type evolved) or
/// dropped, and up to two fields added. The record keeps its name.
fn evolve_record(record: &Value, generation: usize) -> BoxedStrategy<Value> {
    let name = record["name"].clone();
    let kept: Vec<BoxedStrategy<Option<Value>>> = record["fields"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|field| {
            let field = field.clone();
            prop_oneof![
                9 => evolve_type(&field["type"], generation).prop_map(move |ty| {
                    let mut field = field.clone();
                    // A default stays only where it is still valid: the same
                    // type, or `null` for a union that still starts with null.
                    let nullable = ty.get(0) == Some(&json!("null"));
                    if ty != field["type"] && !(nullable && field.get("default") == Some(&Value::Null)) {
                        field.as_object_mut().expect("a field").remove("default");
                    }
                    field["type"] = ty;
                    Some(field)
                }),
                1 => Just(None),
            ]
            .boxed()
        })
        .collect();
    let added =
        (0..2usize).prop_flat_map(move |count| (0..count).map(|i| added_field(generation, i)).collect::<Vec<_>>());
    (kept, added)
        .prop_map(move |(kept, added)| {
            let fields: Vec<Value> = kept.into_iter().flatten().chain(added).collect();
            json!({"type": "record", "name": name, "fields": fields})
        })
        .boxed()
}

/// A subject's history, oldest first: a generated schema and `len - 1`
/// successive evolutions of it.
fn history(len: usize) -> BoxedStrategy<Vec<Value>> {
    if len <= 1 {
        return schema().prop_map(|v| vec![v]).boxed();
    }
    history(len - 1)
        .prop_flat_map(move |versions| {
            let next = evolve_record(versions.last().expect("at least one version"), len);
            (Just(versions), next).prop_map(|(mut versions, next)| {
                versions.push(next);
                versions
            })
        })
        .boxed()
}

/// Parses with our parser; `None` for the generated schemas Avro refuses (two
/// named types that drew the same random name), which the caller hands to
/// `prop_assume!` so proptest counts them.
fn try_avro(schema: &Value) -> Option<ParsedSchema> {
    parse(SchemaType::Avro, &schema.to_string(), &[], false).ok()
}

/// The independent oracle: apache-avro's parser and its port of Java's
/// `SchemaCompatibility`, which share no code with ours.
fn apache(schema: &Value) -> apache_avro::Schema {
    apache_avro::Schema::parse_str(&schema.to_string()).unwrap_or_else(|e| panic!("apache-avro refuses {schema}: {e}"))
}

/// Whether apache-avro says `reader` can read data written with `writer`.
fn apache_reads(reader: &apache_avro::Schema, writer: &apache_avro::Schema) -> bool {
    SchemaCompatibility::can_read(writer, reader).is_ok()
}

/// The version `check_level` should report for `new` against `previous`,
/// computed from apache-avro's verdicts: the latest version only, or (for the
/// `_TRANSITIVE` levels) the newest failing version, going newest to oldest.
fn expected_failure(
    level: CompatibilityLevel,
    new: &apache_avro::Schema,
    previous: &[apache_avro::Schema],
) -> Option<usize> {
    let compatible = |old: &apache_avro::Schema| match level {
        CompatibilityLevel::None => true,
        CompatibilityLevel::Backward | CompatibilityLevel::BackwardTransitive => apache_reads(new, old),
        CompatibilityLevel::Forward | CompatibilityLevel::ForwardTransitive => apache_reads(old, new),
        CompatibilityLevel::Full | CompatibilityLevel::FullTransitive => {
            apache_reads(new, old) && apache_reads(old, new)
        }
    };
    let compared: Vec<usize> = if level.is_transitive() {
        (0..previous.len()).rev().collect()
    } else {
        previous.len().checked_sub(1).into_iter().collect()
    };
    compared.into_iter().find(|&index| !compatible(&previous[index]))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn any_schema_is_compatible_with_itself_at_every_level(schema in schema()) {
        let parsed = try_avro(&schema);
        prop_assume!(parsed.is_some(), "generated schema does not parse");
        let parsed = parsed.expect("assumed");
        for level in CompatibilityLevel::ALL {
            prop_assert!(check_level(level, &parsed, &[&parsed]).is_none(), "{level} {schema}");
        }
    }

    #[test]
    fn adding_a_field_with_a_default_keeps_full(schema in schema(), default in any::<i32>()) {
        let old = try_avro(&schema);
        prop_assume!(old.is_some(), "generated schema does not parse");
        let mut evolved = schema.clone();
        evolved["fields"].as_array_mut().expect("a record").push(json!({"name": "added", "type": "int", "default": default}));
        let new = try_avro(&evolved).expect("adding a field keeps the schema valid");
        // The new schema reads old data with the default; the old one skips the field.
        prop_assert_eq!(check_pair(CompatibilityLevel::Full, &new, &old.expect("assumed")), vec![]);
    }

    #[test]
    fn adding_a_field_without_a_default_breaks_backward_only(schema in schema()) {
        let old = try_avro(&schema);
        prop_assume!(old.is_some(), "generated schema does not parse");
        let old = old.expect("assumed");
        let mut evolved = schema.clone();
        let fields = evolved["fields"].as_array_mut().expect("a record");
        let position = fields.len();
        fields.push(json!({"name": "added", "type": "int"}));
        let new = try_avro(&evolved).expect("adding a field keeps the schema valid");
        let backward: Vec<(String, String)> =
            check_pair(CompatibilityLevel::Backward, &new, &old).into_iter().map(|p| (p.rule, p.path)).collect();
        prop_assert_eq!(backward, vec![("READER_FIELD_MISSING_DEFAULT_VALUE".to_owned(), format!("/fields/{position}"))]);
        prop_assert_eq!(check_pair(CompatibilityLevel::Forward, &new, &old), vec![]);
    }

    /// Every finding on a generated pair, at every level, names a rule that
    /// `stele explain` documents and a path in the `/`-rooted form.
    #[test]
    fn every_finding_is_documented(versions in history(2)) {
        let (old, new) = (try_avro(&versions[0]), try_avro(&versions[1]));
        prop_assume!(old.is_some() && new.is_some(), "generated schema does not parse");
        let (old, new) = (old.expect("assumed"), new.expect("assumed"));
        for level in CompatibilityLevel::ALL {
            for problem in check_pair(level, &new, &old) {
                prop_assert!(stele_compat::docs::rule_doc(&problem.rule).is_some(), "{level}: undocumented {problem}");
                prop_assert!(problem.path.starts_with('/'), "{level}: {problem}");
            }
        }
    }

    #[test]
    fn parsing_never_panics_on_arbitrary_text(text in ".{0,200}") {
        let _ = parse(SchemaType::Avro, &text, &[], false);
        let _ = parse(SchemaType::Json, &text, &[], false);
        let _ = parse(SchemaType::Protobuf, &text, &[], false);
    }
}

// The oracle properties run more cases: some disagreements they exist to catch
// need a rare pair (a primitive swapped for exactly the one it promotes to, such
// as long to float), which 200 cases do not reliably draw.
proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    /// BACKWARD, FORWARD and FULL against an independent implementation: for an
    /// old schema and an evolution of it, each level's verdict must be
    /// apache-avro's `can_read` in the level's direction(s). This catches a
    /// checker rule that disagrees with the Avro resolution rules and a level
    /// that compares the wrong direction, neither of which "FULL equals
    /// BACKWARD and FORWARD" (true by construction in `level.rs`) could.
    #[test]
    fn backward_forward_and_full_agree_with_apache_avro(versions in history(2)) {
        let (old, new) = (try_avro(&versions[0]), try_avro(&versions[1]));
        prop_assume!(old.is_some() && new.is_some(), "generated schema does not parse");
        let (old, new) = (old.expect("assumed"), new.expect("assumed"));
        let (apache_old, apache_new) = (apache(&versions[0]), apache(&versions[1]));
        let new_reads_old = apache_reads(&apache_new, &apache_old);
        let old_reads_new = apache_reads(&apache_old, &apache_new);
        let verdict = |level| check_pair(level, &new, &old).is_empty();
        prop_assert_eq!(verdict(CompatibilityLevel::Backward), new_reads_old, "BACKWARD\nold {}\nnew {}", versions[0], versions[1]);
        prop_assert_eq!(verdict(CompatibilityLevel::Forward), old_reads_new, "FORWARD\nold {}\nnew {}", versions[0], versions[1]);
        prop_assert_eq!(verdict(CompatibilityLevel::Full), new_reads_old && old_reads_new, "FULL\nold {}\nnew {}", versions[0], versions[1]);
    }

    /// Every level against a four-version history: which version fails (if
    /// any) must be the one apache-avro's verdicts pick, so the `_TRANSITIVE`
    /// levels compare every earlier version newest first and stop at the first
    /// failure, and the others compare the latest version only.
    #[test]
    fn every_level_reports_the_version_apache_avro_finds_incompatible(versions in history(4)) {
        let parsed: Option<Vec<ParsedSchema>> = versions.iter().map(try_avro).collect();
        prop_assume!(parsed.is_some(), "generated schema does not parse");
        let parsed = parsed.expect("assumed");
        let (new, previous) = parsed.split_last().expect("four versions");
        let previous: Vec<&ParsedSchema> = previous.iter().collect();
        let oracle: Vec<apache_avro::Schema> = versions.iter().map(apache).collect();
        let (apache_new, apache_previous) = oracle.split_last().expect("four versions");
        for level in CompatibilityLevel::ALL {
            let failure = check_level(level, new, &previous);
            prop_assert_eq!(
                failure.as_ref().map(|f| f.index),
                expected_failure(level, apache_new, apache_previous),
                "{} {}", level, Value::Array(versions.clone())
            );
            prop_assert!(failure.is_none_or(|f| !f.problems.is_empty()), "{level}: a failure without problems");
        }
    }
}
