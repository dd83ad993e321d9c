//! The body of an aggregate option value (`{ tags: ["PII"] }`), in the
//! Protobuf text format: parsed into fields, and printed the way Confluent
//! prints option bodies, one field per line, lists one element per line.

use std::fmt::Write as _;

/// A value in an aggregate body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// A string (quoted, as written), number, identifier or `-` number.
    Scalar(String),
    List(Vec<Value>),
    Message(Vec<(String, Value)>),
}

struct Parser<'a> {
    chars: std::iter::Peekable<std::str::CharIndices<'a>>,
    text: &'a str,
}

impl Parser<'_> {
    fn skip_space(&mut self) {
        while let Some((_, c)) = self.chars.peek() {
            if c.is_whitespace() {
                self.chars.next();
            } else if *c == '#' {
                while self.chars.next_if(|(_, c)| *c != '\n').is_some() {}
            } else {
                break;
            }
        }
    }

    fn peek(&mut self) -> Option<char> {
        self.skip_space();
        self.chars.peek().map(|(_, c)| *c)
    }

    fn eat(&mut self, expected: char) -> bool {
        if self.peek() == Some(expected) {
            self.chars.next();
            true
        } else {
            false
        }
    }

    /// A field name: an identifier, or `[an.extension]`.
    fn name(&mut self) -> Result<String, String> {
        self.skip_space();
        let start = self.chars.peek().map_or(self.text.len(), |(i, _)| *i);
        if self.eat('[') {
            while self.chars.next_if(|(_, c)| *c != ']').is_some() {}
            if !self.eat(']') {
                return Err("an extension name without ']'".into());
            }
        } else {
            while self.chars.next_if(|(_, c)| c.is_alphanumeric() || *c == '_' || *c == '.').is_some() {}
        }
        let end = self.chars.peek().map_or(self.text.len(), |(i, _)| *i);
        let name = self.text[start..end].trim().to_owned();
        if name.is_empty() { Err(format!("a field name expected at {start}")) } else { Ok(name) }
    }

    fn fields(&mut self, close: Option<char>) -> Result<Vec<(String, Value)>, String> {
        let mut fields = Vec::new();
        loop {
            match (self.peek(), close) {
                (None, None) => return Ok(fields),
                (None, Some(c)) => return Err(format!("'{c}' expected")),
                (Some(c), Some(close)) if c == close => {
                    self.chars.next();
                    return Ok(fields);
                }
                _ => {}
            }
            let name = self.name()?;
            self.eat(':');
            let value = self.value()?;
            fields.push((name, value));
            if !self.eat(',') {
                self.eat(';');
            }
        }
    }

    fn message(&mut self) -> Result<Value, String> {
        let close = if self.eat('{') {
            '}'
        } else if self.eat('<') {
            '>'
        } else {
            return Err("'{' expected".into());
        };
        Ok(Value::Message(self.fields(Some(close))?))
    }

    fn value(&mut self) -> Result<Value, String> {
        match self.peek() {
            Some('[') => {
                self.chars.next();
                let mut items = Vec::new();
                loop {
                    if self.eat(']') {
                        return Ok(Value::List(items));
                    }
                    items.push(if matches!(self.peek(), Some('{' | '<')) { self.message()? } else { self.value()? });
                    if !self.eat(',') && self.peek() != Some(']') {
                        return Err("',' or ']' expected in a list".into());
                    }
                }
            }
            Some('{' | '<') => self.message(),
            Some(quote @ ('"' | '\'')) => {
                let (start, _) = self.chars.next().unwrap_or_default();
                let mut escaped = false;
                for (i, c) in self.chars.by_ref() {
                    if escaped {
                        escaped = false;
                    } else if c == '\\' {
                        escaped = true;
                    } else if c == quote {
                        return Ok(Value::Scalar(self.text[start..=i].to_owned()));
                    }
                }
                Err("an unterminated string".into())
            }
            Some(_) => {
                let start = self.chars.peek().map_or(self.text.len(), |(i, _)| *i);
                self.chars.next_if(|(_, c)| *c == '-');
                self.skip_space();
                while self.chars.next_if(|(_, c)| c.is_alphanumeric() || matches!(c, '_' | '.' | '+' | '-')).is_some() {
                }
                let end = self.chars.peek().map_or(self.text.len(), |(i, _)| *i);
                let token: String = self.text[start..end].split_whitespace().collect();
                if token.is_empty() { Err(format!("a value expected at {start}")) } else { Ok(Value::Scalar(token)) }
            }
            None => Err("a value expected".into()),
        }
    }
}

/// Parses an aggregate body (without its braces).
pub fn parse(body: &str) -> Result<Vec<(String, Value)>, String> {
    Parser { chars: body.char_indices().peekable(), text: body }.fields(None)
}

fn indent(text: &str) -> String {
    text.lines().map(|line| format!("  {line}")).collect::<Vec<_>>().join("\n")
}

fn print_value(value: &Value) -> String {
    match value {
        Value::Scalar(text) => text.clone(),
        Value::List(items) => {
            let items: Vec<String> = items.iter().map(print_value).collect();
            format!("[\n{}\n]", indent(&items.join(",\n")))
        }
        Value::Message(fields) => format!("{{\n{}\n}}", indent(&print_fields(fields))),
    }
}

/// Fields, one per line (`name: value`), the way Confluent prints an option body.
pub fn print_fields(fields: &[(String, Value)]) -> String {
    let mut out = String::new();
    for (index, (name, value)) in fields.iter().enumerate() {
        if index > 0 {
            out.push('\n');
        }
        let _ = write!(out, "{name}: {}", print_value(value));
    }
    out
}

/// A body printed as an option value: `{`, the fields indented, `}`; `{ raw }`
/// when the body does not parse.
pub fn print_body(body: &str) -> String {
    match parse(body) {
        Ok(fields) if !fields.is_empty() => format!("{{\n{}\n}}", indent(&print_fields(&fields))),
        _ => format!("{{ {body} }}"),
    }
}

/// A text-format string literal.
pub fn quote(text: &str) -> String {
    super::render::quote(text.as_bytes())
}

/// The text of a string literal (`None` for anything else).
pub fn unquote(literal: &str) -> Option<String> {
    let quote = literal.chars().next().filter(|c| matches!(c, '"' | '\''))?;
    let inner = literal.strip_prefix(quote)?.strip_suffix(quote)?;
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next()? {
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            other => out.push(other),
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_prints_one_field_per_line_and_one_element_per_line() {
        assert_eq!(
            print_body(r#"tags: ["PII", "X"] doc: "d""#),
            "{\n  tags: [\n    \"PII\",\n    \"X\"\n  ]\n  doc: \"d\"\n}"
        );
        assert_eq!(
            print_body("params { key: \"a\" value: \"b\" }"),
            "{\n  params: {\n    key: \"a\"\n    value: \"b\"\n  }\n}"
        );
    }

    #[test]
    fn printing_is_stable_and_strings_round_trip() {
        let once = print_body(r#"tags: ["a\"b"]"#);
        let inner = once.strip_prefix('{').and_then(|s| s.strip_suffix('}')).unwrap_or_default();
        assert_eq!(print_body(inner), once);
        assert_eq!(unquote(r#""a\"b""#).as_deref(), Some("a\"b"));
        assert_eq!(print_body("not { closed"), "{ not { closed }");
    }
}
