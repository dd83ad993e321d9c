//! Rendering helpers of the console: syntax highlighting, side-by-side diffs
//! with findings beside their lines, dates.

use maud::{Markup, html};
use similar::{ChangeTag, TextDiff};
use stele_compat::{Incompatibility, SchemaType};

/// A schema's text as people read it: JSON pretty-printed, Protobuf as stored.
pub fn display_text(schema_type: SchemaType, text: &str) -> String {
    match schema_type {
        SchemaType::Protobuf => text.to_owned(),
        SchemaType::Avro | SchemaType::Json => serde_json::from_str::<serde_json::Value>(text)
            .ok()
            .and_then(|v| serde_json::to_string_pretty(&v).ok())
            .unwrap_or_else(|| text.to_owned()),
    }
}

const PROTO_KEYWORDS: &[&str] = &[
    "syntax", "package", "import", "option", "message", "enum", "oneof", "map", "repeated", "optional", "required",
    "reserved", "service", "rpc", "returns", "stream", "extend", "public", "weak", "to", "max",
];

/// One line, as spans with classes: keys, strings, numbers, keywords, comments.
pub fn highlight_line(schema_type: SchemaType, line: &str) -> Markup {
    let mut spans: Vec<(&'static str, String)> = Vec::new();
    let chars: Vec<char> = line.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '"' {
            let start = i;
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            i = (i + 1).min(chars.len());
            let text: String = chars[start..i].iter().collect();
            let rest: String = chars[i..].iter().collect();
            let class =
                if schema_type != SchemaType::Protobuf && rest.trim_start().starts_with(':') { "k" } else { "s" };
            spans.push((class, text));
        } else if schema_type == SchemaType::Protobuf && c == '/' && chars.get(i + 1) == Some(&'/') {
            spans.push(("c", chars[i..].iter().collect()));
            i = chars.len();
        } else if c.is_ascii_digit() || (c == '-' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) {
            let start = i;
            i += 1;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
            spans.push(("n", chars[start..i].iter().collect()));
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '.') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let class = match schema_type {
                SchemaType::Protobuf if PROTO_KEYWORDS.contains(&word.as_str()) => "w",
                SchemaType::Avro | SchemaType::Json if matches!(word.as_str(), "true" | "false" | "null") => "w",
                _ => "",
            };
            spans.push((class, word));
        } else {
            spans.push(("", c.to_string()));
            i += 1;
        }
    }
    html! {
        @for (class, text) in spans {
            @if class.is_empty() { (text) } @else { span class=(class) { (text) } }
        }
    }
}

/// A whole schema, highlighted, with line numbers.
pub fn code(schema_type: SchemaType, text: &str) -> Markup {
    html! {
        table.code {
            @for (number, line) in text.lines().enumerate() {
                tr { td.ln { (number + 1) } td { code { (highlight_line(schema_type, line)) } } }
            }
        }
    }
}

/// The line of `text` a finding's path points at: the last named field,
/// type or property on the path, found as a quoted name (or a Protobuf field).
pub fn line_of(text: &str, path: &str) -> Option<usize> {
    let segments: Vec<&str> = path.trim_start_matches('#').split('/').filter(|s| !s.is_empty()).collect();
    let json: Option<serde_json::Value> = serde_json::from_str(text).ok();
    let mut name: Option<String> = None;
    if let Some(mut node) = json.as_ref() {
        for segment in &segments {
            let next = match (node, segment.parse::<usize>()) {
                (serde_json::Value::Array(items), Ok(index)) => items.get(index),
                (serde_json::Value::Object(map), _) => map.get(*segment),
                _ => None,
            };
            let Some(next) = next else { break };
            node = next;
            if let Some(n) = node.get("name").and_then(serde_json::Value::as_str) {
                name = Some(n.to_owned());
            }
        }
    }
    if name.is_none()
        && let Some(position) = segments.iter().rposition(|s| *s == "properties")
    {
        name = segments.get(position + 1).map(|s| (*s).to_owned());
    }
    let name = name.or_else(|| segments.last().map(|s| (*s).to_owned()))?;
    let quoted = format!("\"{name}\"");
    let proto_field = format!(" {name} = ");
    let proto_type = format!(" {name} {{");
    text.lines()
        .position(|line| line.contains(&quoted) || line.contains(&proto_field) || line.contains(&proto_type))
        .map(|index| index + 1)
}

/// A finding, with its rule documentation (what `stele explain` prints).
pub fn finding(finding: &Incompatibility) -> Markup {
    let doc = stele_compat::docs::rule_doc(&finding.rule);
    html! {
        div.finding {
            b { (finding.rule) } " at " code { (finding.path) } ": " (finding.description)
            @if let Some(doc) = doc {
                details {
                    summary { "explain " (finding.rule) }
                    p { b { "Checks: " } (doc.checks) }
                    p { b { "Why it breaks consumers: " } (doc.why) }
                    p { b { "Instead: " } (doc.alternative) }
                }
            }
        }
    }
}

/// A line and its number.
type Numbered = (usize, String);

/// Two texts side by side, changed lines marked, each finding beside the
/// line of the new text it is about (or of the old text, for what was removed).
pub fn side_by_side(schema_type: SchemaType, old: &str, new: &str, findings: &[Incompatibility]) -> Markup {
    let diff = TextDiff::from_lines(old, new);
    let mut rows: Vec<(Option<Numbered>, Option<Numbered>, &'static str)> = Vec::new();
    for change in diff.iter_all_changes() {
        let line = change.value().trim_end_matches('\n').to_owned();
        match change.tag() {
            ChangeTag::Equal => rows.push((
                change.old_index().map(|i| (i + 1, line.clone())),
                change.new_index().map(|i| (i + 1, line)),
                "same",
            )),
            ChangeTag::Delete => rows.push((change.old_index().map(|i| (i + 1, line)), None, "del")),
            ChangeTag::Insert => rows.push((None, change.new_index().map(|i| (i + 1, line)), "ins")),
        }
    }
    let mut by_new_line: std::collections::BTreeMap<usize, Vec<&Incompatibility>> = std::collections::BTreeMap::new();
    let mut by_old_line: std::collections::BTreeMap<usize, Vec<&Incompatibility>> = std::collections::BTreeMap::new();
    let mut unplaced = Vec::new();
    for f in findings {
        if let Some(line) = line_of(new, &f.path) {
            by_new_line.entry(line).or_default().push(f);
        } else if let Some(line) = line_of(old, &f.path) {
            by_old_line.entry(line).or_default().push(f);
        } else {
            unplaced.push(f);
        }
    }
    html! {
        table.diff {
            thead { tr { th { "old" } th { "" } th { "new" } th { "" } th { "findings" } } }
            @for (old_line, new_line, class) in &rows {
                @let here: Vec<&&Incompatibility> = new_line.as_ref().and_then(|(n, _)| by_new_line.get(n)).into_iter().flatten()
                    .chain(old_line.as_ref().filter(|_| new_line.is_none()).and_then(|(n, _)| by_old_line.get(n)).into_iter().flatten())
                    .collect();
                tr class=(class) {
                    td.ln { @if let Some((n, _)) = old_line { (n) } }
                    td { @if let Some((_, text)) = old_line { code { (highlight_line(schema_type, text)) } } }
                    td.ln { @if let Some((n, _)) = new_line { (n) } }
                    td { @if let Some((_, text)) = new_line { code { (highlight_line(schema_type, text)) } } }
                    td { @for f in here { (finding(f)) } }
                }
            }
        }
        @if !unplaced.is_empty() {
            h3 { "Findings without a line" }
            @for f in unplaced { (finding(f)) }
        }
    }
}

/// Milliseconds since the epoch as `2026-12-05 04:50 UTC`.
pub fn date(millis: i64) -> String {
    jiff::Timestamp::from_millisecond(millis)
        .map_or_else(|_| "?".into(), |t| t.strftime("%Y-%m-%d %H:%M UTC").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn findings_find_their_lines() {
        let avro = display_text(
            SchemaType::Avro,
            r#"{"type":"record","name":"Order","fields":[{"name":"id","type":"string"},{"name":"total","type":"long"}]}"#,
        );
        let line = line_of(&avro, "/fields/1").expect("a line");
        assert!(avro.lines().nth(line - 1).is_some_and(|l| l.contains("\"total\"")), "{avro}\n{line}");
        let proto = "message Order {\n  string id = 1;\n  int64 total = 2;\n}\n";
        assert_eq!(line_of(proto, "#/Order/total"), Some(3));
        let json = "{\n  \"properties\": {\n    \"amount\": {}\n  }\n}";
        assert_eq!(line_of(json, "#/properties/amount"), Some(3));
    }

    #[test]
    fn highlighting_escapes_and_classifies() {
        let html = highlight_line(SchemaType::Avro, r#"  "name": "<script>", "size": 16, "x": true"#).into_string();
        assert!(html.contains("<span class=\"k\">&quot;name&quot;</span>"), "{html}");
        assert!(html.contains("&lt;script&gt;") && !html.contains("<script>"), "{html}");
        assert!(
            html.contains("<span class=\"n\">16</span>") && html.contains("<span class=\"w\">true</span>"),
            "{html}"
        );
        let proto = highlight_line(SchemaType::Protobuf, "  repeated string tags = 3; // note").into_string();
        assert!(proto.contains("<span class=\"w\">repeated</span>") && proto.contains("<span class=\"c\">"), "{proto}");
    }
}
