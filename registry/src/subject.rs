//! Subject names and contexts.
//!
//! A subject may carry a context: `:.orders:payments-value` is the subject
//! `payments-value` in the context `.orders`. A bare name is in the default
//! context `.`. Each context has its own id space.

use std::fmt;

use crate::error::{ErrorCode, RegistryError};

/// The default context.
pub const DEFAULT_CONTEXT: &str = ".";

/// A subject name split into its context and its name within the context.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Subject {
    pub context: String,
    pub name: String,
}

impl Subject {
    /// Splits a subject as Confluent does: `:.ctx:name` is `name` in `.ctx`;
    /// `:.ctx` alone is the context's own (empty) subject; anything else,
    /// `:abc:foo` included, is a name in the default context.
    pub fn parse(raw: &str) -> Subject {
        if let Some(rest) = raw.strip_prefix(":.") {
            let (context, name) = rest.split_once(':').unwrap_or((rest, ""));
            return Subject { context: format!(".{context}"), name: name.to_owned() };
        }
        Subject { context: DEFAULT_CONTEXT.to_owned(), name: raw.to_owned() }
    }

    /// Validates a subject that is to be written: no control characters, not reserved.
    pub fn parse_for_write(raw: &str) -> Result<Subject, RegistryError> {
        let subject = Subject::parse(raw);
        let reserved = matches!(subject.name.as_str(), "__GLOBAL" | "__EMPTY") || subject.context == ".__GLOBAL";
        if raw.chars().any(char::is_control) || reserved {
            return Err(RegistryError::new(
                ErrorCode::InvalidSubject,
                format!("The specified subject '{raw}' is not valid."),
            ));
        }
        Ok(subject)
    }

    pub fn is_default_context(&self) -> bool {
        self.context == DEFAULT_CONTEXT
    }

    /// The subject a reference of this subject's schema names: relative to
    /// this subject's context unless qualified.
    pub fn referenced(&self, reference_subject: &str) -> Subject {
        let parsed = Subject::parse(reference_subject);
        if reference_subject.starts_with(":.") || self.is_default_context() {
            parsed
        } else {
            Subject { context: self.context.clone(), name: parsed.name }
        }
    }

    /// The subject as Confluent lists it: bare in the default context, qualified elsewhere.
    pub fn qualified(&self) -> String {
        if self.is_default_context() { self.name.clone() } else { format!(":{}:{}", self.context, self.name) }
    }

    /// The config and mode scope of this subject's context: the empty string
    /// for the default context's top level, `:.ctx:` for others.
    pub fn context_scope(&self) -> String {
        context_scope(&self.context)
    }
}

pub fn context_scope(context: &str) -> String {
    if context == DEFAULT_CONTEXT { String::new() } else { format!(":{context}:") }
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.qualified())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qualified_subjects_split_into_context_and_name() {
        assert_eq!(Subject::parse(":.ctx:foo"), Subject { context: ".ctx".into(), name: "foo".into() });
        assert_eq!(Subject::parse(":.ctx"), Subject { context: ".ctx".into(), name: String::new() });
        assert_eq!(Subject::parse(":.:foo").qualified(), "foo");
        assert_eq!(Subject::parse(":abc:foo").context, ".");
        assert_eq!(Subject::parse("foo").qualified(), "foo");
    }
}
