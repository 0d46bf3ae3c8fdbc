//! Runs one MERGE of a run: from its SQL file, or generated from source, target, keys, columns and
//! an optional version column. A MERGE that outlives the invocation is handed back as a handle,
//! and the next invocation (the state machine's Wait + Choice loop) resumes it.

use lambda_runtime::LambdaEvent;
use pipeline::config::MergeSpec;
use pipeline::steps::{Item, MergeResult, Status};
use pipeline::{Env, StepError};
use snowflake::{Identifier, ObjectName, Outcome, ResultSet};

pub async fn handle(env: &Env, event: LambdaEvent<Item>) -> Result<MergeResult, StepError> {
    let item = event.payload;
    let step = env.step(&item.run, "run-merge", event.context.deadline())?;
    let merge = step
        .pipeline
        .merges
        .iter()
        .find(|m| m.name == item.item)
        .ok_or_else(|| StepError::UnknownItem {
            pipeline: item.run.pipeline.clone(),
            kind: "merge",
            name: item.item.clone(),
        })?;
    let mut result = MergeResult {
        merge: merge.name.clone(),
        status: Status::Done,
        resume: None,
        rows_inserted: 0,
        rows_updated: 0,
        rows_deleted: 0,
        dry_run_sql: None,
    };
    let outcome = match &item.handle {
        Some(handle) => step.resume(handle).await?,
        None => {
            let sql = merge_sql(&merge.how);
            match step
                .change(&step.statement(sql.clone(), &merge.name, 0))
                .await?
            {
                Some(outcome) => outcome,
                None => {
                    result.dry_run_sql = Some(sql);
                    return Ok(result);
                }
            }
        }
    };
    match outcome {
        Outcome::Done(rows) => {
            (
                result.rows_inserted,
                result.rows_updated,
                result.rows_deleted,
            ) = counts(&rows);
            tracing::info!(merge = %merge.name, inserted = result.rows_inserted, updated = result.rows_updated, deleted = result.rows_deleted, "merged");
        }
        Outcome::Running { handle } => {
            tracing::info!(merge = %merge.name, %handle, "still running; handing back");
            result.status = Status::Running;
            result.resume = Some(Item {
                handle: Some(handle),
                ..item.clone()
            });
        }
    }
    Ok(result)
}

/// The SQL a merge runs.
pub fn merge_sql(how: &MergeSpec) -> String {
    match how {
        MergeSpec::Sql(sql) => sql.trim().trim_end_matches(';').to_string(),
        MergeSpec::Generated {
            target,
            source,
            keys,
            columns,
            version_column,
        } => generated(target, source, keys, columns, version_column.as_ref()),
    }
}

fn generated(
    target: &ObjectName,
    source: &ObjectName,
    keys: &[Identifier],
    columns: &[Identifier],
    version: Option<&Identifier>,
) -> String {
    let list = |ids: &mut dyn Iterator<Item = &Identifier>,
                f: &dyn Fn(&Identifier) -> String,
                sep: &str| { ids.map(f).collect::<Vec<_>>().join(sep) };
    let all: Vec<&Identifier> = keys.iter().chain(columns).chain(version).collect();
    let select = list(&mut all.iter().copied(), &|c| c.to_string(), ", ");
    let key_list = list(&mut keys.iter(), &|c| c.to_string(), ", ");
    // De-duplicate the source on the keys: the newest version of each row wins.
    let source_rows = match version {
        Some(v) => format!(
            "SELECT {select} FROM {source} QUALIFY ROW_NUMBER() OVER (PARTITION BY {key_list} ORDER BY {v} DESC) = 1"
        ),
        None => format!("SELECT {select} FROM {source}"),
    };
    let on = list(&mut keys.iter(), &|k| format!("t.{k} = s.{k}"), " AND ");
    let updated: Vec<&Identifier> = columns.iter().chain(version).collect();
    // Update only rows that changed (fewer rewritten micro-partitions), and never with an older version.
    let changed = list(
        &mut updated.iter().copied(),
        &|c| format!("t.{c} IS DISTINCT FROM s.{c}"),
        " OR ",
    );
    let condition = match version {
        Some(v) => format!("(t.{v} IS NULL OR s.{v} > t.{v})"),
        None => format!("({changed})"),
    };
    let set = list(
        &mut updated.iter().copied(),
        &|c| format!("{c} = s.{c}"),
        ", ",
    );
    let insert_values = list(&mut all.iter().copied(), &|c| format!("s.{c}"), ", ");
    let mut sql = format!("MERGE INTO {target} AS t USING ({source_rows}) AS s ON {on}");
    if !updated.is_empty() {
        sql.push_str(&format!(
            " WHEN MATCHED AND {condition} THEN UPDATE SET {set}"
        ));
    }
    sql.push_str(&format!(
        " WHEN NOT MATCHED THEN INSERT ({select}) VALUES ({insert_values})"
    ));
    sql
}

/// Rows inserted, updated and deleted: Snowflake's MERGE answers one row with a column per action
/// it contains; `stats` carries the same where present.
fn counts(rows: &ResultSet) -> (u64, u64, u64) {
    let column = |name: &str| -> u64 {
        rows.column(name)
            .ok()
            .and_then(|i| rows.row(0)?.get_i64(i).ok().flatten())
            .map_or(0, |n| n.max(0) as u64)
    };
    let s = rows.stats;
    (
        s.num_rows_inserted.max(column("number of rows inserted")),
        s.num_rows_updated.max(column("number of rows updated")),
        s.num_rows_deleted.max(column("number of rows deleted")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_merge_deduplicates_and_guards_versions() {
        let id = |s: &str| Identifier::new(s).unwrap();
        let sql = generated(
            &ObjectName::parse("core.orders").unwrap(),
            &ObjectName::parse("raw.orders").unwrap(),
            &[id("order_id")],
            &[id("status"), id("amount")],
            Some(&id("updated_at")),
        );
        assert_eq!(
            sql,
            "MERGE INTO \"CORE\".\"ORDERS\" AS t USING (SELECT \"ORDER_ID\", \"STATUS\", \"AMOUNT\", \"UPDATED_AT\" \
             FROM \"RAW\".\"ORDERS\" QUALIFY ROW_NUMBER() OVER (PARTITION BY \"ORDER_ID\" ORDER BY \"UPDATED_AT\" DESC) = 1) AS s \
             ON t.\"ORDER_ID\" = s.\"ORDER_ID\" WHEN MATCHED AND (t.\"UPDATED_AT\" IS NULL OR s.\"UPDATED_AT\" > t.\"UPDATED_AT\") \
             THEN UPDATE SET \"STATUS\" = s.\"STATUS\", \"AMOUNT\" = s.\"AMOUNT\", \"UPDATED_AT\" = s.\"UPDATED_AT\" \
             WHEN NOT MATCHED THEN INSERT (\"ORDER_ID\", \"STATUS\", \"AMOUNT\", \"UPDATED_AT\") \
             VALUES (s.\"ORDER_ID\", s.\"STATUS\", s.\"AMOUNT\", s.\"UPDATED_AT\")"
        );
        let plain = generated(
            &ObjectName::parse("t").unwrap(),
            &ObjectName::parse("s").unwrap(),
            &[id("k")],
            &[id("v")],
            None,
        );
        assert!(plain.contains("WHEN MATCHED AND (t.\"V\" IS DISTINCT FROM s.\"V\") THEN UPDATE SET \"V\" = s.\"V\""), "{plain}");
        let keys_only = generated(
            &ObjectName::parse("t").unwrap(),
            &ObjectName::parse("s").unwrap(),
            &[id("k")],
            &[],
            None,
        );
        assert!(!keys_only.contains("WHEN MATCHED"), "{keys_only}");
    }
}
