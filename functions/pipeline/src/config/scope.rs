//! What a run covers: the whole pipeline, or what depends on the Iceberg tables a manual start
//! names (`"tables": [..]`, `postetl start --tables`). Every step works it out the same way from
//! the run's `tables`, so the plan, the checks and the marts agree.
//!
//! The dependencies are read conservatively (when in doubt, it runs):
//! - a generated merge depends on its `source`; a merge from a SQL file on every named table its
//!   SQL mentions (by name, case-insensitively);
//! - a check on a table runs when a kept merge writes or mentions that table;
//! - a `custom_sql` rule and a mart run when a merge named in their `depends_on` is kept, or,
//!   without `depends_on`, when any merge is kept (their SQL may read anything).

use super::{Check, IcebergTable, Mart, Merge, MergeSpec, Pipeline, Rule};
use snowflake::ObjectName;

/// The parts of a pipeline one run covers.
#[derive(Debug)]
pub struct Scope<'a> {
    pub iceberg_tables: Vec<&'a IcebergTable>,
    pub merges: Vec<&'a Merge>,
    pub checks: Vec<&'a Check>,
    pub marts: Vec<&'a Mart>,
}

/// `LAKE.RAW.ORDERS` or `ORDERS` names the table, case-insensitively.
fn names(requested: &str, table: &ObjectName) -> bool {
    requested.eq_ignore_ascii_case(&table.plain())
        || requested.eq_ignore_ascii_case(table.name().as_str())
}

/// Whether SQL text mentions a table: its dotted name, or its quoted form.
fn mentions(sql: &str, table: &ObjectName) -> bool {
    let upper = sql.to_uppercase();
    upper.contains(&table.plain().to_uppercase())
        || upper.contains(&table.to_string().to_uppercase())
}

impl Pipeline {
    /// The scope of a run asked for `tables` (all of the pipeline when `None`); `Err` names a
    /// requested table the pipeline does not refresh.
    pub fn scope(&self, tables: Option<&[String]>) -> Result<Scope<'_>, String> {
        let Some(requested) = tables else {
            return Ok(Scope {
                iceberg_tables: self.iceberg_tables.iter().collect(),
                merges: self.merges.iter().collect(),
                checks: self.checks.iter().collect(),
                marts: self.marts.iter().collect(),
            });
        };
        if let Some(unknown) = requested
            .iter()
            .find(|r| !self.iceberg_tables.iter().any(|t| names(r, &t.table)))
        {
            return Err(unknown.clone());
        }
        let iceberg_tables: Vec<&IcebergTable> = self
            .iceberg_tables
            .iter()
            .filter(|t| requested.iter().any(|r| names(r, &t.table)))
            .collect();
        let merges: Vec<&Merge> = self
            .merges
            .iter()
            .filter(|m| match &m.how {
                MergeSpec::Generated { source, .. } => {
                    iceberg_tables.iter().any(|t| &t.table == source)
                }
                MergeSpec::Sql(sql) => iceberg_tables.iter().any(|t| mentions(sql, &t.table)),
            })
            .collect();
        let kept = |depends_on: &Option<Vec<String>>| match depends_on {
            Some(names) => merges.iter().any(|m| names.contains(&m.name)),
            None => !merges.is_empty(),
        };
        let touched = |table: &ObjectName| {
            merges.iter().any(|m| match &m.how {
                MergeSpec::Generated { target, .. } => target == table,
                MergeSpec::Sql(sql) => mentions(sql, table),
            })
        };
        let checks = self
            .checks
            .iter()
            .filter(|c| match &c.rule {
                Rule::RowCount { table, .. }
                | Rule::NotNull { table, .. }
                | Rule::Unique { table, .. }
                | Rule::AcceptedValues { table, .. }
                | Rule::Freshness { table, .. } => touched(table),
                Rule::CustomSql { depends_on, .. } => kept(depends_on),
            })
            .collect();
        let marts = self.marts.iter().filter(|m| kept(&m.depends_on)).collect();
        Ok(Scope {
            iceberg_tables,
            merges,
            checks,
            marts,
        })
    }
}
