//! `accepted_values`: the column holds only the listed values (or NULL).

use super::{KnownColumns, Rule, Severity, required_column, table};
use crate::config::read::Table;
use schemars::JsonSchema;
use serde::Deserialize;

/// The values go in as bindings, one each: a bound keeps the statement reasonable.
const MAX_VALUES: usize = 1000;

#[derive(Deserialize, JsonSchema, Debug)]
#[serde(deny_unknown_fields)]
pub struct AcceptedValuesFile {
    pub name: String,
    pub severity: Severity,
    pub table: String,
    pub column: String,
    #[schemars(length(min = 1, max = 1000))]
    pub values: Vec<String>,
}

pub(super) fn read(t: &mut Table<'_>, known: &KnownColumns) -> Option<Rule> {
    let table = table(t);
    let column = required_column(t, table.as_ref(), known);
    let present = t.has("values");
    let values = t.strs("values");
    let values = t.required("values", values, present).and_then(|v| {
        if v.is_empty() || v.len() > MAX_VALUES {
            t.ctx.problem(
                &t.at("values"),
                format!("name between 1 and {MAX_VALUES} values"),
            );
            return None;
        }
        Some(v.into_iter().map(|(_, s)| s.to_string()).collect())
    });
    Some(Rule::AcceptedValues {
        table: table?,
        column: column?,
        values: values?,
    })
}
