//! Refreshes the BI marts in their configured order: `ALTER DYNAMIC TABLE .. REFRESH`,
//! `EXECUTE TASK`, or a SQL file. A statement that outlives the invocation is handed back with
//! its position, and the next invocation resumes there.
//!
//! `EXECUTE TASK` only schedules one asynchronous run and answers at once (Snowflake, EXECUTE
//! TASK: "Manually triggers an asynchronous single run of a task"; its only forms are `EXECUTE
//! TASK <name>` and `... RETRY LAST`, there is no AWAIT). So a task mart is done when the run it
//! started ends: the step follows it in `INFORMATION_SCHEMA.TASK_HISTORY` (the table function,
//! which unlike the ACCOUNT_USAGE view shows SCHEDULED and EXECUTING runs) until its STATE is
//! SUCCEEDED or SKIPPED, and fails with the run's error (`Snowflake.SqlError`, the task's error
//! code and message) when it is FAILED or CANCELLED. A run still going at the end of the
//! invocation's budget is handed back like a statement, with the handle `task-since:<ms>:<n>`:
//! the resumed invocation follows the newest run started by EXECUTE TASK since that time (one run
//! of a pipeline at a time, so that run is this run's). Each history read has the request id of
//! (run, mart, read number n): a replayed event or a retried invocation gets the earlier answers
//! back in order and so ends where the first one did, without running a query (or waking a
//! warehouse) again.

use pipeline::config::MartAction;
use pipeline::ledger::{self, Entry};
use pipeline::steps::{MartsRequest, MartsResult, Status};
use pipeline::{Env, Step, StepError};
use snowflake::{Binding, ObjectName, Outcome, Statement, derive_request_id};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use lambda_runtime::LambdaEvent;

/// Prefix of a handed-back handle that follows a task run instead of a statement.
const TASK_HANDLE: &str = "task-since:";
/// How far before this EXECUTE TASK a run may be scheduled and still be ours: clock skew between
/// the Lambda and Snowflake, and a retried invocation whose EXECUTE TASK (same request id) ran in
/// the earlier attempt. The newest run wins, so an older one in the window is not mistaken for it.
const SKEW: Duration = Duration::from_secs(5 * 60);
/// An EXECUTE TASK statement handed back (rare: it answers at once) is resumed within the poll
/// loop's wait; its run is looked for this far back.
const RESUMED_LOOKBACK: Duration = Duration::from_secs(30 * 60);
/// Left of the budget when the step stops following a task and hands back.
const MARGIN: Duration = Duration::from_secs(3);

pub async fn handle(env: &Env, event: LambdaEvent<MartsRequest>) -> Result<MartsResult, StepError> {
    let started = Instant::now();
    let request = event.payload;
    let step = env.step(
        &request.run,
        pipeline::StepId::RefreshMarts,
        event.context.deadline(),
    )?;
    let result = refresh(&step, &request, started).await;
    let failed_at = step
        .pipeline
        .marts
        .get(request.next)
        .map_or("marts", |m| m.name.as_str());
    step.finish(failed_at, result, |r| {
        let mut entries: Vec<Entry> = r
            .refreshed
            .iter()
            .map(|name| Entry::new(name, ledger::Status::Done))
            .collect();
        let running = r
            .resume
            .as_ref()
            .and_then(|resume| step.pipeline.marts.get(resume.next));
        if let Some(mart) = running {
            entries.push(Entry::new(&mart.name, ledger::Status::Running));
        }
        entries
    })
    .await
}

async fn refresh(
    step: &Step<'_>,
    request: &MartsRequest,
    started: Instant,
) -> Result<MartsResult, StepError> {
    let marts = &step.pipeline.marts;
    let mut result = MartsResult {
        status: Status::Done,
        refreshed: Vec::new(),
        resume: None,
        skipped: Vec::new(),
    };
    // A narrowed or change-aware run refreshes only the marts its merges feed (see Scope).
    let scoped: Vec<&str> = step
        .scope()?
        .marts
        .iter()
        .map(|m| m.name.as_str())
        .collect();
    if scoped.is_empty() {
        tracing::info!("no merge in this run's scope feeds a mart: no mart to refresh");
        return Ok(result);
    }
    if request.next > marts.len() {
        return Err(StepError::Malformed(format!(
            "next = {} but the pipeline has {} marts",
            request.next,
            marts.len()
        )));
    }
    for (position, mart) in marts.iter().enumerate().skip(request.next) {
        if !scoped.contains(&mart.name.as_str()) {
            continue;
        }
        let resuming = position == request.next;
        let hand_back = |result: &mut MartsResult, handle: String| {
            tracing::info!(mart = %mart.name, %handle, "still running; handing back");
            result.status = Status::Running;
            result.resume = Some(MartsRequest {
                run: request.run.clone(),
                next: position,
                handle: Some(handle),
            });
        };
        // A task run being followed: no statement to resume.
        if let (Some(handle), true, MartAction::ExecuteTask(task)) =
            (&request.handle, resuming, &mart.action)
            && let Some(since) = handle.strip_prefix(TASK_HANDLE)
        {
            let malformed =
                || StepError::Malformed(format!("handle {handle:?} is not a task handle"));
            let (since, read) = since.split_once(':').ok_or_else(malformed)?;
            let since: u64 = since.parse().map_err(|_| malformed())?;
            let read: u64 = read.parse().map_err(|_| malformed())?;
            match follow(step, &mart.name, task, since, read, started).await? {
                Followed::Ended => result.refreshed.push(mart.name.clone()),
                Followed::Running(read) => {
                    hand_back(&mut result, format!("{TASK_HANDLE}{since}:{read}"));
                    return Ok(result);
                }
            }
            continue;
        }
        let mut since = epoch_ms(SystemTime::now() - SKEW);
        let outcome = match (&request.handle, resuming) {
            (Some(handle), true) => {
                since = epoch_ms(SystemTime::now() - RESUMED_LOOKBACK);
                Some(step.resume(handle).await?)
            }
            _ => {
                let statement = statement(step, &mart.action, &mart.name);
                let outcome = step.change(&statement).await?;
                if outcome.is_none() {
                    result.skipped.push(statement.sql().to_string());
                }
                outcome
            }
        };
        match outcome {
            Some(Outcome::Running { handle }) => {
                hand_back(&mut result, handle);
                return Ok(result);
            }
            Some(Outcome::Done(_)) => {
                if let MartAction::ExecuteTask(task) = &mart.action {
                    match follow(step, &mart.name, task, since, 0, started).await? {
                        Followed::Ended => {}
                        Followed::Running(read) => {
                            hand_back(&mut result, format!("{TASK_HANDLE}{since}:{read}"));
                            return Ok(result);
                        }
                    }
                }
                tracing::info!(mart = %mart.name, "refreshed");
                result.refreshed.push(mart.name.clone());
            }
            None => {}
        }
    }
    Ok(result)
}

fn epoch_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

enum Followed {
    Ended,
    /// Still running; the number of the next history read.
    Running(u64),
}

/// Polls TASK_HISTORY for the newest run of `task` started by EXECUTE TASK since `since_ms`, until
/// it ends or the invocation's budget (less a margin) runs out; `first` numbers the first read.
async fn follow(
    step: &Step<'_>,
    mart: &str,
    task: &ObjectName,
    since_ms: u64,
    first: u64,
    started: Instant,
) -> Result<Followed, StepError> {
    let mut pause = Duration::from_millis(500);
    for read in first.. {
        let rows = step
            .read(&history_query(step, mart, task, since_ms, read))
            .await?;
        let row = rows.row(0);
        let state = row
            .map(|r| r.get_str("STATE"))
            .transpose()?
            .flatten()
            .unwrap_or("NOT YET LISTED")
            .to_ascii_uppercase();
        match state.as_str() {
            "SUCCEEDED" | "SKIPPED" => {
                tracing::info!(%mart, task = %task, %state, "task run ended");
                return Ok(Followed::Ended);
            }
            "FAILED" | "FAILED_AND_AUTO_SUSPENDED" | "CANCELLED" => {
                let row = row.expect("a state comes from a row");
                // A NUMBER in Snowflake's docs, text in some answers: read as text either way.
                let code = row.get_str("ERROR_CODE")?.unwrap_or("").trim();
                let message = row.get_str("ERROR_MESSAGE")?.unwrap_or("no error message");
                let query = row.get_str("QUERY_ID")?.map(str::to_string);
                return Err(StepError::Snowflake(snowflake::Error::Sql {
                    code: format!("{code:0>6}"),
                    sql_state: String::new(),
                    message: format!("task {task} run ended {state}: {message}"),
                    handle: query,
                    created_on: None,
                }));
            }
            _ => {}
        }
        let left = step.budget.saturating_sub(started.elapsed());
        if left <= pause + MARGIN {
            tracing::info!(%mart, task = %task, %state, read, "task run not finished");
            return Ok(Followed::Running(read + 1));
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(5));
    }
    unreachable!("the loop returns")
}

/// The newest run of the task scheduled by EXECUTE TASK since `since_ms`. TASK_NAME is the
/// unqualified, case-insensitive name (Snowflake, TASK_HISTORY), so database, schema and the
/// exact name are filtered on the output columns.
fn history_query(
    step: &Step<'_>,
    mart: &str,
    task: &ObjectName,
    since_ms: u64,
    read: u64,
) -> Statement {
    let parts = task.parts();
    let name = parts.last().expect("an object name has a part");
    let schema_of = |i: usize| parts.len().checked_sub(i + 1).map(|j| &parts[j]);
    let function = match schema_of(2) {
        Some(db) => format!("{db}.INFORMATION_SCHEMA.TASK_HISTORY"),
        None => "INFORMATION_SCHEMA.TASK_HISTORY".to_string(),
    };
    let since = chrono::DateTime::from_timestamp_millis(since_ms as i64)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string();
    let mut sql = format!(
        "SELECT STATE, ERROR_CODE, ERROR_MESSAGE, QUERY_ID FROM TABLE({function}(\
         SCHEDULED_TIME_RANGE_START => TO_TIMESTAMP_LTZ(?), TASK_NAME => ?, RESULT_LIMIT => 1000)) \
         WHERE SCHEDULED_FROM = 'EXECUTE TASK' AND NAME = ?"
    );
    let mut bindings = vec![
        Binding::text(since),
        Binding::text(name.as_str()),
        Binding::text(name.as_str()),
    ];
    for (i, column) in [(1, "SCHEMA_NAME"), (2, "DATABASE_NAME")] {
        if let Some(part) = schema_of(i) {
            sql.push_str(&format!(" AND {column} = ?"));
            bindings.push(Binding::text(part.as_str()));
        }
    }
    sql.push_str(" ORDER BY SCHEDULED_TIME DESC LIMIT 1");
    // Each read its own request (the same id would get the first answer back), numbered so that
    // a replay of the run gets the same answers in the same order (see the module docs).
    let mut statement = step.statement(sql, mart, 1).request_id(derive_request_id(&[
        &step.run.run_key,
        step.step,
        mart,
        "task-history",
        &read.to_string(),
    ]));
    for b in bindings {
        statement = statement.bind(b);
    }
    statement
}

fn statement(step: &Step<'_>, action: &MartAction, name: &str) -> Statement {
    let sql = mart_sql(action);
    let statement = step.statement(sql.as_str(), name, 0);
    // A file of several statements goes as one multi-statement request (count 0 = any).
    if matches!(action, MartAction::Sql(_)) && sql.contains(';') {
        statement.statements(0)
    } else {
        statement
    }
}

/// The statement a mart sends first (pure: `postetl compile`).
pub fn mart_sql(action: &MartAction) -> String {
    match action {
        MartAction::RefreshDynamicTable(table) => format!("ALTER DYNAMIC TABLE {table} REFRESH"),
        MartAction::ExecuteTask(task) => format!("EXECUTE TASK {task}"),
        MartAction::Sql(sql) => sql.trim().trim_end_matches(';').to_string(),
    }
}
