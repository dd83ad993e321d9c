//! Avro: the checker's verdicts, table by table, and its properties.

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

/// Field types: primitives, arrays, maps, unions of primitives, enums and nested records.
fn field_type(depth: u32) -> BoxedStrategy<Value> {
    let leaf = primitive().boxed();
    if depth == 0 {
        return leaf;
    }
    prop_oneof![
        3 => leaf,
        1 => field_type(depth - 1).prop_map(|items| json!({"type": "array", "items": items})),
        1 => field_type(depth - 1).prop_map(|values| json!({"type": "map", "values": values})),
        1 => proptest::sample::subsequence(vec!["null", "int", "string", "double"], 1..4).prop_map(|b| json!(b)),
        1 => (0u32..1_000_000, proptest::sample::subsequence(vec!["A", "B", "C", "D"], 1..4))
            .prop_map(|(n, symbols)| json!({"type": "enum", "name": format!("E{n}"), "symbols": symbols})),
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

/// Parses, skipping generated schemas Avro refuses (a name defined twice).
fn try_avro(schema: &Value) -> Option<ParsedSchema> {
    parse(SchemaType::Avro, &schema.to_string(), &[], false).ok()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn any_schema_is_compatible_with_itself_at_every_level(schema in schema()) {
        if let Some(parsed) = try_avro(&schema) {
            for level in CompatibilityLevel::ALL {
                prop_assert!(check_level(level, &parsed, &[&parsed]).is_none(), "{level} {schema}");
            }
        }
    }

    #[test]
    fn full_holds_exactly_when_backward_and_forward_hold(a in schema(), b in schema()) {
        if let (Some(a), Some(b)) = (try_avro(&a), try_avro(&b)) {
            let backward = check_pair(CompatibilityLevel::Backward, &b, &a).is_empty();
            let forward = check_pair(CompatibilityLevel::Forward, &b, &a).is_empty();
            let full = check_pair(CompatibilityLevel::Full, &b, &a).is_empty();
            prop_assert_eq!(full, backward && forward);
        }
    }

    #[test]
    fn adding_a_field_with_a_default_keeps_backward(schema in schema(), default in any::<i32>()) {
        let mut evolved = schema.clone();
        if let Some(fields) = evolved["fields"].as_array_mut() {
            fields.push(json!({"name": "added", "type": "int", "default": default}));
        }
        if let (Some(old), Some(new)) = (try_avro(&schema), try_avro(&evolved)) {
            prop_assert!(check_pair(CompatibilityLevel::Backward, &new, &old).is_empty());
        }
    }

    #[test]
    fn the_checker_never_panics_on_generated_pairs(a in schema(), b in schema()) {
        if let (Some(a), Some(b)) = (try_avro(&a), try_avro(&b)) {
            for level in CompatibilityLevel::ALL {
                let _ = check_pair(level, &a, &b);
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
