//! `row_count`: the table's row count within bounds.

use super::{KnownColumns, Rule, Severity, table};
use crate::config::read::Table;
use schemars::JsonSchema;
use serde::Deserialize;

#[derive(Deserialize, JsonSchema, Debug)]
#[serde(deny_unknown_fields)]
pub struct RowCountFile {
    pub name: String,
    pub severity: Severity,
    pub table: String,
    /// At least this many rows (give min, max or both).
    pub min: Option<u64>,
    /// At most this many rows.
    pub max: Option<u64>,
}

pub(super) fn read(t: &mut Table<'_>, _: &KnownColumns) -> Option<Rule> {
    let table = table(t);
    let min = t.int("min", 0..=i64::MAX as u64);
    let max = t.int("max", 0..=i64::MAX as u64);
    if !t.has("min") && !t.has("max") {
        t.ctx.problem(&t.at, "row_count needs min, max or both");
    }
    if let (Some(min), Some(max)) = (min, max)
        && min > max
    {
        t.ctx.problem(&t.at("min"), "min is above max");
    }
    Some(Rule::RowCount {
        table: table?,
        min,
        max,
    })
}
