//! Ends every run clean, whatever ended it. The workflow's own failure path (Catch → cancel,
//! suspend, alert) covers the errors its states raise; it cannot run when an execution is stopped
//! from the console, hits the state machine's timeout, or fails with an error `States.ALL` does not
//! catch (`States.Runtime`, `States.DataLimitExceeded`). EventBridge reports those endings as a
//! "Step Functions Execution Status Change" event (status ABORTED, TIMED_OUT or FAILED); this
//! Lambda reads the execution's history and, unless the failure path already ran, does what it
//! would have: cancels the run's statements, puts the warehouse back as the execution found it,
//! and publishes one alert naming the run, the step and the reason.
//!
//! Idempotent: clean-up acts on Snowflake as it is now, and the alert is published last, so an
//! EventBridge retry after a failed clean-up sends no second alert.

use lambda_runtime::LambdaEvent;
use pipeline::steps::{Run, WarehouseResult};
use pipeline::{Env, StepError};
use serde::{Deserialize, Serialize};
use serde_json::Value;

// The states the definition's failure path ends with (a dry run skips NotifyFailure), and the
// ones this reads.
use pipeline::states::{ALERT_UNLESS_DRY_RUN, NOTIFY_FAILURE, PLAN, RESUME_WAREHOUSE};
/// GetExecutionHistory pages of 1,000 events; an execution has at most 25,000.
const MAX_HISTORY_PAGES: usize = 25;
/// The EventBridge event for an execution that ended.
pub const DETAIL_TYPE: &str = "Step Functions Execution Status Change";

#[derive(Clone)]
pub struct Aws {
    pub sfn: aws_sdk_sfn::Client,
    pub sns: aws_sdk_sns::Client,
    /// Where alerts go (`POSTETL_ALERT_TOPIC_ARN`).
    pub topic: String,
}

/// The EventBridge event (AWS documents its shape under "Step Functions events in EventBridge").
#[derive(Debug, Deserialize)]
pub struct StatusChange {
    pub source: String,
    #[serde(rename = "detail-type")]
    pub detail_type: String,
    pub detail: ExecutionEnded,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionEnded {
    pub execution_arn: String,
    pub status: String,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub cause: Option<String>,
}

#[derive(Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Finalized {
    pub execution: String,
    pub status: String,
    /// What was done: `ignored` (not an ending to clean up), `handled` (the workflow's failure
    /// path already ran) or `cleaned`.
    pub action: &'static str,
    pub step: Option<String>,
    pub warehouse: Option<WarehouseResult>,
    pub alerted: bool,
}

/// What the execution's history says about the run.
#[derive(Debug, Default, PartialEq)]
pub struct Seen {
    /// The run, from the last output of the Plan state.
    pub run: Option<Run>,
    /// The last state entered: where the execution was when it ended.
    pub last_state: Option<String>,
    pub resume_entered: bool,
    pub failure_path_done: bool,
    /// When the execution started (its first event), for the ledger's run row.
    pub started: Option<std::time::SystemTime>,
}

/// What finalize fails with: a step error from the clean-up (named as the steps name them), or the
/// alert that could not be published. EventBridge retries the invocation, then sends the event to
/// the rule's dead-letter queue.
#[derive(Debug, thiserror::Error)]
pub enum FinalizeError {
    #[error(transparent)]
    Step(#[from] StepError),
    /// SNS throttled, failing or unreachable.
    #[error("the alert could not be published: {0}")]
    AlertUnavailable(String),
}

impl FinalizeError {
    pub fn name(&self) -> &'static str {
        match self {
            FinalizeError::Step(e) => e.name(),
            FinalizeError::AlertUnavailable(_) => "Alert.Unavailable",
        }
    }
}

impl From<FinalizeError> for lambda_runtime::Diagnostic {
    fn from(e: FinalizeError) -> Self {
        tracing::error!(error_type = e.name(), error = %e, "finalize failed");
        lambda_runtime::Diagnostic {
            error_type: e.name().to_string(),
            error_message: e.to_string(),
        }
    }
}

pub async fn handle(
    env: &Env,
    aws: &Aws,
    event: LambdaEvent<Value>,
) -> Result<Finalized, FinalizeError> {
    let change: StatusChange = serde_json::from_value(event.payload)
        .map_err(|e| StepError::Malformed(format!("not an execution status change event: {e}")))?;
    if change.source != "aws.states" || change.detail_type != DETAIL_TYPE {
        return Err(StepError::Malformed(format!(
            "expected source aws.states and detail-type {DETAIL_TYPE:?}, got {:?} / {:?}",
            change.source, change.detail_type
        ))
        .into());
    }
    let ended = change.detail;
    let mut done = Finalized {
        execution: ended.execution_arn.clone(),
        status: ended.status.clone(),
        action: "ignored",
        step: None,
        warehouse: None,
        alerted: false,
    };
    if !matches!(ended.status.as_str(), "ABORTED" | "TIMED_OUT" | "FAILED") {
        return Ok(done);
    }
    let seen = read_history(aws, &ended.execution_arn).await?;
    done.step = seen.last_state.clone();
    if seen.failure_path_done {
        done.action = "handled";
        tracing::info!(execution = %ended.execution_arn, "the workflow's failure path already cleaned up and alerted");
        return Ok(done);
    }
    done.action = "cleaned";
    if let Some(run) = &seen.run
        && seen.resume_entered
    {
        // As the warehouse step: the as-found look it derives its request id from is that step's.
        let step = env.step(run, pipeline::StepId::Warehouse, event.context.deadline())?;
        let error = match ended.status.as_str() {
            "ABORTED" => "Execution.Stopped".to_string(),
            "TIMED_OUT" => "States.Timeout".to_string(),
            _ => ended
                .error
                .clone()
                .unwrap_or_else(|| "Execution.Failed".into()),
        };
        let ending = warehouse::Ending::Failed {
            step: seen.last_state.clone().unwrap_or_else(|| "unknown".into()),
            error,
        };
        done.warehouse =
            Some(warehouse::restore(&step, true, ending, seen.started, Default::default()).await?);
    }
    // A dry run pages no one (as the definition's AlertUnlessDryRun): cleaned up, not alerted.
    if seen.run.as_ref().is_some_and(|r| r.dry_run) {
        tracing::info!(execution = %ended.execution_arn, "a dry run: cleaned up, no alert");
        return Ok(done);
    }
    alert(aws, &ended, &seen).await?;
    done.alerted = true;
    Ok(done)
}

/// Reads the whole history (bounded: an execution has at most 25,000 events).
async fn read_history(aws: &Aws, execution: &str) -> Result<Seen, StepError> {
    let mut seen = Seen::default();
    let mut token = None;
    for _ in 0..MAX_HISTORY_PAGES {
        let page = aws
            .sfn
            .get_execution_history()
            .execution_arn(execution)
            .max_results(1000)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| {
                StepError::CoordinationUnavailable(format!(
                    "GetExecutionHistory {execution}: {}",
                    aws_sdk_sfn::error::DisplayErrorContext(&e)
                ))
            })?;
        for event in page.events() {
            seen.observe(event);
        }
        token = page.next_token;
        if token.is_none() {
            break;
        }
    }
    Ok(seen)
}

impl Seen {
    fn observe(&mut self, event: &aws_sdk_sfn::types::HistoryEvent) {
        if event.execution_started_event_details().is_some() {
            self.started = std::time::SystemTime::try_from(*event.timestamp()).ok();
        }
        if let Some(entered) = event.state_entered_event_details() {
            let name = entered.name();
            self.resume_entered |= name == RESUME_WAREHOUSE;
            self.last_state = Some(name.to_string());
        }
        if let Some(exited) = event.state_exited_event_details() {
            match exited.name() {
                NOTIFY_FAILURE | ALERT_UNLESS_DRY_RUN => self.failure_path_done = true,
                PLAN => {
                    if let Some(run) = exited.output().and_then(run_of_plan_output) {
                        self.run = Some(run);
                    }
                }
                _ => {}
            }
        }
    }
}

/// The run in the Plan state's output (`$.plan.run`).
fn run_of_plan_output(output: &str) -> Option<Run> {
    let value: Value = serde_json::from_str(output).ok()?;
    serde_json::from_value(value.get("plan")?.get("run")?.clone()).ok()
}

/// One alert, shaped like the workflow's own (`NotifyFailure`): subject, JSON message, attributes.
async fn alert(aws: &Aws, ended: &ExecutionEnded, seen: &Seen) -> Result<(), FinalizeError> {
    use aws_sdk_sns::types::MessageAttributeValue;
    let step = seen.last_state.as_deref().unwrap_or("unknown");
    let reason = match ended.status.as_str() {
        "ABORTED" => "stopped (StopExecution, e.g. from the console)".to_string(),
        "TIMED_OUT" => "the state machine's TimeoutSeconds passed".to_string(),
        _ => format!(
            "failed outside the workflow's failure path ({})",
            ended.error.as_deref().unwrap_or("no error name")
        ),
    };
    let message = serde_json::json!({
        "pipeline": seen.run.as_ref().map(|r| r.pipeline.as_str()),
        "runKey": seen.run.as_ref().map(|r| r.run_key.as_str()),
        "execution": ended.execution_arn,
        "status": ended.status,
        "step": step,
        "error": ended.error.as_deref().unwrap_or(&ended.status),
        "cause": ended.cause.as_deref().unwrap_or(&reason),
        "reason": reason,
    });
    let attribute = |value: &str| {
        MessageAttributeValue::builder()
            .data_type("String")
            .string_value(value)
            .build()
            .map_err(|e| FinalizeError::AlertUnavailable(e.to_string()))
    };
    aws.sns
        .publish()
        .topic_arn(&aws.topic)
        .subject(format!(
            "postetl run {}",
            ended.status.to_ascii_lowercase().replace('_', " ")
        ))
        .message(message.to_string())
        .message_attributes("execution", attribute(&ended.execution_arn)?)
        .message_attributes("step", attribute(step)?)
        .send()
        .await
        .map_err(|e| {
            FinalizeError::AlertUnavailable(format!(
                "SNS Publish: {}",
                aws_sdk_sns::error::DisplayErrorContext(&e)
            ))
        })?;
    tracing::warn!(execution = %ended.execution_arn, status = %ended.status, step, "alerted");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_run_comes_from_the_plan_output() {
        let output = serde_json::json!({"plan": {"run": {
            "pipeline": "orders", "runKey": "glue:j:1", "execution": "arn:x", "dryRun": false
        }, "gate": "proceed"}});
        let run = run_of_plan_output(&output.to_string()).unwrap();
        assert_eq!(
            (run.pipeline.as_str(), run.run_key.as_str()),
            ("orders", "glue:j:1")
        );
        assert!(run_of_plan_output("{}").is_none());
        assert!(run_of_plan_output("not json").is_none());
    }
}
