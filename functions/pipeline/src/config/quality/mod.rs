//! `[[pipelines.<name>.checks]]`: data-quality rules. Each rule type lives in its own module
//! (what it looks like in the file, and how it is read); adding one is a new module, a variant in
//! `Rule` and `CheckFile`, and a line in `KINDS`, and the compiler then leads to every `match` on
//! `Rule` (dq-check measures and judges each rule exhaustively).

mod accepted_values;
mod custom_sql;
mod freshness;
mod not_null;
mod row_count;
mod unique;

use super::problem::At;
use super::read::Table;
use super::validate::Ctx;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use snowflake::{Identifier, ObjectName};
use std::collections::{HashMap, HashSet};
use std::time::Duration;

pub use accepted_values::AcceptedValuesFile;
pub use custom_sql::CustomSqlFile;
pub use freshness::FreshnessFile;
pub use not_null::NotNullFile;
pub use row_count::RowCountFile;
pub use unique::UniqueFile;

/// At most this many checks per pipeline (one statement each, in one Lambda invocation).
pub const MAX_CHECKS: usize = 500;

#[derive(Deserialize, Serialize, JsonSchema, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Records the failure and carries on.
    Warn,
    /// Stops the run before the marts.
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warn => "warn",
            Severity::Error => "error",
        }
    }
}

/// One check as written, by kind.
#[derive(Deserialize, JsonSchema, Debug)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CheckFile {
    RowCount(RowCountFile),
    NotNull(NotNullFile),
    Unique(UniqueFile),
    AcceptedValues(AcceptedValuesFile),
    Freshness(FreshnessFile),
    CustomSql(CustomSqlFile),
}

#[derive(Debug)]
pub struct Check {
    pub name: String,
    pub severity: Severity,
    pub rule: Rule,
}

#[derive(Debug)]
pub enum Rule {
    RowCount {
        table: ObjectName,
        min: Option<u64>,
        max: Option<u64>,
    },
    NotNull {
        table: ObjectName,
        column: Identifier,
    },
    Unique {
        table: ObjectName,
        columns: Vec<Identifier>,
    },
    AcceptedValues {
        table: ObjectName,
        column: Identifier,
        values: Vec<String>,
    },
    Freshness {
        table: ObjectName,
        column: Identifier,
        max_age: Duration,
    },
    /// `sql` is one query returning the failing rows, as written (validate checks that it parses
    /// back unchanged inside the wrapper); dq-check counts it with
    /// [`count_failing_rows`](super::count_failing_rows).
    CustomSql {
        sql: String,
        /// Merge names (see [`super::Scope`]); `None`: whenever any merge runs.
        depends_on: Option<Vec<String>>,
    },
}

/// The columns of generated merge targets: checks on those tables must name real columns.
pub(crate) type KnownColumns = HashMap<ObjectName, HashSet<Identifier>>;

type Reader = fn(&mut Table<'_>, &KnownColumns) -> Option<Rule>;

/// Every rule type by its `kind`.
const KINDS: [(&str, Reader); 6] = [
    ("row_count", row_count::read),
    ("not_null", not_null::read),
    ("unique", unique::read),
    ("accepted_values", accepted_values::read),
    ("freshness", freshness::read),
    ("custom_sql", custom_sql::read),
];

pub(crate) fn read(mut t: Table<'_>, known: &KnownColumns) -> Option<Check> {
    let name = t.req_str("name");
    let severity = t.choice(
        "severity",
        &[("warn", Severity::Warn), ("error", Severity::Error)],
    );
    let rule = t
        .choice("kind", &KINDS)
        .and_then(|read| read(&mut t, known));
    t.finish();
    Some(Check {
        name: name?.to_string(),
        severity: severity?,
        rule: rule?,
    })
}

/// The table a rule checks.
fn table(t: &mut Table<'_>) -> Option<ObjectName> {
    let at = t.at("table");
    t.req_str("table").and_then(|n| t.ctx.object(&at, n))
}

/// A column of `table`; when the table is a generated merge's target, one of its columns.
fn column(
    ctx: &Ctx,
    at: &At,
    name: &str,
    table: Option<&ObjectName>,
    known: &KnownColumns,
) -> Option<Identifier> {
    let id = ctx.ident(at, name)?;
    if let Some(columns) = table.and_then(|t| known.get(t))
        && !columns.contains(&id)
    {
        ctx.problem(
            at,
            format!("{} is not a column of the merge target", id.as_str()),
        );
        return None;
    }
    Some(id)
}

/// A required single column.
fn required_column(
    t: &mut Table<'_>,
    table: Option<&ObjectName>,
    known: &KnownColumns,
) -> Option<Identifier> {
    let at = t.at("column");
    t.req_str("column")
        .and_then(|n| column(t.ctx, &at, n, table, known))
}

#[cfg(test)]
mod tests {
    /// Every kind the schema knows is one `KINDS` reads, and the other way round.
    #[test]
    fn kinds_match_the_schema() {
        let schema = serde_json::to_string(&schemars::schema_for!(super::CheckFile)).unwrap();
        for (kind, _) in super::KINDS {
            assert!(
                schema.contains(&format!("\"const\":\"{kind}\"")),
                "{kind} in {schema}"
            );
        }
        assert_eq!(
            schema.matches("\"kind\":{").count(),
            super::KINDS.len(),
            "{schema}"
        );
    }
}
