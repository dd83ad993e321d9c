//! Custom options as written (`UninterpretedOption`s): dropping the ones no
//! file declares, and Confluent's schema tags, kept in
//! `(confluent.field_meta)` and `(confluent.message_meta)`.

use prost_types::uninterpreted_option::NamePart;
use prost_types::{DescriptorProto, FileDescriptorProto, UninterpretedOption};

use super::aggregate::{self, Value};

/// Whether `option` sets the extension `extension` (or a field of it).
fn sets_extension(option: &UninterpretedOption, extension: &str) -> bool {
    option.name.first().is_some_and(|part| {
        part.is_extension && part.name_part.trim_start_matches('.') == extension.trim_start_matches('.')
    })
}

/// Removes every option of `file` that sets `extension`; whether one was.
pub(super) fn drop_custom(file: &mut FileDescriptorProto, extension: &str) -> bool {
    let mut dropped = false;
    let mut retain = |options: &mut Vec<UninterpretedOption>| {
        let before = options.len();
        options.retain(|o| !sets_extension(o, extension));
        dropped |= options.len() != before;
    };
    if let Some(o) = &mut file.options {
        retain(&mut o.uninterpreted_option);
    }
    fn message(m: &mut DescriptorProto, retain: &mut dyn FnMut(&mut Vec<UninterpretedOption>)) {
        if let Some(o) = &mut m.options {
            retain(&mut o.uninterpreted_option);
        }
        for f in m.field.iter_mut().chain(m.extension.iter_mut()) {
            if let Some(o) = &mut f.options {
                retain(&mut o.uninterpreted_option);
            }
        }
        for oneof in &mut m.oneof_decl {
            if let Some(o) = &mut oneof.options {
                retain(&mut o.uninterpreted_option);
            }
        }
        for e in &mut m.enum_type {
            enumeration(e, retain);
        }
        for nested in &mut m.nested_type {
            message(nested, retain);
        }
    }
    fn enumeration(e: &mut prost_types::EnumDescriptorProto, retain: &mut dyn FnMut(&mut Vec<UninterpretedOption>)) {
        if let Some(o) = &mut e.options {
            retain(&mut o.uninterpreted_option);
        }
        for v in &mut e.value {
            if let Some(o) = &mut v.options {
                retain(&mut o.uninterpreted_option);
            }
        }
    }
    for m in &mut file.message_type {
        message(m, &mut retain);
    }
    for e in &mut file.enum_type {
        enumeration(e, &mut retain);
    }
    for f in &mut file.extension {
        if let Some(o) = &mut f.options {
            retain(&mut o.uninterpreted_option);
        }
    }
    for s in &mut file.service {
        if let Some(o) = &mut s.options {
            retain(&mut o.uninterpreted_option);
        }
        for m in &mut s.method {
            if let Some(o) = &mut m.options {
                retain(&mut o.uninterpreted_option);
            }
        }
    }
    dropped
}

/// The tags an option list gives through `extension` (`tags: [...]` in its body).
fn tags_of(options: &[UninterpretedOption], extension: &str) -> Vec<String> {
    options
        .iter()
        .filter(|o| sets_extension(o, extension))
        .filter_map(|o| o.aggregate_value.as_deref())
        .filter_map(|body| aggregate::parse(body).ok())
        .flat_map(|fields| {
            fields
                .into_iter()
                .filter(|(key, _)| key == "tags")
                .flat_map(|(_, value)| match value {
                    Value::List(items) => items,
                    other => vec![other],
                })
                .filter_map(|value| match value {
                    Value::Scalar(text) => aggregate::unquote(&text),
                    Value::List(_) | Value::Message(_) => None,
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Rewrites the `tags` of `extension` in an option list: `tags` replaces
/// them, other fields of the option's body stay, and an option left empty
/// goes. A new option is added last.
fn set_tags(options: &mut Vec<UninterpretedOption>, extension: &str, tags: &[String]) {
    let list = Value::List(tags.iter().map(|t| Value::Scalar(aggregate::quote(t))).collect());
    let position = options.iter().position(|o| sets_extension(o, extension));
    let mut fields = position
        .and_then(|i| options[i].aggregate_value.as_deref())
        .and_then(|body| aggregate::parse(body).ok())
        .unwrap_or_default();
    fields.retain(|(key, _)| key != "tags");
    if !tags.is_empty() {
        fields.insert(0, ("tags".to_owned(), list));
    }
    let option = (!fields.is_empty()).then(|| UninterpretedOption {
        name: vec![NamePart { name_part: extension.to_owned(), is_extension: true }],
        aggregate_value: Some(aggregate::print_fields(&fields)),
        ..UninterpretedOption::default()
    });
    match (position, option) {
        (Some(i), Some(option)) => options[i] = option,
        (Some(i), None) => {
            options.remove(i);
        }
        (None, Some(option)) => options.push(option),
        (None, None) => {}
    }
}

/// Where a tag goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagTarget {
    /// A message (`sr_record`): `(confluent.message_meta)`.
    Message,
    /// A field (`sr_field`): `(confluent.field_meta)`.
    Field,
}

/// Adds and removes tags on the message or field `path` names (`M`, `M.a`,
/// `M.Inner.x`, optionally package-qualified). The error is Confluent's.
pub fn modify_tags(
    file: &mut FileDescriptorProto,
    target: TagTarget,
    path: &str,
    add: &[String],
    remove: &[String],
) -> Result<(), String> {
    let path = path.strip_prefix('.').unwrap_or(path);
    let path =
        file.package.as_deref().and_then(|p| path.strip_prefix(p)).and_then(|r| r.strip_prefix('.')).unwrap_or(path);
    let (message_path, field) = match target {
        TagTarget::Message => (path, None),
        TagTarget::Field => match path.rsplit_once('.') {
            Some((message, field)) => (message, Some(field)),
            None => return Err(format!("No matching Field with name '{path}' found in the schema")),
        },
    };
    let not_found = || match field {
        Some(field) => format!("No matching Field with name '{field}' found in the schema"),
        None => format!("No matching Message with name '{message_path}' found in the schema"),
    };
    let mut names = message_path.split('.');
    let first = names.next().unwrap_or_default();
    let mut message = file.message_type.iter_mut().find(|m| m.name() == first).ok_or_else(not_found)?;
    for name in names {
        message = message.nested_type.iter_mut().find(|m| m.name() == name).ok_or_else(not_found)?;
    }
    let (options, extension) = match field {
        None => {
            (&mut message.options.get_or_insert_with(Default::default).uninterpreted_option, "confluent.message_meta")
        }
        Some(field) => {
            let field = message.field.iter_mut().find(|f| f.name() == field).ok_or_else(not_found)?;
            (&mut field.options.get_or_insert_with(Default::default).uninterpreted_option, "confluent.field_meta")
        }
    };
    let tags = merge_tags(tags_of(options, extension), add, remove);
    set_tags(options, extension, &tags);
    Ok(())
}

/// `current`, then each of `add` not already there, without any of `remove`.
pub fn merge_tags(mut current: Vec<String>, add: &[String], remove: &[String]) -> Vec<String> {
    for tag in add {
        if !current.contains(tag) {
            current.push(tag.clone());
        }
    }
    current.retain(|t| !remove.contains(t));
    current
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_option_sets_the_extension_its_first_name_part_names() {
        let option = UninterpretedOption {
            name: vec![
                NamePart { name_part: "a.b".into(), is_extension: true },
                NamePart { name_part: "c".into(), is_extension: false },
            ],
            ..UninterpretedOption::default()
        };
        assert!(sets_extension(&option, "a.b") && sets_extension(&option, ".a.b"));
        assert!(!sets_extension(&option, "c"));
    }

    #[test]
    fn tags_merge_in_order_without_duplicates() {
        let merged = merge_tags(vec!["A".into(), "B".into()], &["A".into(), "C".into()], &["B".into()]);
        assert_eq!(merged, ["A", "C"]);
    }
}
