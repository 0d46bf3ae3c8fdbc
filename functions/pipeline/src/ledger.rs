//! The run ledger: one row per run and per step item in `settings.ledger_table`, written by the
//! steps themselves, so "what did last night's run do" is one SQL query away.
//!
//! Rows are keyed by (EXECUTION, STEP, ITEM) and written with MERGE: a retried invocation, or the
//! next go round a poll loop, updates its row and never adds a second; the first start stays.
//! The run's own row has STEP = 'run' and ITEM = '' (written by the warehouse step when it puts
//! the warehouse back, with the warehouse seconds this run caused).
//!
//! Writing is best effort and bounded: the ledger records the run, it never decides it. A step
//! whose ledger write fails logs a warning and answers as it would have. Dry runs write nothing.

use crate::steps::Run;
use snowflake::{Binding, ObjectName};
use std::fmt::Write as _;
use std::time::SystemTime;

/// The ledger's columns, in order, with their Snowflake types.
pub const COLUMNS: &[(&str, &str)] = &[
    ("EXECUTION", "VARCHAR"),
    ("STEP", "VARCHAR"),
    ("ITEM", "VARCHAR"),
    ("PIPELINE", "VARCHAR"),
    ("RUN_KEY", "VARCHAR"),
    ("GLUE_JOB", "VARCHAR"),
    ("GLUE_RUN_ID", "VARCHAR"),
    ("STATUS", "VARCHAR"),
    ("STARTED_AT", "TIMESTAMP_NTZ"),
    ("ENDED_AT", "TIMESTAMP_NTZ"),
    ("STATEMENT_HANDLES", "VARCHAR"),
    ("REQUEST_IDS", "VARCHAR"),
    ("ROWS_INSERTED", "NUMBER"),
    ("ROWS_UPDATED", "NUMBER"),
    ("ROWS_DELETED", "NUMBER"),
    ("DQ_OUTCOME", "VARCHAR"),
    ("DQ_OBSERVED", "NUMBER"),
    ("ERROR", "VARCHAR"),
    ("WAREHOUSE_SECONDS", "NUMBER(12,3)"),
    ("METADATA_LOCATION", "VARCHAR"),
    ("FROM_EARLIER_RUN", "BOOLEAN"),
    ("DETAIL", "VARCHAR"),
    ("RECORDED_AT", "TIMESTAMP_NTZ"),
];

/// How an item ended (or stands, while a statement is still running).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Running,
    Done,
    Skipped,
    Failed,
    /// A merge's source and target columns differed: what was found and done (DETAIL).
    Drift,
    /// The run row: what the whole run came to.
    Succeeded,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Running => "running",
            Status::Done => "done",
            Status::Skipped => "skipped",
            Status::Failed => "failed",
            Status::Drift => "drift",
            Status::Succeeded => "succeeded",
        }
    }
}

/// One row a step writes about one of its items.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub item: String,
    /// When the item started, if earlier than this invocation (the run row: the execution's start).
    pub started: Option<SystemTime>,
    pub status: Status,
    /// Inserted, updated, deleted.
    pub rows: Option<[u64; 3]>,
    pub dq_outcome: Option<&'static str>,
    pub dq_observed: Option<i64>,
    pub error: Option<String>,
    pub warehouse_seconds: Option<f64>,
    pub metadata_location: Option<String>,
    pub detail: Option<String>,
}

impl Entry {
    pub fn new(item: impl Into<String>, status: Status) -> Self {
        Self {
            item: item.into(),
            started: None,
            status,
            rows: None,
            dq_outcome: None,
            dq_observed: None,
            error: None,
            warehouse_seconds: None,
            metadata_location: None,
            detail: None,
        }
    }
}

/// What one invocation of a step sent: request ids, statement handles, and whether Snowflake
/// answered from an earlier request with the same id (see [`crate::Step`]).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Sent {
    pub request_ids: Vec<String>,
    pub handles: Vec<String>,
    pub from_earlier_run: bool,
}

/// The Glue job and job run id of a run started by a Glue event (run key `glue:<job>:<run id>`).
pub fn glue_of(run: &Run) -> Option<(&str, &str)> {
    run.run_key.strip_prefix("glue:")?.rsplit_once(':')
}

/// The statements that make the ledger if it is missing.
pub fn create_sql(table: &ObjectName) -> Vec<String> {
    let parts = table.parts();
    let columns: Vec<String> = COLUMNS.iter().map(|(n, t)| format!("{n} {t}")).collect();
    vec![
        format!("CREATE SCHEMA IF NOT EXISTS {}.{}", parts[0], parts[1]),
        format!(
            "CREATE TABLE IF NOT EXISTS {table} ({})",
            columns.join(", ")
        ),
    ]
}

fn timestamp(t: SystemTime) -> String {
    let t: chrono::DateTime<chrono::Utc> = t.into();
    format!("'{}'::TIMESTAMP_NTZ", t.format("%Y-%m-%d %H:%M:%S%.3f"))
}

/// A text value as a binding (`?`): step errors and SQL carry quotes, backslashes and newlines.
fn text(value: Option<&str>, bindings: &mut Vec<Binding>) -> String {
    bindings.push(value.map_or(Binding::null("TEXT"), Binding::text));
    "CAST(? AS VARCHAR)".into()
}

fn number(value: Option<impl ToString>) -> String {
    value.map_or("CAST(NULL AS NUMBER)".into(), |v| {
        format!("CAST({} AS NUMBER)", v.to_string())
    })
}

/// One MERGE writing `entries` for one invocation of `step` in `run`, which started at `started`:
/// the statement and its bindings.
pub fn merge_statement(
    table: &ObjectName,
    run: &Run,
    step: &str,
    started: SystemTime,
    sent: &Sent,
    entries: &[Entry],
) -> (String, Vec<Binding>) {
    let now = SystemTime::now();
    let (glue_job, glue_run) = glue_of(run).unzip();
    let mut bindings = Vec::new();
    let mut rows = Vec::new();
    for e in entries {
        let b = &mut bindings;
        let ended = (e.status != Status::Running).then_some(now);
        let [ins, upd, del] = e.rows.map_or([None; 3], |r| r.map(Some));
        let values = [
            text(Some(&run.execution), b),
            text(Some(step), b),
            text(Some(&e.item), b),
            text(Some(&run.pipeline), b),
            text(Some(&run.run_key), b),
            text(glue_job, b),
            text(glue_run, b),
            text(Some(e.status.as_str()), b),
            timestamp(e.started.unwrap_or(started)),
            ended.map_or("CAST(NULL AS TIMESTAMP_NTZ)".into(), timestamp),
            text(Some(&sent.handles.join(",")), b),
            text(Some(&sent.request_ids.join(",")), b),
            number(ins),
            number(upd),
            number(del),
            text(e.dq_outcome, b),
            number(e.dq_observed),
            text(e.error.as_deref(), b),
            e.warehouse_seconds
                .map_or("CAST(NULL AS NUMBER(12,3))".into(), |s| {
                    format!("CAST({s:.3} AS NUMBER(12,3))")
                }),
            text(e.metadata_location.as_deref(), b),
            if sent.from_earlier_run {
                "TRUE"
            } else {
                "FALSE"
            }
            .into(),
            text(e.detail.as_deref(), b),
            timestamp(now),
        ];
        let mut select = String::from("SELECT ");
        for (i, (value, (name, _))) in values.iter().zip(COLUMNS).enumerate() {
            if i > 0 {
                select.push_str(", ");
            }
            let _ = write!(select, "{value} AS {name}");
        }
        rows.push(select);
    }
    let names: Vec<&str> = COLUMNS.iter().map(|(n, _)| *n).collect();
    // The key columns are never updated; the first start of an item stays.
    let set: Vec<String> = names[3..]
        .iter()
        .map(|n| match *n {
            "STARTED_AT" => format!("{n} = COALESCE(t.{n}, s.{n})"),
            _ => format!("{n} = s.{n}"),
        })
        .collect();
    let sql = format!(
        "MERGE INTO {table} AS t USING ({}) AS s \
         ON t.EXECUTION = s.EXECUTION AND t.STEP = s.STEP AND t.ITEM = s.ITEM \
         WHEN MATCHED THEN UPDATE SET {} \
         WHEN NOT MATCHED THEN INSERT ({}) VALUES ({})",
        rows.join(" UNION ALL "),
        set.join(", "),
        names.join(", "),
        names
            .iter()
            .map(|n| format!("s.{n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    (sql, bindings)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run() -> Run {
        Run {
            pipeline: "orders".into(),
            run_key: "glue:orders:to:iceberg:jr_1".into(),
            execution: "arn:aws:states:us-east-1:1:execution:post-etl:x".into(),
            dry_run: false,
            tables: None,
        }
    }

    #[test]
    fn glue_job_and_run_id_come_from_the_run_key() {
        assert_eq!(glue_of(&run()), Some(("orders:to:iceberg", "jr_1")));
        let manual = Run {
            run_key: "manual:x".into(),
            ..run()
        };
        assert_eq!(glue_of(&manual), None);
    }

    #[test]
    fn one_merge_keyed_by_execution_step_and_item_with_text_bound() {
        let table = ObjectName::parse("A.B.LEDGER").unwrap();
        let mut e = Entry::new("it's", Status::Failed);
        e.rows = Some([1, 2, 3]);
        e.detail = Some("line one\nC:\\path 'quoted'".into());
        let sent = Sent {
            request_ids: vec!["r1".into()],
            handles: vec!["h1".into()],
            from_earlier_run: true,
        };
        let (sql, bindings) =
            merge_statement(&table, &run(), "run-merge", SystemTime::now(), &sent, &[e]);
        assert!(
            sql.starts_with("MERGE INTO \"A\".\"B\".\"LEDGER\" AS t USING (SELECT "),
            "{sql}"
        );
        assert!(sql.contains("CAST(? AS VARCHAR) AS ITEM"), "{sql}");
        assert!(sql.contains("CAST(2 AS NUMBER) AS ROWS_UPDATED"), "{sql}");
        assert!(sql.contains("TRUE AS FROM_EARLIER_RUN"), "{sql}");
        assert!(
            sql.contains("STARTED_AT = COALESCE(t.STARTED_AT, s.STARTED_AT)"),
            "{sql}"
        );
        assert!(
            !sql.contains("SET EXECUTION ="),
            "the key is not updated: {sql}"
        );
        assert!(
            !sql.contains("it's") && !sql.contains("line one"),
            "values are bound: {sql}"
        );
        assert_eq!(bindings.len(), sql.matches('?').count());
    }
}
