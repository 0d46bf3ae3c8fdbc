//! Runs the pipeline's data-quality rules, writes one audit row per rule and run, and tells the
//! state machine whether to stop before the marts (an `error` rule failed).

use lambda_runtime::LambdaEvent;
use pipeline::config::{Check, Rule, Severity};
use pipeline::ledger::{Entry, Status};
use pipeline::steps::{Outcome, QualityResult, RuleResult, RunRequest};
use pipeline::{Env, Step, StepError};
use snowflake::{Binding, Error, ObjectName};

pub async fn handle(env: &Env, event: LambdaEvent<RunRequest>) -> Result<QualityResult, StepError> {
    let run = event.payload.run;
    let step = env.step(&run, pipeline::StepId::DqCheck, event.context.deadline())?;
    let mut judged = Vec::new();
    let result = check(&step, &mut judged).await;
    step.finish("checks", result, |_| {
        judged
            .iter()
            .map(|r| {
                let mut entry = Entry::new(&r.rule, Status::Done);
                entry.dq_outcome = Some(r.outcome.as_str());
                entry.dq_observed = r.observed;
                entry.detail = Some(r.message.clone());
                entry
            })
            .collect()
    })
    .await
}

/// Judges every rule (each result also lands in `judged`, for the ledger) and writes the audit rows.
async fn check(step: &Step<'_>, judged: &mut Vec<RuleResult>) -> Result<QualityResult, StepError> {
    let env = step.env;
    let checks = step.scope()?.checks;
    let mut results = Vec::with_capacity(checks.len());
    for check in checks {
        let result = evaluate(step, check).await?;
        tracing::info!(rule = %result.rule, outcome = ?result.outcome, observed = ?result.observed, "{}", result.message);
        results.push(result);
    }
    judged.clone_from(&results);
    let audit_rows = write_audit(step, &env.config()?.audit_table, &results).await?;
    let count = |o: Outcome| results.iter().filter(|r| r.outcome == o).count();
    let failed = count(Outcome::Fail);
    Ok(QualityResult {
        passed: count(Outcome::Pass),
        warned: count(Outcome::Warn),
        failed,
        stop: failed > 0,
        audit_rows,
        failures: results
            .into_iter()
            .filter(|r| r.outcome != Outcome::Pass)
            .collect(),
    })
}

/// The query whose single number the rule judges, and its bindings (pure: `postetl compile`).
pub fn measure(rule: &Rule) -> (String, Vec<Binding>) {
    match rule {
        Rule::RowCount { table, .. } => (format!("SELECT COUNT(*) FROM {table}"), vec![]),
        Rule::NotNull { table, column } => (
            format!("SELECT COUNT(*) FROM {table} WHERE {column} IS NULL"),
            vec![],
        ),
        Rule::Unique { table, columns } => {
            let cols = columns
                .iter()
                .map(|c| c.to_string())
                .collect::<Vec<_>>()
                .join(", ");
            (
                format!(
                    "SELECT COUNT(*) FROM (SELECT {cols} FROM {table} GROUP BY {cols} HAVING COUNT(*) > 1)"
                ),
                vec![],
            )
        }
        Rule::AcceptedValues {
            table,
            column,
            values,
        } => {
            let marks = vec!["?"; values.len()].join(", ");
            let sql = format!(
                "SELECT COUNT(*) FROM {table} WHERE {column} IS NOT NULL AND {column} NOT IN ({marks})"
            );
            (
                sql,
                values.iter().map(|v| Binding::text(v.clone())).collect(),
            )
        }
        // Age is computed here from the newest value, by the column's type (see `newest_instant`).
        Rule::Freshness { table, column, .. } => {
            (format!("SELECT MAX({column}) FROM {table}"), vec![])
        }
        Rule::CustomSql { sql, .. } => (
            format!("SELECT COUNT(*) FROM ({sql}) AS failing_rows"),
            vec![],
        ),
    }
}

async fn evaluate(step: &Step<'_>, check: &Check) -> Result<RuleResult, StepError> {
    let (sql, bindings) = measure(&check.rule);
    let mut statement = step.statement(sql, &check.name, 0);
    for b in bindings {
        statement = statement.bind(b);
    }
    let verdict = |ok: bool| match (ok, check.severity) {
        (true, _) => Outcome::Pass,
        (false, Severity::Warn) => Outcome::Warn,
        (false, Severity::Error) => Outcome::Fail,
    };
    let rows = match step.read(&statement).await {
        Ok(rows) => rows,
        // A rule that cannot run (a dropped column, a typo in custom SQL) is a failed rule, recorded
        // like any other; transient errors still fail the step so that it is retried.
        Err(StepError::Snowflake(Error::Sql { code, message, .. })) => {
            return Ok(RuleResult {
                rule: check.name.clone(),
                severity: check.severity,
                outcome: verdict(false),
                observed: None,
                message: format!("the rule's query failed ({code}): {message}"),
            });
        }
        Err(e) => return Err(e),
    };
    let first = rows.row(0);
    let (observed, ok, message) = match &check.rule {
        Rule::Freshness { max_age, .. } => {
            let newest = match first {
                Some(r) => newest_instant(&r, &rows.columns[0].kind)?,
                None => Ok(None),
            };
            match newest {
                Err(kind) => (
                    None,
                    false,
                    format!(
                        "the column is {kind}, not a DATE or TIMESTAMP: freshness cannot be measured"
                    ),
                ),
                Ok(None) => (None, false, "no rows: nothing is fresh".to_string()),
                Ok(Some(newest)) => {
                    let age = chrono::Utc::now() - newest;
                    let minutes = age.num_minutes();
                    let limit = (max_age.as_secs() / 60) as i64;
                    (
                        Some(minutes),
                        minutes <= limit,
                        format!("newest row is {minutes} min old (limit {limit} min)"),
                    )
                }
            }
        }
        rule => {
            let n = first
                .map(|r| r.get_i64(0))
                .transpose()?
                .flatten()
                .unwrap_or(0);
            let (ok, message) = match rule {
                Rule::RowCount { min, max, .. } => {
                    let ok = min.is_none_or(|m| n as u64 >= m) && max.is_none_or(|m| n as u64 <= m);
                    (
                        ok,
                        format!(
                            "{n} rows (bounds {} .. {})",
                            fmt_bound(*min),
                            fmt_bound(*max)
                        ),
                    )
                }
                Rule::NotNull { column, .. } => {
                    (n == 0, format!("{n} rows with {} NULL", column.as_str()))
                }
                Rule::Unique { .. } => (n == 0, format!("{n} duplicated key values")),
                Rule::AcceptedValues { column, .. } => (
                    n == 0,
                    format!("{n} rows with an unexpected {}", column.as_str()),
                ),
                Rule::CustomSql { .. } => (n == 0, format!("{n} failing rows")),
                // Judged by age in the arm above; listed so a new rule type must be judged here.
                Rule::Freshness { .. } => (false, "freshness is judged by age".to_string()),
            };
            (Some(n), ok, message)
        }
    };
    Ok(RuleResult {
        rule: check.name.clone(),
        severity: check.severity,
        outcome: verdict(ok),
        observed,
        message,
    })
}

/// The instant of a DATE or TIMESTAMP value as the SQL API sends it (Snowflake, SQL API "Getting
/// the results": DATE as days since the epoch, TIMESTAMP_NTZ and TIMESTAMP_LTZ as seconds since the
/// epoch with a fraction, TIMESTAMP_TZ the same followed by 1440 + the offset in minutes):
/// - DATE: midnight UTC starting that day;
/// - TIMESTAMP_NTZ: its wall time read as UTC (it carries no zone);
/// - TIMESTAMP_LTZ and TIMESTAMP_TZ: the instant itself (the seconds are UTC, the offset only
///   says how to display it).
///
/// `Err(kind)` for a column of any other type.
fn newest_instant(
    row: &snowflake::Row<'_>,
    kind: &str,
) -> Result<Result<Option<chrono::DateTime<chrono::Utc>>, String>, StepError> {
    let utc = |t: chrono::NaiveDateTime| t.and_utc();
    Ok(Ok(match kind.to_ascii_lowercase().as_str() {
        "date" => row
            .get_date(0)?
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(utc),
        "timestamp_ntz" | "timestamp_ltz" => row.get_timestamp(0)?.map(utc),
        "timestamp_tz" => row.get_timestamp_tz(0)?.map(|t| t.to_utc()),
        other => return Ok(Err(other.to_uppercase())),
    }))
}

fn fmt_bound(b: Option<u64>) -> String {
    b.map_or("-".into(), |b| b.to_string())
}

/// The audit statements for `rows` results: the schema, the table, one INSERT (pure: `postetl
/// compile`).
pub fn audit_sql(table: &ObjectName, rows: usize) -> [String; 3] {
    let parts = table.parts();
    let schema = format!("{}.{}", parts[0], parts[1]);
    let row = "(?, ?, ?, ?, ?, ?, ?, ?, TO_TIMESTAMP_TZ(?))";
    [
        format!("CREATE SCHEMA IF NOT EXISTS {schema}"),
        format!(
            "CREATE TABLE IF NOT EXISTS {table} (RUN_KEY VARCHAR, EXECUTION VARCHAR, PIPELINE VARCHAR, RULE VARCHAR, \
             SEVERITY VARCHAR, OUTCOME VARCHAR, OBSERVED BIGINT, MESSAGE VARCHAR, CHECKED_AT TIMESTAMP_TZ)"
        ),
        format!(
            "INSERT INTO {table} (RUN_KEY, EXECUTION, PIPELINE, RULE, SEVERITY, OUTCOME, OBSERVED, MESSAGE, CHECKED_AT) VALUES {}",
            vec![row; rows].join(", ")
        ),
    ]
}

/// One row per rule, in one INSERT whose request id derives from the run: a retried invocation
/// or a replayed event never writes the run's results twice.
async fn write_audit(
    step: &Step<'_>,
    table: &ObjectName,
    results: &[RuleResult],
) -> Result<usize, StepError> {
    if results.is_empty() {
        return Ok(0);
    }
    let [schema_sql, table_sql, _] = audit_sql(table, results.len());
    step.change_now(&step.statement(schema_sql, "audit", 0))
        .await?;
    step.change_now(&step.statement(table_sql, "audit", 1))
        .await?;
    // An explicit type in the table and in the value: a plain TIMESTAMP follows the account's
    // TIMESTAMP_TYPE_MAPPING (NTZ by default, but not everywhere), and the text carries its offset.
    let now = chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.3f+00:00")
        .to_string();
    let [_, _, sql] = audit_sql(table, results.len());
    let mut statement = step.statement(sql, "audit", 2);
    for r in results {
        let text = |v: &str| Binding::text(v.to_string());
        statement = statement
            .bind(text(&step.run.run_key))
            .bind(text(&step.run.execution))
            .bind(text(&step.run.pipeline))
            .bind(text(&r.rule))
            .bind(text(r.severity.as_str()))
            .bind(text(r.outcome.as_str()))
            .bind(r.observed.map_or(Binding::null("FIXED"), Binding::fixed))
            .bind(text(&r.message))
            .bind(text(&now));
    }
    Ok(match step.change_now(&statement).await? {
        Some(_) => results.len(),
        None => 0,
    })
}
