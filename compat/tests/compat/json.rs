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
fn an_untyped_enum_that_becomes_typed_is_type_changed() {
    // Confluent compares schema classes: an EnumSchema is not a NumberSchema.
    // The new schema rejects the old documents "a" and "b".
    assert_eq!(backward(&json!({"enum": ["a", "b"]}), &json!({"type": "number"})), vec!["TYPE_CHANGED #"]);
    assert_eq!(
        backward(
            &json!({"type": "array", "items": {"enum": ["a", "b"]}}),
            &json!({"type": "array", "items": {"type": "boolean"}})
        ),
        vec!["TYPE_CHANGED #/items"]
    );
}

#[test]
fn recursive_references_terminate() {
    let tree = json!({"type": "object", "properties": {"value": {"type": "integer"}, "children": {"type": "array", "items": {"$ref": "#"}}}});
    assert_eq!(backward(&tree, &tree), Vec::<String>::new());
}

#[test]
fn invalid_schemas_are_refused_with_the_reason() {
    for (bad, reason) in [
        (json!({"type": 12}), "12 is not valid"),
        (json!({"type": "object", "required": "a"}), "\"a\" is not of type \"array\""),
        (json!({"$ref": "#/definitions/missing"}), "'/definitions/missing' does not exist"),
        (json!({"type": "string", "pattern": "("}), "\"(\" is not a \"regex\""),
    ] {
        let error = parse(SchemaType::Json, &bad.to_string(), &[], false).expect_err(&bad.to_string()).to_string();
        assert!(error.starts_with("Invalid JSON Schema: ") && error.contains(reason), "{bad}: {error}");
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
    use stele_compat::level::{check_level, check_pair};
    use stele_compat::{CompatibilityLevel, ParsedSchema, SchemaType, parse};

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

    fn schema() -> BoxedStrategy<Value> {
        schema_combining("oneOf")
    }

    /// Generated schemas whose sum type is `combinator` (`oneOf` or `anyOf`).
    fn schema_combining(combinator: &'static str) -> BoxedStrategy<Value> {
        leaf()
            .prop_recursive(3, 24, 4, move |inner| {
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
                    proptest::collection::vec(inner, 1..3).prop_map(move |branches| json!({combinator: branches})),
                ]
            })
            .boxed()
    }

    /// The next version of a generated schema: mostly the same shape with its
    /// parts evolved (properties added, dropped or retyped, the content model
    /// opened or closed, sum-type branches changed), sometimes another schema.
    fn evolve(value: &Value, combinator: &'static str) -> BoxedStrategy<Value> {
        let inner: BoxedStrategy<Value> = if let Some(properties) = value.get("properties").and_then(Value::as_object) {
            let kept: Vec<BoxedStrategy<Option<(String, Value)>>> = properties
                .iter()
                .map(|(name, property)| {
                    let name = name.clone();
                    prop_oneof![5 => evolve(property, combinator).prop_map(move |p| Some((name.clone(), p))), 1 => Just(None)].boxed()
                })
                .collect();
            let closed = value.get("additionalProperties") == Some(&json!(false));
            (
                kept,
                proptest::collection::btree_map("[a-f]", leaf(), 0..2),
                prop_oneof![4 => Just(closed), 1 => any::<bool>()],
            )
                .prop_map(|(kept, added, closed)| {
                    let mut properties: serde_json::Map<String, Value> = kept.into_iter().flatten().collect();
                    for (name, property) in added {
                        properties.entry(name).or_insert(property);
                    }
                    let mut schema = json!({"type": "object", "properties": properties});
                    if closed {
                        schema["additionalProperties"] = json!(false);
                    }
                    schema
                })
                .boxed()
        } else if let Some(items) = value.get("items") {
            evolve(items, combinator).prop_map(|items| json!({"type": "array", "items": items})).boxed()
        } else if let Some(branches) = value.get(combinator).and_then(Value::as_array) {
            let kept: Vec<BoxedStrategy<Option<Value>>> = branches
                .iter()
                .map(|b| prop_oneof![5 => evolve(b, combinator).prop_map(Some), 1 => Just(None)].boxed())
                .collect();
            (kept, proptest::collection::vec(leaf(), 0..2))
                .prop_map(move |(kept, added)| {
                    let mut branches: Vec<Value> = kept.into_iter().flatten().chain(added).collect();
                    if branches.is_empty() {
                        branches.push(json!({"type": "string"}));
                    }
                    json!({combinator: branches})
                })
                .boxed()
        } else {
            leaf().boxed()
        };
        prop_oneof![3 => Just(value.clone()), 6 => inner, 1 => schema_combining(combinator)].boxed()
    }

    /// An old schema and a changed next version of it. The sum type is
    /// `anyOf`: with `oneOf`, adding a branch that overlaps another (Confluent's
    /// compatible `SUM_TYPE_EXTENDED`) makes documents that matched one branch
    /// match two, so "compatible" would not mean "still valid" there.
    /// Evolutions that changed nothing are filtered out (proptest counts them).
    fn pair() -> impl Strategy<Value = (Value, Value)> {
        schema_combining("anyOf")
            .prop_flat_map(|old| (Just(old.clone()), evolve(&old, "anyOf")))
            .prop_filter("the evolution changed nothing", |(old, new)| old != new)
    }

    /// A document valid under `schema`, for the generated shapes: any subset
    /// of the declared properties, and undeclared ones when the content model
    /// is open. Under `oneOf` a document of one branch may match another too,
    /// which is why the callers check it with the validator.
    fn document(schema: &Value) -> BoxedStrategy<Value> {
        if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
            let declared: Vec<BoxedStrategy<Option<(String, Value)>>> = properties
                .iter()
                .map(|(name, property)| {
                    let name = name.clone();
                    proptest::option::of(document(property).prop_map(move |d| (name.clone(), d))).boxed()
                })
                .collect();
            let open = schema.get("additionalProperties") != Some(&json!(false));
            let undeclared: Vec<String> = ["a", "b", "c", "d", "e", "f"]
                .iter()
                .map(|n| (*n).to_owned())
                .filter(|n| open && !properties.contains_key(n))
                .collect();
            let extra =
                proptest::sample::subsequence(undeclared.clone(), 0..=undeclared.len()).prop_flat_map(|names| {
                    names.into_iter().map(|n| any_value().prop_map(move |v| (n.clone(), v))).collect::<Vec<_>>()
                });
            (declared, extra)
                .prop_map(|(declared, extra)| Value::Object(declared.into_iter().flatten().chain(extra).collect()))
                .boxed()
        } else if let Some(items) = schema.get("items") {
            proptest::collection::vec(document(items), 0..3).prop_map(Value::Array).boxed()
        } else if let Some(branches) = schema.get("anyOf").or_else(|| schema.get("oneOf")).and_then(Value::as_array) {
            let options: Vec<BoxedStrategy<Value>> = branches.iter().map(document).collect();
            proptest::strategy::Union::new(options).boxed()
        } else if let Some(symbols) = schema.get("enum").and_then(Value::as_array) {
            proptest::sample::select(symbols.clone()).boxed()
        } else {
            match schema.get("type") {
                Some(t) if t == "string" => match schema.get("maxLength").and_then(Value::as_u64) {
                    Some(max) => proptest::string::string_regex(&format!("[a-z]{{0,{max}}}"))
                        .expect("regex")
                        .prop_map(Value::from)
                        .boxed(),
                    None => "[a-z]{0,16}".prop_map(Value::from).boxed(),
                },
                Some(t) if t == "integer" => (0u32..1000).prop_map(Value::from).boxed(),
                Some(t) if t == "number" => {
                    prop_oneof![(-1000i32..1000).prop_map(Value::from), (-1e3f64..1e3).prop_map(Value::from)].boxed()
                }
                Some(t) if t == "boolean" => any::<bool>().prop_map(Value::from).boxed(),
                Some(Value::Array(_)) => prop_oneof![Just(Value::Null), "[a-z]{0,16}".prop_map(Value::from)].boxed(),
                _ => any_value(),
            }
        }
    }

    fn any_value() -> BoxedStrategy<Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            (-1000i32..1000).prop_map(Value::from),
            "[a-z]{0,16}".prop_map(Value::from),
        ]
        .boxed()
    }

    /// A pair, a document generated from the old schema and one from the new.
    fn pair_and_documents() -> impl Strategy<Value = (Value, Value, Value, Value)> {
        pair().prop_flat_map(|(old, new)| {
            let (old_document, new_document) = (document(&old), document(&new));
            (Just(old), Just(new), old_document, new_document)
        })
    }

    fn json_schema(value: &Value) -> ParsedSchema {
        parse(SchemaType::Json, &value.to_string(), &[], false).unwrap_or_else(|e| panic!("{value}: {e}"))
    }

    fn valid(schema: &ParsedSchema, document: &Value) -> bool {
        stele_compat::payload::validate(schema, document).expect("the schema compiles").is_empty()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn any_schema_is_compatible_with_itself_at_every_level(value in schema()) {
            let parsed = json_schema(&value);
            for level in CompatibilityLevel::ALL {
                prop_assert!(check_level(level, &parsed, &[&parsed]).is_none(), "{level} {value}");
            }
        }

        /// What a verdict promises, checked with the validator rather than the
        /// diff: when BACKWARD holds, a document valid under the old schema is
        /// valid under the new one; when FORWARD holds, the other way round.
        /// (Confluent's rules are conservative, so an incompatible verdict
        /// promises nothing and is not checked.)
        #[test]
        fn a_compatible_verdict_keeps_documents_valid((old, new, old_document, new_document) in pair_and_documents()) {
            let (old_schema, new_schema) = (json_schema(&old), json_schema(&new));
            prop_assume!(valid(&old_schema, &old_document), "the generated document is not valid under the old schema");
            prop_assume!(valid(&new_schema, &new_document), "the generated document is not valid under the new schema");
            if check_pair(CompatibilityLevel::Backward, &new_schema, &old_schema).is_empty() {
                prop_assert!(valid(&new_schema, &old_document), "BACKWARD holds but the new schema rejects {old_document}\nold {old}\nnew {new}");
            }
            if check_pair(CompatibilityLevel::Forward, &new_schema, &old_schema).is_empty() {
                prop_assert!(valid(&old_schema, &new_document), "FORWARD holds but the old schema rejects {new_document}\nold {old}\nnew {new}");
            }
        }
    }
}

/// Thirty levels of `oneOf` whose two branches share one definition: written
/// out, 2^30 paths. Each pair of subschemas is compared once, so the check
/// ends (and finds the change at the bottom) instead of running for ages.
#[test]
fn nested_one_of_over_shared_definitions_is_checked_in_polynomial_time() {
    const LEVELS: usize = 30;
    let ladder = |leaf: &str| {
        let mut definitions = serde_json::Map::new();
        definitions.insert("L0".into(), json!({"type": leaf}));
        for level in 1..=LEVELS {
            let below = format!("#/definitions/L{}", level - 1);
            definitions.insert(
                format!("L{level}"),
                json!({"oneOf": [{"$ref": below}, {"type": "object", "properties": {"x": {"$ref": below}}}]}),
            );
        }
        json!({"definitions": definitions, "$ref": format!("#/definitions/L{LEVELS}")})
    };
    let same = backward(&ladder("string"), &ladder("string"));
    assert_eq!(same, Vec::<String>::new());
    let changed = backward(&ladder("string"), &ladder("integer"));
    assert!(!changed.is_empty(), "the leaf's type changed");
}

#[test]
fn validity_is_confluents_a_bare_null_is_refused_and_an_empty_all_of_accepted() {
    let null = parse(SchemaType::Json, "null", &[], false).expect_err("null is not a schema").to_string();
    assert!(null.contains("null is not a schema"), "{null}");
    for accepted in [json!({"allOf": []}), json!({"type": "object", "properties": {"a": {"allOf": []}}}), json!([1])] {
        parse(SchemaType::Json, &accepted.to_string(), &[], false).unwrap_or_else(|e| panic!("{accepted}: {e}"));
    }
    // The empty allOf asks nothing of a document.
    let empty = schema(&json!({"allOf": []}));
    assert!(stele_compat::payload::validate(&empty, &json!({"anything": 1})).is_ok_and(|r| r.is_empty()));
}
