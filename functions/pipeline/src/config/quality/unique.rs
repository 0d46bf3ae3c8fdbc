//! `unique`: no two rows share the key columns.

use super::{KnownColumns, Rule, Severity, column, table};
use crate::config::read::Table;
use schemars::JsonSchema;
use serde::Deserialize;

#[derive(Deserialize, JsonSchema, Debug)]
#[serde(deny_unknown_fields)]
pub struct UniqueFile {
    pub name: String,
    pub severity: Severity,
    pub table: String,
    /// The key columns.
    #[schemars(length(min = 1))]
    pub columns: Vec<String>,
}

pub(super) fn read(t: &mut Table<'_>, known: &KnownColumns) -> Option<Rule> {
    let table = table(t);
    let present = t.has("columns");
    let names = t.strs("columns");
    let names = t.required("columns", names, present)?;
    let ctx = t.ctx;
    // Distinct and valid first, then each must be a column of a known target.
    let ids = ctx.idents(&t.at("columns"), &names)?;
    let mut ok = true;
    for ((at, name), _) in names.iter().zip(&ids) {
        ok &= column(ctx, at, name, table.as_ref(), known).is_some();
    }
    ok.then_some(())?;
    Some(Rule::Unique {
        table: table?,
        columns: ids,
    })
}
