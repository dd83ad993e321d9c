//! Differential tests against the real `buf` binary (npm `@bufbuild/buf`,
//! installed into `tests/clients/node_modules` by `.ci/run`).
//!
//! Stele's buf profiles must report the same rule ids, as many times, for the
//! same files as `buf breaking --against` does: over a generated corpus of
//! file pairs in each category, and over every rule's fixture in
//! `compat/tests/fixtures/buf/`. Without buf these tests skip, except in CI.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use stele_compat::protobuf::buf::{self, Category};
use stele_compat::protobuf::compile_files;
use stele_tests::protogen::{Rng, generate, mutate, render};
use stele_tests::workspace;

/// How many generated pairs the corpus holds, unless `STELE_BUF_PAIRS` says otherwise.
const PAIRS: usize = 300;

/// A number from the environment, or `default`.
fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// buf reports these without a file: the package or file no longer exists.
const FILELESS: &[&str] = &["PACKAGE_NO_DELETE", "FILE_NO_DELETE"];

/// The buf binary, or `None` (with a note) when it is missing outside CI.
fn buf_binary() -> Option<PathBuf> {
    let local = workspace().join("tests/clients/node_modules/.bin/buf");
    if local.exists() {
        return Some(local);
    }
    if Command::new("buf").arg("--version").output().is_ok_and(|o| o.status.success()) {
        return Some(PathBuf::from("buf"));
    }
    assert!(
        !stele_tests::postgres::required(),
        "buf is required in CI: run `npm ci` in tests/clients (it installs @bufbuild/buf)"
    );
    eprintln!("skipping: buf is not installed (npm ci in tests/clients)");
    None
}

/// A module directory with the given files and a buf.yaml using `rules`.
fn write_module(dir: &Path, files: &[(String, String)], rules: &str) {
    std::fs::create_dir_all(dir).expect("module dir");
    for (name, text) in files {
        std::fs::write(dir.join(name), text).expect("write proto");
    }
    std::fs::write(dir.join("buf.yaml"), format!("version: v2\nbreaking:\n  use: [{rules}]\n"))
        .expect("write buf.yaml");
}

/// Rule ids buf reports per file, sorted.
fn run_buf(buf: &Path, current: &Path, previous: &Path) -> BTreeMap<String, Vec<String>> {
    let output = Command::new(buf)
        .args(["breaking", ".", "--against"])
        .arg(previous)
        .args(["--error-format", "json"])
        .current_dir(current)
        .output()
        .expect("buf runs");
    let code = output.status.code().unwrap_or(-1);
    assert!(code == 0 || code == 100, "buf breaking failed ({code}): {}", String::from_utf8_lossy(&output.stderr));
    let mut found: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in String::from_utf8_lossy(&output.stdout).lines().filter(|l| !l.trim().is_empty()) {
        let finding: serde_json::Value = serde_json::from_str(line).expect("buf prints JSON lines");
        let path = finding["path"].as_str().unwrap_or_default().to_owned();
        assert_ne!(finding["type"], "COMPILE", "buf cannot compile a file protox accepted: {finding}");
        found.entry(path).or_default().push(finding["type"].as_str().unwrap_or_default().to_owned());
    }
    for rules in found.values_mut() {
        rules.sort();
    }
    found
}

fn stele_rules(
    previous: &[(String, String)],
    current: &[(String, String)],
    select: impl Fn(&buf::Rule) -> bool,
) -> Vec<String> {
    let previous = compile_files(previous).expect("previous compiles");
    let current = compile_files(current).expect("current compiles");
    let mut rules: Vec<String> = buf::check_rules(&previous, &current, select).into_iter().map(|f| f.rule).collect();
    rules.sort();
    rules
}

struct Case {
    file: String,
    edits: Vec<String>,
    old: String,
    new: String,
}

/// Generated pairs that protox compiles on both sides. `STELE_BUF_SEED` shifts the
/// seeds, for a run over a corpus the suite has not seen.
fn corpus() -> Vec<Case> {
    let pairs = usize::try_from(env_number("STELE_BUF_PAIRS", PAIRS as u64)).unwrap_or(PAIRS);
    let mut cases = Vec::new();
    let mut seed = env_number("STELE_BUF_SEED", 0);
    while cases.len() < pairs {
        seed += 1;
        let mut rng = Rng::new(seed);
        let package = format!("p{seed}");
        let old = generate(&mut rng, &package);
        let mut new = old.clone();
        let mut edits = Vec::new();
        let wanted = 1 + rng.below(3);
        for _ in 0..wanted * 4 {
            if edits.len() == wanted {
                break;
            }
            if let Some(edit) = mutate(&mut rng, &mut new) {
                edits.push(edit);
            }
        }
        let file = format!("{package}.proto");
        let (old, new) = (render(&old), render(&new));
        let compiles = |text: &str| compile_files(&[(file.clone(), text.to_owned())]).is_ok();
        if compiles(&old) && compiles(&new) {
            cases.push(Case { file, edits, old, new });
        }
    }
    cases
}

#[test]
fn stele_reports_what_buf_reports_on_a_generated_corpus_in_every_category() {
    let Some(buf_bin) = buf_binary() else { return };
    let cases = corpus();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut disagreements = Vec::new();
    let mut findings = 0;
    let mut exercised = std::collections::BTreeSet::new();
    for category in Category::ALL {
        let (old_dir, new_dir) =
            (dir.path().join(format!("{category}/old")), dir.path().join(format!("{category}/new")));
        let old_files: Vec<(String, String)> = cases.iter().map(|c| (c.file.clone(), c.old.clone())).collect();
        let new_files: Vec<(String, String)> = cases.iter().map(|c| (c.file.clone(), c.new.clone())).collect();
        write_module(&old_dir, &old_files, category.as_str());
        write_module(&new_dir, &new_files, category.as_str());
        let from_buf = run_buf(&buf_bin, &new_dir, &old_dir);
        let mut fileless = Vec::new();
        for case in &cases {
            let expected = from_buf.get(&case.file).cloned().unwrap_or_default();
            findings += expected.len();
            exercised.extend(expected.iter().cloned());
            let mut actual =
                stele_rules(&[(case.file.clone(), case.old.clone())], &[(case.file.clone(), case.new.clone())], |r| {
                    r.in_category(category)
                });
            fileless.extend(actual.iter().filter(|r| FILELESS.contains(&r.as_str())).cloned());
            actual.retain(|r| !FILELESS.contains(&r.as_str()));
            if actual != expected {
                disagreements.push(format!(
                    "{category} {} ({}):\n  buf:   {expected:?}\n  stele: {actual:?}\n--- old\n{}--- new\n{}",
                    case.file,
                    case.edits.join(", "),
                    case.old,
                    case.new
                ));
            }
        }
        fileless.sort();
        let expected = from_buf.get("").cloned().unwrap_or_default();
        findings += expected.len();
        exercised.extend(expected.iter().cloned());
        if fileless != expected {
            disagreements
                .push(format!("{category} findings without a file:\n  buf:   {expected:?}\n  stele: {fileless:?}"));
        }
    }
    println!(
        "buf differential: {} pairs x {} categories, {findings} findings from buf covering {} of {} rules, {} disagreements",
        cases.len(),
        Category::ALL.len(),
        exercised.len(),
        buf::RULES.len(),
        disagreements.len()
    );
    let missing: Vec<&str> = buf::RULES.iter().map(|r| r.id).filter(|id| !exercised.contains(*id)).collect();
    println!("rules the corpus did not trigger (their fixtures cover them): {missing:?}");
    assert!(disagreements.is_empty(), "Stele and buf disagree:\n{}", disagreements.join("\n"));
}

/// The `.proto` files of one side of a fixture.
fn fixture_files(dir: &Path) -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "proto"))
        .map(|e| {
            let text = std::fs::read_to_string(e.path()).expect("fixture file");
            (e.file_name().to_string_lossy().into_owned(), text)
        })
        .collect();
    files.sort();
    files
}

#[test]
fn every_buf_rule_fixture_gets_the_same_verdict_from_buf() {
    let Some(buf_bin) = buf_binary() else { return };
    let root = workspace().join("compat/tests/fixtures/buf");
    let dir = tempfile::tempdir().expect("temp dir");
    let mut disagreements = Vec::new();
    let mut checked = 0;
    for rule in buf::RULES {
        for side in ["", "compatible/"] {
            let fixture = root.join(format!("{}/{side}", rule.id));
            let (old, new) = (fixture_files(&fixture.join("old")), fixture_files(&fixture.join("new")));
            let work = dir.path().join(format!("{}/{side}", rule.id));
            write_module(&work.join("old"), &old, rule.id);
            write_module(&work.join("new"), &new, rule.id);
            let mut expected: Vec<String> =
                run_buf(&buf_bin, &work.join("new"), &work.join("old")).into_values().flatten().collect();
            expected.sort();
            let actual = stele_rules(&old, &new, |r| r.id == rule.id);
            checked += 1;
            if actual != expected {
                disagreements.push(format!("{}{side}: buf {expected:?}, stele {actual:?}", rule.id));
            }
        }
    }
    println!("buf fixtures: {checked} fixture pairs, {} disagreements", disagreements.len());
    assert!(disagreements.is_empty(), "Stele and buf disagree on fixtures:\n{}", disagreements.join("\n"));
}
