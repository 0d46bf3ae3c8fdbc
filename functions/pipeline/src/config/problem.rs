//! What is wrong in a config, and where: one path style everywhere,
//! `pipelines.orders.checks[1].column`.

use std::fmt;

/// One thing wrong in the file, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub path: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// The config could not be used; holds every problem found.
#[derive(Debug, thiserror::Error)]
pub struct ConfigError {
    pub file: String,
    pub problems: Vec<Problem>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} has {} problem(s)", self.file, self.problems.len())?;
        for p in &self.problems {
            write!(f, "\n  - {p}")?;
        }
        Ok(())
    }
}

/// A place in the file: keys joined by `.`, list items as `[i]`; keys that are not bare TOML keys
/// are quoted as TOML quotes them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct At(String);

impl At {
    pub(crate) fn root() -> Self {
        Self(String::new())
    }

    pub(crate) fn key(&self, key: &str) -> Self {
        let bare = !key.is_empty()
            && key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        let key = if bare {
            key.to_string()
        } else {
            format!("{key:?}")
        };
        if self.0.is_empty() {
            Self(key)
        } else {
            Self(format!("{}.{key}", self.0))
        }
    }

    pub(crate) fn index(&self, i: usize) -> Self {
        Self(format!("{}[{i}]", self.0))
    }

    pub(crate) fn as_str(&self) -> &str {
        if self.0.is_empty() { "(file)" } else { &self.0 }
    }
}

/// A TOML syntax error (the file cannot be read as TOML at all, so this is the only problem
/// reported), placed at the table and key it occurred in, with its line and column.
pub(crate) fn syntax_problem(text: &str, e: &toml::de::Error) -> Problem {
    let Some(span) = e.span() else {
        return Problem {
            path: "(file)".into(),
            message: e.message().trim().to_string(),
        };
    };
    let start = span.start.min(text.len());
    let before = &text[..start];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    let mut message = e.message().trim().to_string();
    let culprit = text[start..span.end.min(text.len())].trim();
    if message.starts_with("duplicate key") && !culprit.is_empty() && !message.contains(culprit) {
        message = format!("{message} {culprit}");
    }
    Problem {
        path: place(text, start).as_str().to_string(),
        message: format!("{message} (line {line}, column {column})"),
    }
}

/// The table (and key, when the offset is on a `key = value` line) that a byte offset falls in,
/// found from the headers above it. Good enough for syntax errors, which have no parsed path.
fn place(text: &str, offset: usize) -> At {
    let mut at = At::root();
    let mut arrays: std::collections::HashMap<String, usize> = Default::default();
    let mut line_start = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim();
        let header = trimmed
            .strip_prefix("[[")
            .and_then(|h| h.split("]]").next())
            .map(|h| (h, true))
            .or_else(|| {
                trimmed
                    .strip_prefix('[')
                    .and_then(|h| h.split(']').next())
                    .map(|h| (h, false))
            });
        let on_this_line = offset < line_start + line.len();
        match header {
            Some((name, is_array)) => {
                let mut next = At::root();
                for part in name.split('.') {
                    next = next.key(part.trim().trim_matches('"'));
                }
                if is_array {
                    let n = arrays.entry(next.0.clone()).or_default();
                    next = next.index(*n);
                    if !on_this_line {
                        *n += 1;
                    }
                }
                at = next;
            }
            None if on_this_line => {
                if let Some((key, _)) = trimmed.split_once('=') {
                    let key = key.trim().trim_matches('"');
                    if !key.is_empty() {
                        return at.key(key);
                    }
                }
            }
            None => {}
        }
        if on_this_line {
            break;
        }
        line_start += line.len();
    }
    at
}
