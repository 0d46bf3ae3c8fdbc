//! Refreshes the BI marts in their configured order: `ALTER DYNAMIC TABLE .. REFRESH`,
//! `EXECUTE TASK`, or a SQL file. A statement that outlives the invocation is handed back with
//! its position, and the next invocation resumes there.

use lambda_runtime::LambdaEvent;
use pipeline::config::MartAction;
use pipeline::steps::{MartsRequest, MartsResult, Status};
use pipeline::{Env, StepError};
use snowflake::{Outcome, Statement};

pub async fn handle(env: &Env, event: LambdaEvent<MartsRequest>) -> Result<MartsResult, StepError> {
    let request = event.payload;
    let step = env.step(&request.run, "refresh-marts", event.context.deadline())?;
    let marts = &step.pipeline.marts;
    let mut result = MartsResult {
        status: Status::Done,
        refreshed: Vec::new(),
        resume: None,
        skipped: Vec::new(),
    };
    if request.next > marts.len() {
        return Err(StepError::Malformed(format!(
            "next = {} but the pipeline has {} marts",
            request.next,
            marts.len()
        )));
    }
    for (position, mart) in marts.iter().enumerate().skip(request.next) {
        let outcome = match (&request.handle, position == request.next) {
            (Some(handle), true) => Some(step.resume(handle).await?),
            _ => {
                let statement = statement(&step, &mart.action, &mart.name);
                let outcome = step.change(&statement).await?;
                if outcome.is_none() {
                    result.skipped.push(statement.sql().to_string());
                }
                outcome
            }
        };
        match outcome {
            Some(Outcome::Running { handle }) => {
                tracing::info!(mart = %mart.name, %handle, "still running; handing back");
                result.status = Status::Running;
                result.resume = Some(
                    serde_json::json!({"run": request.run, "next": position, "handle": handle}),
                );
                return Ok(result);
            }
            Some(Outcome::Done(_)) => {
                tracing::info!(mart = %mart.name, "refreshed");
                result.refreshed.push(mart.name.clone());
            }
            None => {}
        }
    }
    Ok(result)
}

fn statement(step: &pipeline::Step<'_>, action: &MartAction, name: &str) -> Statement {
    match action {
        MartAction::RefreshDynamicTable(table) => {
            step.statement(format!("ALTER DYNAMIC TABLE {table} REFRESH"), name, 0)
        }
        MartAction::ExecuteTask(task) => step.statement(format!("EXECUTE TASK {task}"), name, 0),
        MartAction::Sql(sql) => {
            let sql = sql.trim().trim_end_matches(';');
            let statement = step.statement(sql, name, 0);
            // A file of several statements goes as one multi-statement request (count 0 = any).
            if sql.contains(';') {
                statement.statements(0)
            } else {
                statement
            }
        }
    }
}
