//! Protobuf: canonical text, the serialized descriptor and Confluent's rules.

use stele_compat::level::check_pair;
use stele_compat::{CompatibilityLevel, SchemaType, parse};

fn proto(text: &str) -> stele_compat::ParsedSchema {
    parse(SchemaType::Protobuf, text, &[], false).unwrap_or_else(|e| panic!("{text}: {e}"))
}

#[test]
fn canonical_text_is_confluents_layout() {
    let parsed = proto(
        "syntax = \"proto3\";\nenum E { E_UNKNOWN = 0; E_A = 1; }\n// a comment\nmessage   M { E e = 1; map<string, int32> m = 2; oneof o { string x = 3; } reserved 5, 7 to 9; }\n",
    );
    assert_eq!(
        parsed.canonical,
        "syntax = \"proto3\";\n\nmessage M {\n  reserved 5, 7 to 9;\n\n  E e = 1;\n  map<string, int32> m = 2;\n\n  oneof o {\n    string x = 3;\n  }\n}\nenum E {\n  E_UNKNOWN = 0;\n  E_A = 1;\n}\n"
    );
}

#[test]
fn the_serialized_descriptor_matches_confluents_bytes() {
    // Recorded from Confluent 7.9 for the same schema (shared/conformance, reg-proto-valid).
    let parsed = proto("syntax = \"proto3\";\nmessage A {\n  string a = 1;\n}\nmessage B {\n  A a = 1;\n}\n");
    assert_eq!(
        parsed.as_protobuf().expect("protobuf").serialized(),
        "CgdkZWZhdWx0IgwKAUESBwoBYRgBKAkiDwoBQhIKCgFhGAEoCzIBQWIGcHJvdG8z"
    );
}

#[test]
fn a_base64_file_descriptor_is_accepted_as_the_schema() {
    let parsed = parse(SchemaType::Protobuf, "CgdkZWZhdWx0IgwKAU0SBwoBYRgBKAliBnByb3RvMw==", &[], false)
        .expect("descriptor parses");
    assert_eq!(parsed.canonical, "syntax = \"proto3\";\n\nmessage M {\n  string a = 1;\n}\n");
}

#[test]
fn well_known_types_and_confluents_bundled_files_resolve_without_registration() {
    let parsed = proto(
        "syntax = \"proto3\";\nimport \"google/protobuf/timestamp.proto\";\nimport \"confluent/type/decimal.proto\";\nmessage M {\n  google.protobuf.Timestamp at = 1;\n  confluent.type.Decimal amount = 2;\n}\n",
    );
    // The imports stay imports (nothing is inlined) and the fields keep their imported types.
    assert_eq!(
        parsed.canonical,
        "syntax = \"proto3\";\n\nimport \"google/protobuf/timestamp.proto\";\nimport \"confluent/type/decimal.proto\";\n\nmessage M {\n  google.protobuf.Timestamp at = 1;\n  confluent.type.Decimal amount = 2;\n}\n"
    );
}

#[test]
fn every_google_type_confluent_bundles_resolves_without_registration() {
    let types = [
        ("calendar_period", "CalendarPeriod"),
        ("color", "Color"),
        ("date", "Date"),
        ("datetime", "DateTime"),
        ("datetime", "TimeZone"),
        ("dayofweek", "DayOfWeek"),
        ("expr", "Expr"),
        ("fraction", "Fraction"),
        ("interval", "Interval"),
        ("latlng", "LatLng"),
        ("money", "Money"),
        ("month", "Month"),
        ("phone_number", "PhoneNumber"),
        ("phone_number", "PhoneNumber.ShortCode"),
        ("postal_address", "PostalAddress"),
        ("quaternion", "Quaternion"),
        ("timeofday", "TimeOfDay"),
    ];
    let mut files: Vec<&str> = types.iter().map(|(file, _)| *file).collect();
    files.dedup();
    let imports: Vec<String> = files.iter().map(|file| format!("import \"google/type/{file}.proto\";")).collect();
    let fields: Vec<String> =
        types.iter().enumerate().map(|(i, (_, name))| format!("  google.type.{name} f{i} = {};", i + 1)).collect();
    let (imports, fields) = (imports.join("\n"), fields.join("\n"));
    let text = format!("syntax = \"proto3\";\n{imports}\nmessage M {{\n{fields}\n}}\n");
    let parsed = proto(&text);
    assert!(parsed.canonical.contains("google.type.PhoneNumber.ShortCode f13 = 14;"), "{}", parsed.canonical);
    // The wire contract of a few, as published.
    let pool = &parsed.as_protobuf().expect("a Protobuf schema").pool;
    let fields = |message: &str| -> Vec<(String, u32)> {
        let descriptor = pool.get_message_by_name(message).unwrap_or_else(|| panic!("{message} is bundled"));
        descriptor.fields().map(|f| (f.name().to_owned(), f.number())).collect()
    };
    let named =
        |pairs: &[(&str, u32)]| -> Vec<(String, u32)> { pairs.iter().map(|(n, i)| ((*n).to_owned(), *i)).collect() };
    assert_eq!(fields("google.type.Money"), named(&[("currency_code", 1), ("units", 2), ("nanos", 3)]));
    assert_eq!(fields("google.type.Date"), named(&[("year", 1), ("month", 2), ("day", 3)]));
    assert_eq!(fields("google.type.LatLng"), named(&[("latitude", 1), ("longitude", 2)]));
    assert_eq!(fields("google.type.PostalAddress").len(), 11);
    assert_eq!(pool.get_enum_by_name("google.type.Month").map(|e| e.values().len()), Some(13));
    // The messages are the published ones: a Money written by a client with
    // google.type compiled in reads back field by field.
    let old = proto(
        "syntax = \"proto3\";\nimport \"google/type/money.proto\";\nmessage M {\n  google.type.Money price = 1;\n}\n",
    );
    let new = proto(
        "syntax = \"proto3\";\nimport \"google/type/money.proto\";\nmessage M {\n  google.type.Money price = 1;\n  google.type.Money tax = 2;\n}\n",
    );
    assert!(check_pair(CompatibilityLevel::Backward, &new, &old).is_empty());
}

#[test]
fn groups_and_bytes_defaults_print_as_written_and_read_back_the_same() {
    let text = "syntax = \"proto2\";\nmessage M {\n  optional group Item = 4 {\n    optional string name = 1;\n  }\n  optional bytes data = 1 [default = \"\\x00\\001a\\\"\"];\n  optional string s = 2 [default = \"q\\\"\"];\n}\n";
    let parsed = proto(text);
    // A group keeps its wire form; a bytes default keeps its bytes.
    assert!(
        parsed.canonical.contains("  optional group Item = 4 {\n    optional string name = 1;\n  }\n"),
        "{}",
        parsed.canonical
    );
    assert!(!parsed.canonical.contains("message Item"), "{}", parsed.canonical);
    assert!(parsed.canonical.contains(r#"[default = "\000\001a\""]"#), "{}", parsed.canonical);
    assert!(parsed.canonical.contains(r#"[default = "q\""]"#), "{}", parsed.canonical);
    // Printing is a fixed point, normalized or not.
    let reread = proto(&parsed.canonical);
    assert_eq!(reread.canonical, parsed.canonical);
    let normalized = parse(SchemaType::Protobuf, text, &[], true).expect("parses");
    let again = parse(SchemaType::Protobuf, &normalized.canonical, &[], true).expect("parses");
    assert_eq!(again.canonical, normalized.canonical);
    let pool = &reread.as_protobuf().expect("a Protobuf schema").pool;
    let item = pool.get_message_by_name("M").and_then(|m| m.get_field_by_name("item")).expect("the group's field");
    assert!(item.is_group(), "the group is still a group once printed and read back");
}

#[test]
fn normalize_ignores_field_order() {
    let a = parse(SchemaType::Protobuf, "syntax = \"proto3\";\nmessage M { string b = 2; string a = 1; }\n", &[], true)
        .expect("parses");
    let b = parse(SchemaType::Protobuf, "syntax = \"proto3\";\nmessage M { string a = 1; string b = 2; }\n", &[], true)
        .expect("parses");
    assert_eq!(a.canonical, b.canonical);
}

#[test]
fn removing_a_field_is_compatible_and_changing_its_scalar_kind_is_not() {
    let old = proto("syntax = \"proto3\";\nmessage M { string a = 1; int32 b = 2; }\n");
    let removed = proto("syntax = \"proto3\";\nmessage M { string a = 1; }\n");
    let changed = proto("syntax = \"proto3\";\nmessage M { int32 a = 1; int32 b = 2; }\n");
    assert!(check_pair(CompatibilityLevel::Backward, &removed, &old).is_empty());
    let problems: Vec<(String, String)> =
        check_pair(CompatibilityLevel::Backward, &changed, &old).into_iter().map(|p| (p.rule, p.path)).collect();
    assert_eq!(problems, vec![("FIELD_SCALAR_KIND_CHANGED".to_owned(), "#/M/1".to_owned())]);
}
