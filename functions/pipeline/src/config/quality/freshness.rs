//! `freshness`: the newest value of a UTC timestamp column is at most so old.

use super::{KnownColumns, Rule, Severity, required_column, table};
use crate::config::read::Table;
use schemars::JsonSchema;
use serde::Deserialize;
use std::time::Duration;

/// A year (leap or not): an older limit is no freshness check at all.
const MAX_AGE_MINUTES: u64 = 366 * 24 * 60;

#[derive(Deserialize, JsonSchema, Debug)]
#[serde(deny_unknown_fields)]
pub struct FreshnessFile {
    pub name: String,
    pub severity: Severity,
    pub table: String,
    /// A timestamp column holding UTC.
    pub column: String,
    /// The newest row must be at most this old.
    #[schemars(range(min = 1, max = 527_040))]
    pub max_age_minutes: u64,
}

pub(super) fn read(t: &mut Table<'_>, known: &KnownColumns) -> Option<Rule> {
    let table = table(t);
    let column = required_column(t, table.as_ref(), known);
    let present = t.has("max_age_minutes");
    let minutes = t.int("max_age_minutes", 1..=MAX_AGE_MINUTES);
    let max_age = t
        .required("max_age_minutes", minutes, present)
        .and_then(|m| m.checked_mul(60))
        .map(Duration::from_secs);
    Some(Rule::Freshness {
        table: table?,
        column: column?,
        max_age: max_age?,
    })
}
