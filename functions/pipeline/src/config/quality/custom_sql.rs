//! `custom_sql`: a query returning the failing rows; the rule passes when it returns none.

use super::{KnownColumns, Rule, Severity};
use crate::config::read::Table;
use crate::config::sql::failing_rows_query;
use schemars::JsonSchema;
use serde::Deserialize;

#[derive(Deserialize, JsonSchema, Debug)]
#[serde(deny_unknown_fields)]
pub struct CustomSqlFile {
    pub name: String,
    pub severity: Severity,
    /// One query (SELECT or WITH) returning the failing rows; or give `sql_file`.
    pub sql: Option<String>,
    /// A file (relative to this config file) holding that query.
    pub sql_file: Option<String>,
    /// The merges whose targets the query reads: in a change-aware run the rule runs only when one
    /// of them runs. Absent, it runs whenever any merge does.
    pub depends_on: Option<Vec<String>>,
}

pub(super) fn read(t: &mut Table<'_>, _: &KnownColumns) -> Option<Rule> {
    let ctx = t.ctx;
    let (sql_at, file_at) = (t.at("sql"), t.at("sql_file"));
    let sql = match (t.str("sql"), t.str("sql_file")) {
        (Some(sql), None) => Some((sql_at, sql.to_string())),
        (None, Some(file)) => ctx.sql_file(&file_at, file).map(|sql| (file_at, sql)),
        _ => {
            if t.has("sql") == t.has("sql_file") {
                ctx.problem(&t.at, "custom_sql needs exactly one of sql and sql_file");
            }
            None
        }
    };
    let depends_on = t
        .strs("depends_on")
        .map(|names| names.into_iter().map(|(_, n)| n.to_string()).collect());
    let (at, sql) = sql?;
    failing_rows_query(ctx, &at, &sql).map(|sql| Rule::CustomSql { sql, depends_on })
}
