//! Runs `tests/fixtures/<format>/<RULE>/`: `old` and `new` must give exactly
//! the findings in `expected.txt` (one `RULE PATH` a line) when the new schema
//! reads the old (BACKWARD); `compatible/` holds a counter-example that must
//! give none. A rule without a fixture fails the meta-test.

use std::path::{Path, PathBuf};

use stele_compat::level::check_pair;
use stele_compat::{CompatibilityLevel, SchemaType, parse};

fn fixtures(format: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(format)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn findings(schema_type: SchemaType, dir: &Path, extension: &str) -> Vec<String> {
    let old = parse(schema_type, &read(&dir.join(format!("old.{extension}"))), &[], false).expect("old parses");
    let new = parse(schema_type, &read(&dir.join(format!("new.{extension}"))), &[], false).expect("new parses");
    check_pair(CompatibilityLevel::Backward, &new, &old).into_iter().map(|p| format!("{} {}", p.rule, p.path)).collect()
}

pub fn run_rule(format: &str, schema_type: SchemaType, extension: &str, rule: &str) {
    let dir = fixtures(format).join(rule);
    assert!(dir.is_dir(), "rule {rule} has no fixture at {}", dir.display());
    let expected: Vec<String> =
        read(&dir.join("expected.txt")).lines().filter(|l| !l.trim().is_empty()).map(str::to_owned).collect();
    assert_eq!(findings(schema_type, &dir, extension), expected, "fixture {rule}");
    assert_eq!(
        findings(schema_type, &dir.join("compatible"), extension),
        Vec::<String>::new(),
        "counter-example of {rule}"
    );
}

#[test]
fn every_avro_rule_has_a_fixture_and_a_compatible_counter_example() {
    for rule in stele_compat::avro::compatibility::RULES {
        run_rule("avro", SchemaType::Avro, "avsc", rule.id);
    }
}

#[test]
fn every_confluent_protobuf_rule_has_a_fixture_and_a_compatible_counter_example() {
    for rule in stele_compat::protobuf::CONFLUENT_RULES {
        run_rule("protobuf", SchemaType::Protobuf, "proto", rule.id);
    }
}

#[test]
fn every_incompatible_json_schema_rule_has_a_fixture_and_a_compatible_counter_example() {
    for rule in stele_compat::json::RULES.iter().filter(|r| !r.compatible) {
        run_rule("json", SchemaType::Json, "json", rule.id);
    }
}

/// The `.proto` files of one side of a buf fixture, by file name.
fn proto_files(dir: &Path) -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "proto"))
        .map(|e| (e.file_name().to_string_lossy().into_owned(), read(&e.path())))
        .collect();
    files.sort();
    files
}

/// What one buf rule alone finds from `dir/old` to `dir/new`.
fn buf_findings(rule: &str, dir: &Path) -> Vec<String> {
    use stele_compat::protobuf::{buf, compile_files};
    let old = compile_files(&proto_files(&dir.join("old"))).expect("old compiles");
    let new = compile_files(&proto_files(&dir.join("new"))).expect("new compiles");
    buf::check_rules(&old, &new, |r| r.id == rule).into_iter().map(|p| format!("{} {}", p.rule, p.path)).collect()
}

/// buf fixtures (`tests/fixtures/buf/<RULE>/{old,new}/*.proto`) are file sets, so
/// rules on deleted files and packages have real examples; each is checked with its
/// rule alone. `tests/e2e/buf.rs` runs the same fixtures through the buf binary.
#[test]
fn every_buf_rule_has_a_fixture_and_a_compatible_counter_example() {
    for rule in stele_compat::protobuf::buf::RULES {
        let dir = fixtures("buf").join(rule.id);
        assert!(dir.is_dir(), "rule {} has no fixture at {}", rule.id, dir.display());
        let expected: Vec<String> =
            read(&dir.join("expected.txt")).lines().filter(|l| !l.trim().is_empty()).map(str::to_owned).collect();
        assert!(!expected.is_empty(), "fixture {} expects no finding", rule.id);
        assert_eq!(buf_findings(rule.id, &dir), expected, "fixture {}", rule.id);
        assert_eq!(
            buf_findings(rule.id, &dir.join("compatible")),
            Vec::<String>::new(),
            "counter-example of {}",
            rule.id
        );
    }
}
