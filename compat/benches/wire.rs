//! Wire-oracle benchmarks: one `prove` call, at the default budget of
//! [`ProofOptions::DEFAULT_BUDGET`] values, on a typical evolution of each format.
//! Target: under 50 ms each.
//!
//! - `avro_30_fields`: a 30-field record (nested records, unions, enums,
//!   arrays, maps, fixed) and a version that adds, removes, promotes and
//!   aliases fields.
//! - `protobuf_20_fields`: a 20-field proto3 message (nested message, enum,
//!   repeated, map, oneof) and a version that adds, removes and renames fields.
//! - `json_20_properties`: a 20-property schema (nested objects, arrays,
//!   enums, bounds, `$ref`s) and a version that adds properties and relaxes bounds.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::{Value, json};
use stele_compat::wire::{Proof, ProofOptions, prove};
use stele_compat::{ParsedSchema, SchemaType, parse};

fn avro_field(i: usize, evolved: bool) -> Value {
    let (ty, default) = match i % 8 {
        0 => (json!(if evolved { "long" } else { "int" }), json!(0)),
        1 => (json!("string"), json!("")),
        2 => (json!(["null", "string"]), Value::Null),
        3 => (
            json!({"type": "enum", "name": format!("E{i}"), "symbols": if evolved { json!(["A", "B", "C", "D"]) } else { json!(["A", "B", "C"]) }}),
            json!("A"),
        ),
        4 => (
            json!({"type": "record", "name": format!("Rec{i}"), "fields": [
                {"name": "x", "type": "long", "default": 0},
                {"name": "y", "type": "string", "default": ""},
                {"name": "z", "type": ["null", "double"], "default": null}
            ]}),
            json!({"x": 0, "y": "", "z": null}),
        ),
        5 => (json!({"type": "array", "items": if evolved { "double" } else { "float" }}), json!([])),
        6 => (json!({"type": "map", "values": "bytes"}), json!({})),
        _ => (
            json!({"type": "fixed", "name": format!("F{i}"), "size": 8}),
            json!("\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}"),
        ),
    };
    let mut field = json!({"name": format!("f{i}"), "type": ty, "default": default});
    if evolved && i % 10 == 9 {
        field["name"] = json!(format!("renamed{i}"));
        field["aliases"] = json!([format!("f{i}")]);
    }
    field
}

fn avro(evolved: bool) -> ParsedSchema {
    let mut fields: Vec<Value> = (0..30).map(|i| avro_field(i, evolved)).collect();
    if evolved {
        fields.remove(11);
        fields.push(json!({"name": "added", "type": ["null", "string"], "default": null}));
    }
    let schema = json!({"type": "record", "name": "Order", "namespace": "com.example", "fields": fields});
    parse(SchemaType::Avro, &schema.to_string(), &[], false).expect("benchmark schema parses")
}

fn protobuf(evolved: bool) -> ParsedSchema {
    let mut fields = String::new();
    let types = ["int32", "string", "int64", "bool", "double", "bytes", "Status", "Line", "uint32", "float"];
    for i in 1..=16 {
        let ty = types[i % types.len()];
        let label = if i % 5 == 0 { "repeated " } else { "" };
        let name = if evolved && i == 7 { "renamed".to_owned() } else { format!("f{i}") };
        if evolved && i == 12 {
            continue;
        }
        fields.push_str(&format!("  {label}{ty} {name} = {i};\n"));
    }
    fields.push_str(
        "  map<string, int64> totals = 17;\n  oneof choice {\n    string code = 18;\n    Line line = 19;\n  }\n",
    );
    if evolved {
        fields.push_str("  optional string note = 21;\n");
    }
    let text = format!(
        "syntax = \"proto3\";\npackage shop;\nenum Status {{\n  UNKNOWN = 0;\n  OPEN = 1;\n  CLOSED = 2;\n}}\n\
         message Line {{\n  string sku = 1;\n  int64 cents = 2;\n  repeated string tags = 3;\n}}\n\
         message Order {{\n{fields}}}\n"
    );
    parse(SchemaType::Protobuf, &text, &[], false).expect("benchmark schema parses")
}

fn json_schema(evolved: bool) -> ParsedSchema {
    let mut properties = serde_json::Map::new();
    for i in 0..20 {
        let value = match i % 5 {
            0 => json!({"type": "integer", "minimum": 0, "maximum": if evolved { 1000 } else { 100 }}),
            1 => json!({"type": "string", "maxLength": 16}),
            2 => json!({"$ref": "#/definitions/money"}),
            3 => json!({"type": "array", "items": {"type": "string", "enum": ["a", "b", "c"]}}),
            _ => json!({"type": ["null", "boolean"]}),
        };
        properties.insert(format!("p{i}"), value);
    }
    if evolved {
        properties.insert("added".into(), json!({"type": "string"}));
    }
    let schema = json!({
        "type": "object",
        "additionalProperties": false,
        "definitions": {"money": {"type": "object", "properties": {"cents": {"type": "integer"}, "currency": {"enum": ["EUR", "USD"]}}, "required": ["cents"]}},
        "properties": properties,
        "required": ["p0", "p1"]
    });
    parse(SchemaType::Json, &schema.to_string(), &[], false).expect("benchmark schema parses")
}

fn bench(c: &mut Criterion) {
    let options = ProofOptions::default();
    for (name, writer, reader) in [
        ("avro_30_fields", avro(false), avro(true)),
        ("protobuf_20_fields", protobuf(false), protobuf(true)),
        ("json_20_properties", json_schema(false), json_schema(true)),
    ] {
        // A pair that fails stops at its first counter-example: measure pairs that hold,
        // which write and read the whole budget.
        let proof = prove(&writer, &reader, &options);
        assert!(matches!(proof, Proof::Holds { values, .. } if values == options.budget), "{name}: {proof:?}");
        c.bench_function(name, |b| b.iter(|| black_box(prove(black_box(&writer), black_box(&reader), &options))));
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
