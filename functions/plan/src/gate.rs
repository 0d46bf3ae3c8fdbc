//! One run per pipeline at a time. Among the running executions of the state machine for the same
//! pipeline (dry runs aside), the oldest proceeds and the others wait; one that waits while a
//! newer one is already queued ends as superseded, since the newer run refreshes every table to
//! Glue's latest metadata anyway. So two runs never MERGE into the same tables at once.

use aws_sdk_sfn::config::http::HttpResponse;
use aws_sdk_sfn::error::ProvideErrorMetadata;
use aws_sdk_sfn::types::ExecutionStatus;
use pipeline::input::ExecutionInput;
use pipeline::{Config, StepError};
use serde_json::Value;
use std::time::{Duration, SystemTime};

#[derive(Debug, PartialEq, Eq)]
pub enum Gate {
    Proceed,
    Wait { behind: String },
    Superseded { by: String },
}

/// The pipeline an execution input starts, and whether it is a dry run; `None` when the input
/// would not plan (the plan step rejects it by name).
pub fn identify(config: &Config, input: &Value) -> Option<(String, bool)> {
    match ExecutionInput::parse(input).ok()? {
        ExecutionInput::Glue(event) => Some((
            config.pipeline_for_job(&event.job_name)?.name.clone(),
            false,
        )),
        ExecutionInput::Manual(manual) => {
            config.pipeline(&manual.pipeline)?;
            Some((manual.pipeline, manual.dry_run))
        }
    }
}

/// `arn:aws:states:R:A:execution:SM:NAME` runs on `arn:aws:states:R:A:stateMachine:SM`.
pub(crate) fn state_machine_of(execution: &str) -> Option<String> {
    let parts: Vec<&str> = execution.split(':').collect();
    (parts.len() >= 8 && parts[5] == "execution")
        .then(|| format!("{}:stateMachine:{}", parts[..5].join(":"), parts[6]))
}

/// The service's code and message, without the raw response that `Display` of an SDK error carries.
pub(crate) fn unavailable<E: ProvideErrorMetadata>(
    e: aws_sdk_sfn::error::SdkError<E, HttpResponse>,
) -> StepError {
    let reason = match e.as_service_error() {
        Some(s) => format!(
            "{}: {}",
            s.code().unwrap_or("error"),
            s.message().unwrap_or("")
        ),
        None => match e {
            aws_sdk_sfn::error::SdkError::TimeoutError(_) => "timed out".to_string(),
            aws_sdk_sfn::error::SdkError::DispatchFailure(_) => {
                "could not reach Step Functions".to_string()
            }
            _ => "unreadable answer from Step Functions".to_string(),
        },
    };
    StepError::CoordinationUnavailable(reason)
}

/// One page of the state machine's executions with `status`, newest first; `None` when there is
/// no such state machine (the step was invoked directly, e.g. a console test event).
pub(crate) async fn executions_page(
    sfn: &aws_sdk_sfn::Client,
    machine: &str,
    status: ExecutionStatus,
    max_results: Option<i32>,
    token: Option<String>,
) -> Result<Option<aws_sdk_sfn::operation::list_executions::ListExecutionsOutput>, StepError> {
    match sfn
        .list_executions()
        .state_machine_arn(machine)
        .status_filter(status)
        .set_max_results(max_results)
        .set_next_token(token)
        .send()
        .await
    {
        Ok(page) => Ok(Some(page)),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_state_machine_does_not_exist()) =>
        {
            Ok(None)
        }
        Err(e) => Err(unavailable(e)),
    }
}

pub async fn check(
    sfn: &aws_sdk_sfn::Client,
    config: &Config,
    execution: &str,
    pipeline: &str,
    max_wait: Duration,
) -> Result<Gate, StepError> {
    let Some(machine) = state_machine_of(execution) else {
        return Err(StepError::Malformed(format!(
            "{execution:?} is not an execution ARN"
        )));
    };
    let mut running = Vec::new();
    let mut token = None;
    loop {
        let Some(page) =
            executions_page(sfn, &machine, ExecutionStatus::Running, None, token).await?
        else {
            tracing::warn!(%machine, "no such state machine; not coordinating with other runs");
            return Ok(Gate::Proceed);
        };
        running.extend(page.executions);
        token = page.next_token;
        if token.is_none() {
            break;
        }
    }
    let order = |e: &aws_sdk_sfn::types::ExecutionListItem| {
        (e.start_date.as_secs_f64(), e.execution_arn.clone())
    };
    let Some(me) = running
        .iter()
        .find(|e| e.execution_arn == execution)
        .map(order)
    else {
        // Not listed as running (e.g. a direct invocation): nothing to coordinate with.
        return Ok(Gate::Proceed);
    };
    let waited = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|now| now.as_secs_f64() - me.0)
        .unwrap_or(0.0);
    let (mut older, mut newer) = (Vec::new(), Vec::new());
    for other in running.iter().filter(|e| e.execution_arn != execution) {
        let described = sfn
            .describe_execution()
            .execution_arn(&other.execution_arn)
            .send()
            .await
            .map_err(unavailable)?;
        let input: Value = described
            .input
            .as_deref()
            .and_then(|i| serde_json::from_str(i).ok())
            .unwrap_or(Value::Null);
        match identify(config, &input) {
            Some((p, false)) if p == pipeline => {
                if order(other) < me {
                    older.push(order(other))
                } else {
                    newer.push(order(other))
                }
            }
            _ => {}
        }
    }
    older.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    newer.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    Ok(match (older.first(), newer.last()) {
        (None, _) => Gate::Proceed,
        (Some(_), Some(newest)) => Gate::Superseded {
            by: newest.1.clone(),
        },
        (Some(oldest), None) if waited > max_wait.as_secs_f64() => {
            return Err(StepError::WaitedTooLong {
                behind: oldest.1.clone(),
                minutes: max_wait.as_secs() / 60,
            });
        }
        (Some(oldest), None) => Gate::Wait {
            behind: oldest.1.clone(),
        },
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn state_machine_from_execution() {
        assert_eq!(
            super::state_machine_of(
                "arn:aws:states:us-east-1:123456789012:execution:post-etl:run-1"
            )
            .as_deref(),
            Some("arn:aws:states:us-east-1:123456789012:stateMachine:post-etl")
        );
        assert_eq!(super::state_machine_of("run-1"), None);
    }
}
