//! Compatibility-check benchmarks.
//!
//! - `avro_backward_transitive_200_fields_100_versions`: a 200-field record
//!   (nested records, unions, enums, arrays, maps) checked `BACKWARD_TRANSITIVE`
//!   against 100 earlier versions. Target: under 20 ms.
//! - `json_backward_transitive_500_properties_50_versions`: a 500-property
//!   schema with nested `$ref`s against 50 versions. Target: under 50 ms.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::{Value, json};
use stele_compat::level::check_level;
use stele_compat::{CompatibilityLevel, ParsedSchema, SchemaType, parse};

fn avro_field(i: usize) -> Value {
    let (ty, default) = match i % 7 {
        0 => (json!("int"), json!(0)),
        1 => (json!("string"), json!("")),
        2 => (json!(["null", "string"]), Value::Null),
        3 => (json!({"type": "enum", "name": format!("E{i}"), "symbols": ["A", "B", "C"], "default": "A"}), json!("A")),
        4 => (
            json!({"type": "record", "name": format!("Rec{i}"), "fields": [
                {"name": "x", "type": "long", "default": 0},
                {"name": "y", "type": "string", "default": ""},
                {"name": "z", "type": ["null", "double"], "default": null}
            ]}),
            json!({"x": 0, "y": "", "z": null}),
        ),
        5 => (json!({"type": "array", "items": "long"}), json!([])),
        _ => (json!({"type": "map", "values": "double"}), json!({})),
    };
    json!({"name": format!("f{i}"), "type": ty, "default": default})
}

fn avro_version(fields: usize) -> ParsedSchema {
    let fields: Vec<Value> = (0..fields).map(avro_field).collect();
    let schema = json!({"type": "record", "name": "Big", "namespace": "com.example", "fields": fields});
    parse(SchemaType::Avro, &schema.to_string(), &[], false).expect("benchmark schema parses")
}

fn json_version(properties: usize) -> ParsedSchema {
    let mut props = serde_json::Map::new();
    for i in 0..properties {
        let value = match i % 4 {
            0 => json!({"$ref": "#/definitions/address"}),
            1 => json!({"$ref": "#/definitions/money"}),
            2 => json!({"type": "string", "maxLength": 64}),
            _ => json!({"type": "array", "items": {"$ref": "#/definitions/line"}}),
        };
        props.insert(format!("p{i}"), value);
    }
    let schema = json!({
        "type": "object",
        "definitions": {
            "address": {"type": "object", "properties": {"city": {"type": "string"}, "zip": {"type": "string"}}},
            "money": {"type": "object", "properties": {"cents": {"type": "integer"}, "currency": {"enum": ["EUR", "USD"]}}},
            "line": {"type": "object", "properties": {"sku": {"type": "string"}, "price": {"$ref": "#/definitions/money"}}}
        },
        "properties": props
    });
    parse(SchemaType::Json, &schema.to_string(), &[], false).expect("benchmark schema parses")
}

fn benchmarks(c: &mut Criterion) {
    let avro_history: Vec<ParsedSchema> = (0..100).map(|i| avro_version(100 + i)).collect();
    let avro_new = avro_version(200);
    let previous: Vec<&ParsedSchema> = avro_history.iter().collect();
    assert!(check_level(CompatibilityLevel::BackwardTransitive, &avro_new, &previous).is_none());
    c.bench_function("avro_backward_transitive_200_fields_100_versions", |b| {
        b.iter(|| {
            black_box(check_level(CompatibilityLevel::BackwardTransitive, black_box(&avro_new), black_box(&previous)))
        });
    });

    // Earlier versions have more properties: removing one from an open model is compatible.
    let json_history: Vec<ParsedSchema> = (0..50).map(|i| json_version(550 - i)).collect();
    let json_new = json_version(500);
    let previous: Vec<&ParsedSchema> = json_history.iter().collect();
    assert!(check_level(CompatibilityLevel::BackwardTransitive, &json_new, &previous).is_none());
    c.bench_function("json_backward_transitive_500_properties_50_versions", |b| {
        b.iter(|| {
            black_box(check_level(CompatibilityLevel::BackwardTransitive, black_box(&json_new), black_box(&previous)))
        });
    });
}

criterion_group! {
    name = compat;
    config = Criterion::default().sample_size(20);
    targets = benchmarks
}
criterion_main!(compat);
