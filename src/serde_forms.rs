//! Values an experiment file may write in more than one form (a shorthand
//! scalar, or a table tagged by `dist`, `model` or `shape`). serde's
//! untagged enums reject a mistake with "data did not match any variant";
//! these deserializers name what is wrong and list the forms instead.

use serde::Deserialize;
use serde::de::{DeserializeOwned, Deserializer, Error};
use toml::Value;

/// Reads a value as `scalar` takes it, or, for a table, as the tagged enum
/// `Tagged` mapped by `table`. `what` names the value ("a delay") and
/// `forms` lists how it is written, for the message.
pub fn scalar_or_table<'de, D, T, Tagged>(
    d: D,
    what: &str,
    forms: &str,
    scalar: impl FnOnce(&Value) -> Option<Result<T, String>>,
    table: impl FnOnce(Tagged) -> T,
) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    Tagged: DeserializeOwned,
{
    let v = Value::deserialize(d)?;
    if let Some(r) = scalar(&v) {
        return r.map_err(|m| D::Error::custom(format!("{m}; {what} is written as {forms}")));
    }
    match v {
        Value::Table(_) => Tagged::deserialize(v).map(table).map_err(|e| {
            D::Error::custom(format!("{}; {what} is written as {forms}", in_words(e.message())))
        }),
        other => Err(D::Error::custom(format!("{what} is written as {forms} (got {})", describe(&other)))),
    }
}

/// A value as the file wrote it, for "got ...".
pub fn describe(v: &Value) -> String {
    match v {
        Value::String(s) => format!("the string \"{s}\""),
        Value::Table(_) => "a table".into(),
        Value::Array(_) => "an array".into(),
        other => other.to_string(),
    }
}

/// serde's inner messages ("missing field `x`", "unknown field `x`,
/// expected ...", "unknown variant ...") in the file's terms.
fn in_words(message: &str) -> String {
    let message = message.trim();
    let quoted: Vec<&str> = message.split('`').skip(1).step_by(2).collect();
    if message.starts_with("missing field") {
        return format!("missing key `{}`", quoted.first().unwrap_or(&"?"));
    }
    if message.starts_with("unknown field") && !quoted.is_empty() {
        return format!("unknown key `{}` (allowed here: {})", quoted[0], quoted[1..].join(", "));
    }
    if message.starts_with("unknown variant") && !quoted.is_empty() {
        return format!("unknown kind `{}` (allowed: {})", quoted[0], quoted[1..].join(", "));
    }
    message.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_inner_messages_in_the_files_terms() {
        assert_eq!(in_words("missing field `sigma`"), "missing key `sigma`");
        assert_eq!(
            in_words("unknown field `mean`, expected `median` or `sigma`"),
            "unknown key `mean` (allowed here: median, sigma)"
        );
        assert_eq!(
            in_words("unknown variant `gamma`, expected `a` or `b`"),
            "unknown kind `gamma` (allowed: a, b)"
        );
    }
}
