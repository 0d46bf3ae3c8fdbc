//! Resumes the run's warehouse (and sets the run's size), and at the end suspends it, but only
//! if this run resumed it, and restores the size it found.
//!
//! Dry runs resume and suspend too (their checks read data, which needs compute) but do not resize.
//!
//! Every statement, `SHOW WAREHOUSES` included, carries a request id derived from the run: a
//! retried invocation gets Snowflake's earlier answers back, so it still knows the warehouse was
//! suspended before this run resumed it.

use lambda_runtime::LambdaEvent;
use pipeline::config::normalise_size;
use pipeline::steps::{WarehouseAction, WarehouseRequest, WarehouseResult};
use pipeline::{Env, Step, StepError};
use snowflake::{Error, string_literal};

struct Seen {
    state: String,
    size: Option<String>,
}

pub async fn handle(
    env: &Env,
    event: LambdaEvent<WarehouseRequest>,
) -> Result<WarehouseResult, StepError> {
    let request = event.payload;
    let step = env.step(&request.run, "warehouse", event.context.deadline())?;
    let warehouse = &step.pipeline.warehouse;
    let mut result = WarehouseResult {
        warehouse: warehouse.as_str().to_string(),
        action: request.action,
        resumed: false,
        suspended: false,
        previous_size: None,
        skipped: Vec::new(),
        cancelled: Vec::new(),
    };
    match request.action {
        WarehouseAction::Resume => {
            let seen = show(&step, "resume").await?;
            if let Some(size) = &step.pipeline.warehouse_size
                && seen.size.as_deref() != Some(size.as_str())
            {
                let sql = format!(
                    "ALTER WAREHOUSE {warehouse} SET WAREHOUSE_SIZE = {}",
                    string_literal(size)?
                );
                run(&step, &mut result, sql, "resize").await?;
                result.previous_size = seen.size.clone();
            }
            if seen.state.starts_with("SUSPEND") {
                let sql = format!("ALTER WAREHOUSE {warehouse} RESUME IF SUSPENDED");
                control(&step, sql, "resume").await?;
                result.resumed = true;
            }
            tracing::info!(warehouse = %warehouse, state = %seen.state, resumed = result.resumed, "warehouse ready");
        }
        WarehouseAction::Suspend => {
            if request.cancel_running {
                result.cancelled = cancel_running(&step).await?;
            }
            if let Some(size) = request.previous_size.as_deref().and_then(normalise_size) {
                let sql = format!(
                    "ALTER WAREHOUSE {warehouse} SET WAREHOUSE_SIZE = {}",
                    string_literal(&size)?
                );
                run(&step, &mut result, sql, "restore-size").await?;
            }
            if request.resumed {
                let sql = format!("ALTER WAREHOUSE {warehouse} SUSPEND");
                match control(&step, sql, "suspend").await {
                    Ok(()) => result.suspended = true,
                    // Auto-suspend or someone else got there first: the goal is met.
                    Err(StepError::Snowflake(Error::Sql { message, .. }))
                        if message.contains("cannot be suspended") =>
                    {
                        tracing::info!(warehouse = %warehouse, "already suspended");
                    }
                    Err(e) => return Err(e),
                }
            } else {
                tracing::info!(warehouse = %warehouse, "not resumed by this run; leaving it as it is");
            }
        }
    }
    Ok(result)
}

async fn show(step: &Step<'_>, phase: &str) -> Result<Seen, StepError> {
    let name = step.pipeline.warehouse.as_str();
    // `_` in the name is a LIKE wildcard, which still matches itself; the exact name is picked below.
    let sql = format!("SHOW WAREHOUSES LIKE {}", string_literal(name)?);
    let rows = step.read(&step.statement(sql, phase, 0)).await?;
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
        })?;
    Ok(Seen {
        state: row.get_str(state)?.unwrap_or_default().to_ascii_uppercase(),
        size: row.get_str(size)?.and_then(normalise_size),
    })
}

async fn run(
    step: &Step<'_>,
    result: &mut WarehouseResult,
    sql: String,
    phase: &str,
) -> Result<(), StepError> {
    let statement = step.statement(sql, phase, 1);
    if step.change_now(&statement).await?.is_none() {
        result.skipped.push(statement.sql().to_string());
    }
    Ok(())
}

async fn control(step: &Step<'_>, sql: String, phase: &str) -> Result<(), StepError> {
    step.control(&step.statement(sql, phase, 1)).await.map(drop)
}

/// Cancels this execution's statements that are still running: a failed or timed-out run must not
/// leave a MERGE behind it. They are found by the QUERY_TAG every statement carries.
async fn cancel_running(step: &Step<'_>) -> Result<Vec<String>, StepError> {
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
    // Not de-duplicated: each attempt must see what is running now.
    let running = step
        .read(
            &snowflake::Statement::new(sql)
                .bind(snowflake::Binding::text(tag))
                .warehouse(step.pipeline.warehouse.as_str()),
        )
        .await?;
    let mut cancelled = Vec::new();
    for row in running.iter() {
        let Some(id) = row.get_str(0)? else { continue };
        let statement = step
            .statement("SELECT SYSTEM$CANCEL_QUERY(?)", &format!("cancel:{id}"), 0)
            .bind(snowflake::Binding::text(id));
        step.control(&statement).await?;
        tracing::info!(query_id = id, "cancelled a statement this run left running");
        cancelled.push(id.to_string());
    }
    Ok(cancelled)
}
