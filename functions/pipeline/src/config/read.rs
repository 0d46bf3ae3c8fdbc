//! Reading the parsed TOML field by field, so that every structural problem (a missing key, a
//! wrong type, an unknown key) is reported with its path, all at once, rather than the first one
//! serde meets. The types in the other modules describe the same shape for the JSON Schema; a
//! test checks that what this reader accepts also deserialises into them.

use super::problem::At;
use super::validate::Ctx;
use std::collections::BTreeSet;
use std::ops::RangeInclusive;
use toml::Value;

/// One TOML table being read; `finish` reports the keys nobody asked for.
pub(crate) struct Table<'a> {
    pub(crate) ctx: &'a Ctx,
    pub(crate) at: At,
    map: Option<&'a toml::Table>,
    asked: BTreeSet<&'static str>,
    retired: BTreeSet<&'static str>,
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "a string",
        Value::Integer(_) => "a whole number",
        Value::Float(_) => "a decimal number",
        Value::Boolean(_) => "true/false",
        Value::Datetime(_) => "a date",
        Value::Array(_) => "a list",
        Value::Table(_) => "a table",
    }
}

impl<'a> Table<'a> {
    /// `value` absent is an empty table; anything but a table is a problem.
    pub(crate) fn new(ctx: &'a Ctx, at: At, value: Option<&'a Value>) -> Self {
        let map = match value {
            None => None,
            Some(Value::Table(t)) => Some(t),
            Some(other) => {
                ctx.problem(&at, format!("expected a table, found {}", kind_of(other)));
                None
            }
        };
        Self {
            ctx,
            at,
            map,
            asked: BTreeSet::new(),
            retired: BTreeSet::new(),
        }
    }

    pub(crate) fn at(&self, key: &str) -> At {
        self.at.key(key)
    }

    pub(crate) fn has(&mut self, key: &'static str) -> bool {
        self.raw(key).is_some()
    }

    fn raw(&mut self, key: &'static str) -> Option<&'a Value> {
        self.asked.insert(key);
        self.map.and_then(|m| m.get(key))
    }

    fn wrong(&self, key: &str, expected: &str, found: &Value) {
        self.ctx.problem(
            &self.at(key),
            format!("expected {expected}, found {}", kind_of(found)),
        );
    }

    pub(crate) fn required<T>(&self, key: &str, value: Option<T>, present: bool) -> Option<T> {
        if !present {
            self.ctx.problem(&self.at(key), "required here");
        }
        value
    }

    /// A string value, without reporting anything (for cross-item checks such as unique names).
    pub(crate) fn peek_str(&self, key: &str) -> Option<&'a str> {
        self.map?.get(key)?.as_str()
    }

    /// The strings of a list, without reporting anything.
    pub(crate) fn peek_strs(&self, key: &str) -> Vec<&'a str> {
        let items = self.map.and_then(|m| m.get(key)).and_then(Value::as_array);
        items
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect()
    }

    /// An optional string.
    pub(crate) fn str(&mut self, key: &'static str) -> Option<&'a str> {
        match self.raw(key)? {
            Value::String(s) => Some(s),
            other => {
                self.wrong(key, "a string", other);
                None
            }
        }
    }

    pub(crate) fn req_str(&mut self, key: &'static str) -> Option<&'a str> {
        let present = self.has(key);
        let value = self.str(key);
        self.required(key, value, present)
    }

    /// An optional list of strings; each wrong item is its own problem.
    pub(crate) fn strs(&mut self, key: &'static str) -> Option<Vec<(At, &'a str)>> {
        match self.raw(key)? {
            Value::Array(items) => {
                let at = self.at(key);
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    match item {
                        Value::String(s) => out.push((at.index(i), s.as_str())),
                        other => self.ctx.problem(
                            &at.index(i),
                            format!("expected a string, found {}", kind_of(other)),
                        ),
                    }
                }
                Some(out)
            }
            other => {
                self.wrong(key, "a list of strings", other);
                None
            }
        }
    }

    /// An optional whole number within `range`.
    pub(crate) fn int(&mut self, key: &'static str, range: RangeInclusive<u64>) -> Option<u64> {
        let at = self.at(key);
        match self.raw(key)? {
            Value::Integer(n) => match u64::try_from(*n).ok().filter(|n| range.contains(n)) {
                Some(n) => Some(n),
                None => {
                    self.ctx.problem(
                        &at,
                        format!(
                            "{n} is out of range: between {} and {}",
                            range.start(),
                            range.end()
                        ),
                    );
                    None
                }
            },
            other => {
                self.wrong(key, "a whole number", other);
                None
            }
        }
    }

    /// An optional number (whole or not) within `range`: prices.
    pub(crate) fn number(&mut self, key: &'static str, range: RangeInclusive<f64>) -> Option<f64> {
        let at = self.at(key);
        let n = match self.raw(key)? {
            Value::Float(n) => *n,
            Value::Integer(n) => *n as f64,
            other => {
                self.wrong(key, "a number", other);
                return None;
            }
        };
        if !range.contains(&n) {
            self.ctx.problem(
                &at,
                format!(
                    "{n} is out of range: between {} and {}",
                    range.start(),
                    range.end()
                ),
            );
            return None;
        }
        Some(n)
    }

    /// One of a few words (`severity = "warn"`).
    pub(crate) fn choice<T: Copy>(
        &mut self,
        key: &'static str,
        options: &[(&str, T)],
    ) -> Option<T> {
        let present = self.has(key);
        let word = self.str(key);
        let word = self.required(key, word, present)?;
        let found = options.iter().find(|(name, _)| *name == word).map(|o| o.1);
        if found.is_none() {
            let names: Vec<&str> = options.iter().map(|o| o.0).collect();
            self.ctx.problem(
                &self.at(key),
                format!("unknown {key} {word:?}; one of {}", names.join(", ")),
            );
        }
        found
    }

    /// A list of tables (`[[pipelines.x.merges]]`) of at most `max` items.
    pub(crate) fn tables(&mut self, key: &'static str, max: usize) -> Vec<Table<'a>> {
        let at = self.at(key);
        let items = match self.raw(key) {
            None => return Vec::new(),
            Some(Value::Array(items)) => items,
            Some(other) => {
                self.wrong(key, "a list of tables", other);
                return Vec::new();
            }
        };
        if items.len() > max {
            self.ctx.problem(
                &at,
                format!("{} items: at most {max} {key} per pipeline", items.len()),
            );
        }
        items
            .iter()
            .enumerate()
            .map(|(i, item)| Table::new(self.ctx, at.index(i), Some(item)))
            .collect()
    }

    /// The `(key, value)` pairs of a table whose keys are names (`[pipelines.<name>]`).
    pub(crate) fn entries(&mut self, key: &'static str) -> Vec<(&'a str, Table<'a>)> {
        let at = self.at(key);
        let table = Table::new(self.ctx, at.clone(), self.raw(key));
        table
            .map
            .into_iter()
            .flatten()
            .map(|(name, value)| {
                (
                    name.as_str(),
                    Table::new(self.ctx, at.key(name), Some(value)),
                )
            })
            .collect()
    }

    pub(crate) fn sub(&mut self, key: &'static str) -> Table<'a> {
        Table::new(self.ctx, self.at(key), self.raw(key))
    }

    /// A key an older version of the file used: a problem that says what to do instead.
    pub(crate) fn renamed(&mut self, key: &'static str, message: &str) {
        self.retired.insert(key);
        if self.map.is_some_and(|m| m.contains_key(key)) {
            self.ctx.problem(&self.at(key), message);
        }
    }

    /// Every key that was not asked for is a problem that lists the keys this table takes.
    pub(crate) fn finish(self) {
        let Some(map) = self.map else { return };
        for key in map.keys() {
            if !self.asked.contains(key.as_str()) && !self.retired.contains(key.as_str()) {
                let known: Vec<&str> = self.asked.iter().copied().collect();
                self.ctx.problem(
                    &self.at(key),
                    format!("unknown key; this table takes {}", known.join(", ")),
                );
            }
        }
    }
}
