//! Identifiers from configuration, validated and always rendered quoted, so a name can never end
//! the identifier early and splice SQL in. Values never go through here: they go in bindings.

use crate::error::{Error, Result};
use std::fmt;

/// One identifier (database, schema, table, column, warehouse, ...).
///
/// `orders` means what Snowflake means by an unquoted name: `ORDERS`. `"Mixed Case"` (quotes
/// included) keeps its case and may hold any printable character. Anything else that is not a plain
/// name (spaces, quotes, semicolons, comment markers) is rejected.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Identifier(String);

const MAX_LEN: usize = 255;

impl Identifier {
    pub fn new(name: &str) -> Result<Self> {
        let err = |reason| Error::InvalidIdentifier {
            name: name.chars().take(80).collect(),
            reason,
        };
        if name.chars().any(char::is_control) {
            return Err(err("control characters are not allowed"));
        }
        let value = if let Some(inner) = name.strip_prefix('"').and_then(|n| n.strip_suffix('"')) {
            // Inside quotes a quote must be doubled; a lone one would close the identifier.
            let unescaped = inner.replace("\"\"", "\"");
            if unescaped.contains('"') && unescaped.replace('"', "\"\"") != inner {
                return Err(err("a quote inside a quoted identifier must be doubled"));
            }
            unescaped
        } else {
            let mut chars = name.chars();
            let first_ok = chars
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
            if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$') {
                return Err(err(
                    "an unquoted identifier is a letter or underscore followed by letters, digits, _ or $; \
                     write it in double quotes to keep other characters",
                ));
            }
            name.to_ascii_uppercase()
        };
        if value.is_empty() {
            return Err(err("empty"));
        }
        if value.chars().count() > MAX_LEN {
            return Err(err("longer than 255 characters"));
        }
        Ok(Self(value))
    }

    /// The name as Snowflake stores it (unquoted names uppercased).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Identifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{}\"", self.0.replace('"', "\"\""))
    }
}

impl fmt::Debug for Identifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A possibly qualified object name: `table`, `schema.table` or `database.schema.table`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ObjectName(Vec<Identifier>);

impl ObjectName {
    pub fn parse(name: &str) -> Result<Self> {
        let parts = split_qualified(name).ok_or_else(|| Error::InvalidIdentifier {
            name: name.chars().take(80).collect(),
            reason: "unbalanced quotes",
        })?;
        if parts.is_empty() || parts.len() > 3 {
            return Err(Error::InvalidIdentifier {
                name: name.chars().take(80).collect(),
                reason: "expected name, schema.name or database.schema.name",
            });
        }
        parts
            .iter()
            .map(|p| Identifier::new(p))
            .collect::<Result<Vec<_>>>()
            .map(Self)
    }

    pub fn parts(&self) -> &[Identifier] {
        &self.0
    }

    /// The last part: the object's own name.
    pub fn name(&self) -> &Identifier {
        self.0.last().expect("an ObjectName has at least one part")
    }

    /// `DB.SCHEMA.NAME` unquoted, as the value of a string binding or an INFORMATION_SCHEMA filter.
    pub fn plain(&self) -> String {
        self.0
            .iter()
            .map(Identifier::as_str)
            .collect::<Vec<_>>()
            .join(".")
    }
}

impl fmt::Display for ObjectName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, part) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            write!(f, "{part}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for ObjectName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Splits on dots outside double quotes; `None` when quotes do not balance.
fn split_qualified(name: &str) -> Option<Vec<String>> {
    let mut parts = vec![String::new()];
    let mut quoted = false;
    for c in name.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                parts.last_mut()?.push(c);
            }
            '.' if !quoted => parts.push(String::new()),
            _ => parts.last_mut()?.push(c),
        }
    }
    (!quoted).then_some(parts)
}

/// A SQL string literal, for the few places Snowflake takes no bindings (DDL such as
/// `ALTER ICEBERG TABLE .. REFRESH '<path>'`). Quotes are doubled; control characters and
/// backslashes (an escape character in Snowflake, plain text elsewhere) are refused rather than
/// guessed at.
pub fn string_literal(value: &str) -> Result<String> {
    if value.chars().any(|c| c.is_control() || c == '\\') {
        return Err(Error::InvalidIdentifier {
            name: value.chars().take(80).collect(),
            reason: "control characters and backslashes are not allowed in a literal",
        });
    }
    Ok(format!("'{}'", value.replace('\'', "''")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names_are_uppercased_and_quoted() {
        assert_eq!(Identifier::new("orders").unwrap().to_string(), "\"ORDERS\"");
        assert_eq!(Identifier::new("_stg$1").unwrap().to_string(), "\"_STG$1\"");
        assert_eq!(
            Identifier::new("\"Mixed Case\"").unwrap().as_str(),
            "Mixed Case"
        );
        assert_eq!(
            Identifier::new("\"a\"\"b\"").unwrap().to_string(),
            "\"a\"\"b\""
        );
    }

    #[test]
    fn hostile_names_are_rejected() {
        for name in [
            "",
            "1abc",
            "orders; drop table x",
            "orders--",
            "a/*b*/",
            "o'rders",
            "x\"y",
            "\"a\"b\"",
            "\"\"",
            "tab\tle",
            "\"new\nline\"",
            &"a".repeat(256),
        ] {
            let err = Identifier::new(name).unwrap_err();
            assert_eq!(err.name(), "Snowflake.InvalidIdentifier", "{name:?}");
        }
    }

    #[test]
    fn qualified_names() {
        let n = ObjectName::parse("analytics.\"Raw.Data\".orders").unwrap();
        assert_eq!(n.to_string(), "\"ANALYTICS\".\"Raw.Data\".\"ORDERS\"");
        assert_eq!(n.plain(), "ANALYTICS.Raw.Data.ORDERS");
        assert_eq!(n.name().as_str(), "ORDERS");
        assert!(ObjectName::parse("a.b.c.d").is_err());
        assert!(ObjectName::parse("a.\"b").is_err());
        assert!(ObjectName::parse("a..b").is_err());
        assert!(ObjectName::parse("a.b;drop").is_err());
    }

    #[test]
    fn literals_double_quotes_and_refuse_escapes() {
        assert_eq!(string_literal("a'b").unwrap(), "'a''b'");
        assert!(string_literal("a\nb").is_err());
        assert!(string_literal("a\\b").is_err());
    }
}
