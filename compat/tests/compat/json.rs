//! JSON Schema: canonical text, validation and the diff's verdicts.

use serde_json::{Value, json};
use stele_compat::level::check_pair;
use stele_compat::{CompatibilityLevel, ParsedSchema, SchemaType, parse};

fn schema(value: &Value) -> ParsedSchema {
    parse(SchemaType::Json, &value.to_string(), &[], false).unwrap_or_else(|e| panic!("{value}: {e}"))
}

fn backward(old: &Value, new: &Value) -> Vec<String> {
    check_pair(CompatibilityLevel::Backward, &schema(new), &schema(old))
        .into_iter()
        .map(|p| format!("{} {}", p.rule, p.path))
        .collect()
}

#[test]
fn adding_an_optional_property_to_an_open_model_breaks_backward_and_says_how_to_fix_it() {
    let old = json!({"type": "object", "properties": {"a": {"type": "string"}}});
    let new = json!({"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "integer"}}});
    let problems = check_pair(CompatibilityLevel::Backward, &schema(&new), &schema(&old));
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].rule, "OPTIONAL_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL");
    assert_eq!(problems[0].path, "#/properties/b");
    assert!(problems[0].description.contains("additionalProperties"), "{}", problems[0].description);
}

#[test]
fn adding_an_optional_property_to_a_closed_model_keeps_backward() {
    let old = json!({"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": false});
    let new = json!({"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "integer"}}, "additionalProperties": false});
    assert_eq!(backward(&old, &new), Vec::<String>::new());
}

#[test]
fn a_changed_type_is_type_changed_with_confluents_message() {
    let old = json!({"type": "object", "properties": {"a": {"type": "string"}}});
    let new = json!({"type": "object", "properties": {"a": {"type": "integer"}}});
    let problems = check_pair(CompatibilityLevel::Backward, &schema(&new), &schema(&old));
    assert_eq!(
        problems.iter().map(|p| p.confluent_message.clone()).collect::<Vec<_>>(),
        vec!["{errorType:\"TYPE_CHANGED\", description:\"A type at path '#/properties/a' is different between the new schema and the old schema'}".to_owned()]
    );
}

#[test]
fn narrowing_and_extending_types_and_bounds() {
    assert_eq!(backward(&json!({"type": "number"}), &json!({"type": "integer"})), vec!["TYPE_NARROWED #"]);
    assert_eq!(backward(&json!({"type": "integer"}), &json!({"type": "number"})), Vec::<String>::new());
    assert_eq!(
        backward(&json!({"type": "string"}), &json!({"type": "string", "maxLength": 5})),
        vec!["MAX_LENGTH_ADDED #/maxLength"]
    );
    assert_eq!(
        backward(&json!({"type": "string", "maxLength": 5}), &json!({"type": "string", "maxLength": 9})),
        Vec::<String>::new()
    );
    assert_eq!(backward(&json!({"enum": ["a", "b"]}), &json!({"enum": ["a"]})), vec!["ENUM_ARRAY_NARROWED #"]);
}

#[test]
fn recursive_references_terminate() {
    let tree = json!({"type": "object", "properties": {"value": {"type": "integer"}, "children": {"type": "array", "items": {"$ref": "#"}}}});
    assert_eq!(backward(&tree, &tree), Vec::<String>::new());
}

#[test]
fn invalid_schemas_are_refused_with_the_reason() {
    for bad in [
        json!({"type": 12}),
        json!({"type": "object", "required": "a"}),
        json!({"$ref": "#/definitions/missing"}),
        json!({"type": "string", "pattern": "("}),
    ] {
        assert!(parse(SchemaType::Json, &bad.to_string(), &[], false).is_err(), "{bad} must be refused");
    }
}

#[test]
fn normalize_sorts_keys() {
    let parsed = parse(
        SchemaType::Json,
        r#"{"type":"object","properties":{"b":{"type":"string"},"a":{"type":"string"}}}"#,
        &[],
        true,
    )
    .expect("parses");
    assert_eq!(parsed.canonical, r#"{"properties":{"a":{"type":"string"},"b":{"type":"string"}},"type":"object"}"#);
}

#[test]
fn payloads_are_validated_with_their_paths() {
    let user = stele_compat::json::JsonSchema::parse(
        r#"{"type":"object","properties":{"age":{"type":"integer"}},"required":["age"]}"#,
        &[],
    )
    .expect("parses");
    assert!(user.validate_payload(&json!({"age": 3})).expect("validates").is_empty());
    let errors = user.validate_payload(&json!({"age": "x"})).expect("validates");
    assert_eq!(errors.len(), 1);
    assert!(errors[0].starts_with("/age"), "{errors:?}");
}

mod properties {
    use proptest::prelude::*;
    use serde_json::{Value, json};
    use stele_compat::level::check_level;
    use stele_compat::{CompatibilityLevel, SchemaType, parse};

    fn leaf() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(json!({"type": "string"})),
            Just(json!({"type": "integer", "minimum": 0})),
            Just(json!({"type": "number"})),
            Just(json!({"type": "boolean"})),
            Just(json!({"type": "string", "maxLength": 10})),
            Just(json!({"enum": ["a", "b"]})),
            Just(json!({"type": ["string", "null"]})),
        ]
    }

    fn schema() -> impl Strategy<Value = Value> {
        leaf().prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                (proptest::collection::btree_map("[a-d]", inner.clone(), 0..4), any::<bool>()).prop_map(
                    |(properties, closed)| {
                        let mut schema = json!({"type": "object", "properties": properties});
                        if closed {
                            schema["additionalProperties"] = json!(false);
                        }
                        schema
                    }
                ),
                inner.clone().prop_map(|items| json!({"type": "array", "items": items})),
                proptest::collection::vec(inner, 1..3).prop_map(|branches| json!({"oneOf": branches})),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn any_schema_is_compatible_with_itself_at_every_level(value in schema()) {
            let parsed = parse(SchemaType::Json, &value.to_string(), &[], false).expect("generated schemas are valid");
            for level in CompatibilityLevel::ALL {
                prop_assert!(check_level(level, &parsed, &[&parsed]).is_none(), "{level} {value}");
            }
        }

        #[test]
        fn the_checker_never_panics_on_generated_pairs(a in schema(), b in schema()) {
            let a = parse(SchemaType::Json, &a.to_string(), &[], false).expect("valid");
            let b = parse(SchemaType::Json, &b.to_string(), &[], false).expect("valid");
            for level in CompatibilityLevel::ALL {
                let _ = stele_compat::level::check_pair(level, &a, &b);
            }
        }
    }
}
