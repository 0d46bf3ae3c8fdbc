//! What an execution starts from, read in one place: the EventBridge `Glue Job State Change` event
//! (automatic start) or a console input such as
//! `{"pipeline": "orders", "dryRun": true, "tables": ["ORDERS"], "force": true}`. The plan step,
//! its gate (reading other executions' inputs) and the CLI (writing console inputs) all use it.

use crate::error::StepError;
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Clone, Debug, PartialEq)]
pub enum ExecutionInput {
    Glue(GlueEvent),
    Manual(ManualInput),
}

/// A console start.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ManualInput {
    pub pipeline: String,
    /// Log every statement instead of running it.
    #[serde(default, skip_serializing_if = "is_false")]
    pub dry_run: bool,
    /// Narrow the run to these Iceberg tables (full or table name) and what depends on them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tables: Option<Vec<String>>,
    /// Names the run for request-id de-duplication; defaults to the execution, so a new manual
    /// execution is new work while a redrive of the same execution is not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_key: Option<String>,
    /// Run everything, changed since the last successful run or not.
    #[serde(default, skip_serializing_if = "is_false")]
    pub force: bool,
}

fn is_false(b: &bool) -> bool {
    !b
}

/// The parts of a Glue job state change event a run uses.
#[derive(Clone, Debug, PartialEq)]
pub struct GlueEvent {
    pub job_name: String,
    pub state: String,
    pub job_run_id: String,
    /// The event's `time`.
    pub time: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GlueDetail {
    job_name: String,
    state: String,
    job_run_id: String,
}

impl ExecutionInput {
    /// Reads an execution input; malformed ones fail as `Input.Malformed` with what was expected.
    pub fn parse(input: &Value) -> Result<Self, StepError> {
        if input.get("detail-type").is_none() && input.get("source").is_none() {
            return serde_json::from_value(input.clone())
                .map(Self::Manual)
                .map_err(|e| {
                    StepError::Malformed(format!(
                        "expected a Glue Job State Change event or {{\"pipeline\": \"..\", \"dryRun\": bool, \"tables\": [..], \"force\": bool}}: {e}"
                    ))
                });
        }
        let source = input.get("source").and_then(Value::as_str);
        let kind = input.get("detail-type").and_then(Value::as_str);
        if source != Some("aws.glue") || kind != Some("Glue Job State Change") {
            return Err(StepError::Malformed(format!(
                "an event from {source:?} of type {kind:?}; expected aws.glue \"Glue Job State Change\""
            )));
        }
        let detail = input.get("detail").cloned().unwrap_or(Value::Null);
        let detail: GlueDetail = serde_json::from_value(detail).map_err(|e| {
            StepError::Malformed(format!(
                "the Glue event's detail lacks jobName, state or jobRunId: {e}"
            ))
        })?;
        Ok(Self::Glue(GlueEvent {
            job_name: detail.job_name,
            state: detail.state,
            job_run_id: detail.job_run_id,
            time: input.get("time").and_then(Value::as_str).map(String::from),
        }))
    }
}

impl ManualInput {
    /// The input as the console takes it.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).expect("a console input serialises")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn console_inputs_round_trip_with_only_what_was_given() {
        let input = ManualInput {
            pipeline: "orders".into(),
            force: true,
            tables: Some(vec!["ORDERS".into()]),
            ..Default::default()
        };
        assert_eq!(
            input.to_json(),
            json!({"pipeline": "orders", "tables": ["ORDERS"], "force": true})
        );
        assert_eq!(
            ExecutionInput::parse(&input.to_json()).unwrap(),
            ExecutionInput::Manual(input)
        );
    }

    #[test]
    fn events_and_mistakes_are_told_apart() {
        let event = json!({"source": "aws.glue", "detail-type": "Glue Job State Change",
            "time": "2026-12-02T10:00:00Z",
            "detail": {"jobName": "j", "state": "SUCCEEDED", "jobRunId": "jr_1"}});
        let ExecutionInput::Glue(glue) = ExecutionInput::parse(&event).unwrap() else {
            panic!("a Glue event")
        };
        assert_eq!(
            (glue.job_name.as_str(), glue.time.as_deref()),
            ("j", Some("2026-12-02T10:00:00Z"))
        );
        for (bad, says) in [
            (json!({"source": "aws.s3"}), "expected aws.glue"),
            (
                json!({"source": "aws.glue", "detail-type": "Glue Job State Change", "detail": {}}),
                "lacks jobName",
            ),
            (
                json!({"pipeline": "orders", "dryrun": true}),
                "unknown field",
            ),
        ] {
            let e = ExecutionInput::parse(&bad).unwrap_err();
            assert_eq!(e.name(), "Input.Malformed");
            assert!(e.to_string().contains(says), "{e}");
        }
    }
}
