//! Resumes the run's warehouse (and sets the run's size), and at the end, or whenever a run ends
//! badly, puts it back as this execution found it: suspended if it was suspended, at its size.
//!
//! What "as found" means is remembered by Snowflake, not by the caller: the first `SHOW
//! WAREHOUSES` of an execution carries a request id derived from the execution, so every later
//! invocation (a retry, the suspend at the end, the failure path, the `finalize` Lambda after a
//! stop or a timeout) gets that same first answer back. A resume whose answer was lost therefore
//! still counts as "this run resumed it". The statements that change the warehouse are idempotent
//! by nature (RESUME IF SUSPENDED, SUSPEND, SET WAREHOUSE_SIZE) and carry fresh request ids, so a
//! replayed event or a new execution acts on the warehouse as it is now, never on an earlier
//! execution's answers.
//!
//! Clean-up never wakes a warehouse: this execution's statements are looked up in the query
//! history (which needs compute) only while the warehouse is running, and cancelled through the
//! SQL API's cancel endpoint (which needs none). A suspended warehouse runs nothing.
//!
//! Dry runs resume and suspend too (their checks read data, which needs compute) but do not resize.

use lambda_runtime::LambdaEvent;
use pipeline::config::normalise_size;
use pipeline::ledger::{self, Entry};
use pipeline::steps::{Skipped, WarehouseAction, WarehouseRequest, WarehouseResult};
use pipeline::{Env, Step, StepError};
use snowflake::{Binding, Error, Identifier, Statement, derive_request_id, string_literal};
use std::time::SystemTime;

/// A warehouse as `SHOW WAREHOUSES` saw it.
struct Seen {
    state: String,
    size: Option<String>,
    /// When the warehouse last resumed (`resumed_on`), if it said.
    resumed_on: Option<chrono::NaiveDateTime>,
}

impl Seen {
    fn suspended(&self) -> bool {
        self.state.starts_with("SUSPEND")
    }
}

pub async fn handle(
    env: &Env,
    event: LambdaEvent<WarehouseRequest>,
) -> Result<WarehouseResult, StepError> {
    let request = event.payload;
    let step = env.step(
        &request.run,
        pipeline::StepId::Warehouse,
        event.context.deadline(),
    )?;
    // Boxed: the two futures nested in the runtime's layers overflow rustc's type depth limit.
    match request.action {
        // The resume writes no ledger row: the run's row (written when the warehouse is put back)
        // says what the warehouse did, and the resume stays one statement on a cold start.
        WarehouseAction::Resume => Box::pin(resume(&step)).await,
        WarehouseAction::Suspend => {
            let ending = match (&request.failure, request.cancel_running) {
                (Some(f), _) => Ending::Failed {
                    step: f.step.clone(),
                    error: f.error.clone(),
                },
                (None, true) => Ending::Failed {
                    step: "unknown".into(),
                    error: "unknown".into(),
                },
                (None, false) => Ending::Succeeded,
            };
            let started = request
                .run_started
                .as_deref()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .map(SystemTime::from);
            let unchanged = Unchanged {
                skipped: &request.skipped,
                since: request.changed_since.as_deref(),
            };
            Box::pin(restore(
                &step,
                request.cancel_running,
                ending,
                started,
                unchanged,
            ))
            .await
        }
    }
}

/// What a change-aware run left out, and since which run it was unchanged: a ledger row each.
#[derive(Clone, Copy)]
pub struct Unchanged<'a> {
    pub skipped: &'a Skipped,
    pub since: Option<&'a str>,
}

static NOTHING_SKIPPED: Skipped = Skipped {
    iceberg_tables: Vec::new(),
    merges: Vec::new(),
    checks: Vec::new(),
    marts: Vec::new(),
};

impl Default for Unchanged<'_> {
    fn default() -> Self {
        Self {
            skipped: &NOTHING_SKIPPED,
            since: None,
        }
    }
}

impl Unchanged<'_> {
    /// The skipped items' rows, under the step each would have run in.
    fn rows(&self) -> Vec<(&'static str, Vec<Entry>)> {
        let detail = format!(
            "unchanged since {}",
            self.since.unwrap_or("the last successful run")
        );
        let s = self.skipped;
        [
            ("refresh-iceberg", &s.iceberg_tables),
            ("run-merge", &s.merges),
            ("dq-check", &s.checks),
            ("refresh-marts", &s.marts),
        ]
        .into_iter()
        .filter(|(_, items)| !items.is_empty())
        .map(|(step, items)| {
            let rows = items
                .iter()
                .map(|item| {
                    let mut row = Entry::new(item, ledger::Status::Skipped);
                    row.detail = Some(detail.clone());
                    row
                })
                .collect();
            (step, rows)
        })
        .collect()
    }
}

/// What a run came to, for its row in the ledger (written when the warehouse is put back).
#[derive(Clone, Debug)]
pub enum Ending {
    Succeeded,
    Failed { step: String, error: String },
}

fn result(step: &Step<'_>, action: WarehouseAction) -> WarehouseResult {
    WarehouseResult {
        warehouse: step.pipeline.warehouse.as_str().to_string(),
        action,
        resumed: false,
        suspended: false,
        previous_size: None,
        size: None,
        skipped: Vec::new(),
        cancelled: Vec::new(),
    }
}

async fn resume(step: &Step<'_>) -> Result<WarehouseResult, StepError> {
    let mut result = result(step, WarehouseAction::Resume);
    let found = as_found(step).await?;
    if let Some(size) = &step.pipeline.warehouse_size
        && found.size.as_deref() != Some(size.as_str())
    {
        set_size(step, &mut result, size).await?;
        result.previous_size = found.size.clone();
    }
    result.size = step
        .pipeline
        .warehouse_size
        .clone()
        .or_else(|| found.size.clone());
    if found.suspended() {
        let sql = resume_sql(&step.pipeline.warehouse);
        step.control(&step.tagged(sql, "resume")).await?;
        result.resumed = true;
    }
    tracing::info!(warehouse = %step.pipeline.warehouse, state = %found.state, resumed = result.resumed, "warehouse ready");
    Ok(result)
}

/// Puts the warehouse back as this execution found it, cancelling first what the execution left
/// running when `cancel_running`.
///
/// Before suspending, writes the run's row to the ledger: how it ended, and the warehouse seconds
/// it caused (resumed by this run: from `resumed_on` to now; found running: none).
pub async fn restore(
    step: &Step<'_>,
    cancel_running: bool,
    ending: Ending,
    run_started: Option<SystemTime>,
    unchanged: Unchanged<'_>,
) -> Result<WarehouseResult, StepError> {
    let mut result = result(step, WarehouseAction::Suspend);
    let found = as_found(step).await?;
    let now = show(step, &step.tagged(show_sql(step)?, "now")).await?;
    let warehouse_seconds = if !found.suspended() {
        Some(0.0)
    } else if now.suspended() {
        None
    } else {
        now.resumed_on.map(|on| {
            let on = on.and_utc();
            (chrono::Utc::now() - on).as_seconds_f64().max(0.0)
        })
    };
    if cancel_running {
        if now.suspended() {
            tracing::info!(warehouse = %step.pipeline.warehouse, "suspended: nothing of this run can be running");
        } else {
            result.cancelled = cancel_running_statements(step).await?;
        }
    }
    // Restore the size only if it is still the run's size: someone else's change stays.
    if let Some(run_size) = &step.pipeline.warehouse_size
        && let Some(original) = &found.size
        && original != run_size
        && now.size.as_deref() == Some(run_size.as_str())
    {
        set_size(step, &mut result, original).await?;
        result.previous_size = Some(original.clone());
    }
    result.resumed = found.suspended();
    let mut row = Entry::new("", ledger::Status::Succeeded);
    if let Ending::Failed {
        step: failed,
        error,
    } = &ending
    {
        row.status = ledger::Status::Failed;
        row.error = Some(error.clone());
        row.detail = Some(format!("failed at {failed}"));
    }
    row.started = run_started;
    row.warehouse_seconds = warehouse_seconds;
    // Written while the warehouse runs, before it is suspended; a suspended one would wake up
    // for the write (AUTO_RESUME), and clean-up never wakes a warehouse.
    if now.suspended() {
        tracing::info!(warehouse = %step.pipeline.warehouse, "suspended: the run's ledger row is not written (it would wake the warehouse)");
    } else {
        for (name, rows) in unchanged.rows() {
            Box::pin(step.record_as(name, rows)).await;
        }
        Box::pin(step.record_as("run", vec![row])).await;
    }
    if found.suspended() && !now.suspended() {
        let sql = suspend_sql(&step.pipeline.warehouse);
        match step.control(&step.tagged(sql, "suspend")).await {
            Ok(_) => result.suspended = true,
            // Auto-suspend or someone else got there first: the goal is met.
            Err(StepError::Snowflake(Error::Sql { message, .. }))
                if message.contains("cannot be suspended") =>
            {
                tracing::info!(warehouse = %step.pipeline.warehouse, "already suspended");
            }
            Err(e) => return Err(e),
        }
    } else if !found.suspended() {
        tracing::info!(warehouse = %step.pipeline.warehouse, "it was running before this execution; leaving it running");
    }
    Ok(result)
}

/// The warehouse as this execution first saw it (see the module comment).
async fn as_found(step: &Step<'_>) -> Result<Seen, StepError> {
    let id = derive_request_id(&[&step.run.execution, step.step, "as-found"]);
    show(
        step,
        &step.tagged(show_sql(step)?, "as-found").request_id(id),
    )
    .await
}

fn show_sql(step: &Step<'_>) -> Result<String, StepError> {
    Ok(show_warehouse_sql(&step.pipeline.warehouse)?)
}

/// The statements this step sends, as pure functions so `postetl compile` prints the same text.
pub fn show_warehouse_sql(warehouse: &Identifier) -> Result<String, Error> {
    // `_` in the name is a LIKE wildcard, which still matches itself; the exact name is picked below.
    Ok(format!(
        "SHOW WAREHOUSES LIKE {}",
        string_literal(warehouse.as_str())?
    ))
}

pub fn resume_sql(warehouse: &Identifier) -> String {
    format!("ALTER WAREHOUSE {warehouse} RESUME IF SUSPENDED")
}

pub fn suspend_sql(warehouse: &Identifier) -> String {
    format!("ALTER WAREHOUSE {warehouse} SUSPEND")
}

pub fn size_sql(warehouse: &Identifier, size: &str) -> Result<String, Error> {
    Ok(format!(
        "ALTER WAREHOUSE {warehouse} SET WAREHOUSE_SIZE = {}",
        string_literal(size)?
    ))
}

async fn show(step: &Step<'_>, statement: &Statement) -> Result<Seen, StepError> {
    let name = step.pipeline.warehouse.as_str();
    let rows = step.read(statement).await?;
    let state = rows.column("state")?;
    let size = rows.column("size")?;
    let row = rows
        .iter()
        .find(|r| r.get_str("name").ok().flatten() == Some(name))
        .ok_or_else(|| Error::Sql {
            code: "002003".into(),
            sql_state: "02000".into(),
            message: format!("Warehouse '{name}' does not exist or not authorized."),
            handle: None,
            created_on: None,
        })?;
    // Not every answer has it (an older emulator, a renamed column): the ledger then says NULL.
    let resumed_on = rows
        .column("resumed_on")
        .ok()
        .and_then(|c| row.get_timestamp(c).ok().flatten());
    Ok(Seen {
        state: row.get_str(state)?.unwrap_or_default().to_ascii_uppercase(),
        size: row.get_str(size)?.and_then(normalise_size),
        resumed_on,
    })
}

async fn set_size(
    step: &Step<'_>,
    result: &mut WarehouseResult,
    size: &str,
) -> Result<(), StepError> {
    let sql = size_sql(&step.pipeline.warehouse, size)?;
    let statement = step.tagged(sql, "size");
    if step.change_now(&statement).await?.is_none() {
        result.skipped.push(statement.sql().to_string());
    }
    Ok(())
}

/// Cancels this execution's statements that are still running (found by the QUERY_TAG every
/// statement carries), through the SQL API's cancel endpoint. Called only while the warehouse
/// runs, so the history query wakes nothing.
async fn cancel_running_statements(step: &Step<'_>) -> Result<Vec<String>, StepError> {
    let sql = format!(
        "SELECT QUERY_ID FROM TABLE(INFORMATION_SCHEMA.QUERY_HISTORY_BY_WAREHOUSE(WAREHOUSE_NAME => {}, \
         RESULT_LIMIT => 10000)) WHERE EXECUTION_STATUS IN ('RUNNING', 'QUEUED', 'RESUMING_WAREHOUSE', 'BLOCKED') \
         AND QUERY_TAG LIKE ?",
        // Quoted inside the string, so a mixed-case name matches exactly.
        string_literal(&step.pipeline.warehouse.to_string())?
    );
    let tag = format!(
        "%\"execution\":{}%",
        serde_json::to_string(&step.run.execution).unwrap_or_default()
    );
    // Untagged: carrying this execution's tag, the lookup would find (and cancel) itself.
    let lookup = Statement::new(sql)
        .bind(Binding::text(tag))
        .warehouse(step.pipeline.warehouse.as_str());
    let running = step.read(&lookup).await?;
    let mut cancelled = Vec::new();
    for row in running.iter() {
        let Some(id) = row.get_str(0)? else { continue };
        // The SQL API's statement handle is the query id.
        step.env.snowflake.cancel(id).await?;
        tracing::info!(query_id = id, "cancelled a statement this run left running");
        cancelled.push(id.to_string());
    }
    Ok(cancelled)
}
