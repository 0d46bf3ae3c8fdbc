//! `not_null`: no row has the column NULL.

use super::{KnownColumns, Rule, Severity, required_column, table};
use crate::config::read::Table;
use schemars::JsonSchema;
use serde::Deserialize;

#[derive(Deserialize, JsonSchema, Debug)]
#[serde(deny_unknown_fields)]
pub struct NotNullFile {
    pub name: String,
    pub severity: Severity,
    pub table: String,
    pub column: String,
}

pub(super) fn read(t: &mut Table<'_>, known: &KnownColumns) -> Option<Rule> {
    let table = table(t);
    let column = required_column(t, table.as_ref(), known);
    Some(Rule::NotNull {
        table: table?,
        column: column?,
    })
}
