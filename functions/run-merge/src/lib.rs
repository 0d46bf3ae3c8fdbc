//! Runs one MERGE of a run: from its SQL file, or generated from source, target, keys, columns and
//! an optional version column. A MERGE that outlives the invocation is handed back as a handle,
//! and the next invocation (the state machine's Wait + Choice loop) resumes it.
//!
//! A generated MERGE always de-duplicates its source on the keys, because Snowflake fails a MERGE
//! whose source has two rows for one target row (ERROR_ON_NONDETERMINISTIC_MERGE is TRUE by
//! default) and inserts both when the key is new. The row kept per key is the one with the largest
//! version, NULL versions last; ties (equal versions, or no version column) go to the largest value
//! of the other columns in config order, NULLs last, so the pick does not depend on scan order.
//! A NULL version never overwrites a non-NULL one: Snowflake sorts NULL as the largest value
//! (DEFAULT_NULL_ORDERING = LAST, so `DESC` alone would put it first), hence the explicit `NULLS
//! LAST`, and the update guard `s.v > t.v` is not true for a NULL `s.v`.
//!
//! With `on_schema_change = "append_new_columns"` or `"sync_all_columns"`, a generated MERGE also
//! writes every other column its source and target share (the refresh step has added the new
//! ones to the target), read with `DESC TABLE` when the MERGE starts.
//!
//! A merge from a SQL file is the author's: it runs as written. When its `USING` source is not
//! visibly de-duplicated (`QUALIFY`, `DISTINCT` or `GROUP BY` in a subquery), a warning is logged and
//! put at the top of the dry-run SQL ([`file_merge_warning`]).

use lambda_runtime::LambdaEvent;
use pipeline::config::{MergeSpec, OnSchemaChange};
use pipeline::ledger::{self, Entry};
use pipeline::steps::{Item, MergeResult, Status};
use pipeline::{Env, Step, StepError};
use snowflake::{Identifier, ObjectName, Outcome, ResultSet};

pub async fn handle(env: &Env, event: LambdaEvent<Item>) -> Result<MergeResult, StepError> {
    let item = event.payload;
    let step = env.step(
        &item.run,
        pipeline::StepId::RunMerge,
        event.context.deadline(),
    )?;
    let result = run(&step, &item).await;
    step.finish(&item.item, result, |r| {
        let status = match (r.status, &r.dry_run_sql) {
            (Status::Running, _) => ledger::Status::Running,
            (Status::Done, Some(_)) => ledger::Status::Skipped,
            (Status::Done, None) => ledger::Status::Done,
        };
        let mut entry = Entry::new(&r.merge, status);
        entry.rows = Some([r.rows_inserted, r.rows_updated, r.rows_deleted]);
        vec![entry]
    })
    .await
}

async fn run(step: &Step<'_>, item: &Item) -> Result<MergeResult, StepError> {
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
        from_earlier_run: false,
    };
    let outcome = match &item.handle {
        Some(handle) => step.resume(handle).await?,
        None => {
            let sql = match shared_columns(step, &merge.name, &merge.how).await? {
                Some(columns) => with_columns(&merge.how, columns),
                None => merge_sql(&merge.how),
            };
            let warning = match &merge.how {
                MergeSpec::Sql(text) => file_merge_warning(text),
                MergeSpec::Generated { .. } => None,
            };
            if let Some(w) = &warning {
                tracing::warn!(merge = %merge.name, "{w}");
            }
            match step
                .change(&step.statement(sql.clone(), &merge.name, 0))
                .await?
            {
                Some(outcome) => outcome,
                None => {
                    result.dry_run_sql = Some(match warning {
                        Some(w) => format!("-- postetl warning: {w}\n{sql}"),
                        None => sql,
                    });
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
            result.from_earlier_run = step.from_earlier_run();
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

/// The SQL a merge runs with its configured columns.
pub fn merge_sql(how: &MergeSpec) -> String {
    with_columns(how, Vec::new())
}

/// The SQL of a merge that also writes `more` columns (a SQL file's is as written).
fn with_columns(how: &MergeSpec, more: Vec<Identifier>) -> String {
    match how {
        MergeSpec::Sql(sql) => sql.trim().trim_end_matches(';').to_string(),
        MergeSpec::Generated {
            target,
            source,
            keys,
            columns,
            version_column,
            ..
        } => {
            let columns: Vec<Identifier> = columns.iter().cloned().chain(more).collect();
            generated(target, source, keys, &columns, version_column.as_ref())
        }
    }
}

/// For a generated merge that follows new columns: the columns its source and target share beyond
/// the configured ones, in the target's order. `None` for every other merge.
async fn shared_columns(
    step: &Step<'_>,
    name: &str,
    how: &MergeSpec,
) -> Result<Option<Vec<Identifier>>, StepError> {
    let MergeSpec::Generated {
        target,
        source,
        on_schema_change: OnSchemaChange::AppendNewColumns | OnSchemaChange::SyncAllColumns,
        ..
    } = how
    else {
        return Ok(None);
    };
    let upstream = pipeline::schema::describe(step, source, name).await?;
    let current = pipeline::schema::describe(step, target, name).await?;
    let configured = how.configured_columns();
    Ok(Some(
        current
            .into_iter()
            .map(|c| c.name)
            .filter(|c| !configured.contains(&c) && upstream.iter().any(|u| u.name == *c))
            .collect(),
    ))
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
    // De-duplicate the source on the keys (see the module docs for the order and why NULLS LAST).
    let order = version
        .into_iter()
        .chain(columns)
        .map(|c| format!("{c} DESC NULLS LAST"))
        .collect::<Vec<_>>();
    // Keys only: the rows of a partition are equal on every selected column, any order will do.
    let order = if order.is_empty() {
        key_list.clone()
    } else {
        order.join(", ")
    };
    let source_rows = format!(
        "SELECT {select} FROM {source} QUALIFY ROW_NUMBER() OVER (PARTITION BY {key_list} ORDER BY {order}) = 1"
    );
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

/// Why a SQL-file MERGE may fail or insert twice on duplicated source keys, if its `USING` source is
/// not visibly de-duplicated: a bare table, or a subquery without `QUALIFY`, `DISTINCT` or
/// `GROUP BY`. A cheap textual check (no SQL parser): it can miss a de-duplication hidden in a view.
pub fn file_merge_warning(sql: &str) -> Option<String> {
    let upper = strip_comments(sql)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_ascii_uppercase();
    if !upper
        .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .any(|w| w == "MERGE")
    {
        return None;
    }
    let using = upper.find("USING")?;
    let rest = upper[using + "USING".len()..].trim_start();
    // The subquery up to its matching parenthesis (a JOIN .. ON inside it is not the MERGE's ON).
    let mut depth = 0usize;
    let mut end = None;
    for (i, c) in rest.char_indices() {
        match c {
            '(' => depth += 1,
            ')' if depth > 0 => {
                depth -= 1;
                if depth == 0 {
                    end = Some(i);
                    break;
                }
            }
            _ if depth == 0 => break,
            _ => {}
        }
    }
    let deduplicated = end.is_some_and(|end| {
        let source = &rest[..end];
        ["QUALIFY", "DISTINCT", "GROUP BY"]
            .iter()
            .any(|w| source.contains(w))
    });
    (!deduplicated).then(|| {
        "the MERGE source is not de-duplicated on the ON keys (no QUALIFY, DISTINCT or GROUP BY in a \
         USING subquery): a duplicated key fails the MERGE when it matches a target row \
         (ERROR_ON_NONDETERMINISTIC_MERGE) and is inserted twice when it does not"
            .to_string()
    })
}

/// The SQL without `--` and `/* */` comments (string literals are kept as they are).
fn strip_comments(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                quoted = !quoted;
                out.push(c);
            }
            '-' if !quoted && chars.peek() == Some(&'-') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            '/' if !quoted && chars.peek() == Some(&'*') => {
                chars.next();
                let mut last = ' ';
                for c in chars.by_ref() {
                    if last == '*' && c == '/' {
                        break;
                    }
                    last = c;
                }
                out.push(' ');
            }
            _ => out.push(c),
        }
    }
    out
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
             FROM \"RAW\".\"ORDERS\" QUALIFY ROW_NUMBER() OVER (PARTITION BY \"ORDER_ID\" ORDER BY \"UPDATED_AT\" DESC NULLS LAST, \
             \"STATUS\" DESC NULLS LAST, \"AMOUNT\" DESC NULLS LAST) = 1) AS s \
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
        // Without a version column the source is still de-duplicated, ties broken by the columns.
        assert!(
            plain.contains("USING (SELECT \"K\", \"V\" FROM \"S\" QUALIFY ROW_NUMBER() OVER (PARTITION BY \"K\" ORDER BY \"V\" DESC NULLS LAST) = 1)"),
            "{plain}"
        );
        let keys_only = generated(
            &ObjectName::parse("t").unwrap(),
            &ObjectName::parse("s").unwrap(),
            &[id("k")],
            &[],
            None,
        );
        assert!(!keys_only.contains("WHEN MATCHED"), "{keys_only}");
        assert!(
            keys_only.contains("QUALIFY ROW_NUMBER() OVER (PARTITION BY \"K\" ORDER BY \"K\") = 1"),
            "{keys_only}"
        );
    }

    #[test]
    fn file_merges_without_deduplication_are_flagged() {
        let flagged = [
            "MERGE INTO t USING s ON t.k = s.k WHEN MATCHED THEN UPDATE SET v = s.v",
            "merge into t using (select * from s) x on t.k = x.k when not matched then insert (k) values (x.k)",
            // The JOIN's ON inside the subquery is not the MERGE's, and a commented QUALIFY does not count.
            "MERGE INTO t USING (SELECT a.k FROM a JOIN b ON a.k = b.k -- QUALIFY\n) s ON t.k = s.k \
             WHEN NOT MATCHED THEN INSERT (k) VALUES (s.k)",
        ];
        for sql in flagged {
            assert!(file_merge_warning(sql).is_some(), "{sql}");
        }
        let fine = [
            "MERGE INTO t USING (SELECT * FROM s QUALIFY ROW_NUMBER() OVER (PARTITION BY k ORDER BY v DESC NULLS LAST) = 1) s \
             ON t.k = s.k WHEN MATCHED THEN UPDATE SET v = s.v",
            "MERGE INTO t USING (SELECT DISTINCT k FROM s) s ON t.k = s.k WHEN NOT MATCHED THEN INSERT (k) VALUES (s.k)",
            "MERGE INTO t USING (SELECT k, MAX(v) v FROM s GROUP\n BY k) s ON t.k = s.k WHEN MATCHED THEN UPDATE SET v = s.v",
            "INSERT INTO t SELECT * FROM s",
        ];
        for sql in fine {
            assert!(file_merge_warning(sql).is_none(), "{sql}");
        }
    }
}
