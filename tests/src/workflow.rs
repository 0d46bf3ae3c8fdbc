//! The real state machine definition (statemachine/post-etl.asl.json) deployed to local Step
//! Functions and driven only through the Step Functions API.

use crate::LocalAws;
use serde_json::Value;
use std::time::{Duration, Instant};

pub const STATE_MACHINE: &str = "post-etl";
const ACCOUNT: &str = "123456789012";
const ALERT_TOPIC: &str = "postetl-alerts";

/// The recorded Glue completion event (statemachine/examples/glue-succeeded.json) for another job
/// run of the same job.
pub fn glue_event(job_run_id: &str) -> Value {
    let path = crate::repo_root().join("statemachine/examples/glue-succeeded.json");
    let text = std::fs::read_to_string(path).expect("the recorded Glue event");
    let mut event: Value = serde_json::from_str(&text).expect("JSON");
    event["detail"]["jobRunId"] = serde_json::json!(job_run_id);
    event
}

/// The ARN local SNS gives the alert topic `Workflow::deploy` creates.
pub fn alert_topic_arn() -> String {
    format!("arn:aws:sns:us-east-1:{ACCOUNT}:{ALERT_TOPIC}")
}

pub struct Workflow {
    pub sfn: aws_sdk_sfn::Client,
    pub arn: String,
    pub topic_arn: String,
}

/// How an execution ended, and the path it took.
#[derive(Debug)]
pub struct Finished {
    pub arn: String,
    pub status: String,
    pub output: Option<Value>,
    pub error: Option<String>,
    pub cause: Option<String>,
    /// Names of the states entered, in order (Map iterations included).
    pub states: Vec<String>,
    /// Every history event's type, in order.
    pub events: Vec<String>,
    /// The largest input or output of any state or task in the history, in bytes (Step Functions
    /// refuses more than 256 KiB with States.DataLimitExceeded).
    pub largest_state: usize,
}

impl Finished {
    pub fn entered(&self, state: &str) -> usize {
        self.states.iter().filter(|s| *s == state).count()
    }
}

/// The definition's substitution for the alert topic (the others name the step functions:
/// [`pipeline::StepId::substitution`]).
pub const ALERT_TOPIC_SUBSTITUTION: &str = "AlertTopicArn";

/// The definition with its `${...}` substitutions filled as CloudFormation's
/// DefinitionSubstitutions would: function ARNs by binary name, and the alert topic.
pub fn definition(topic_arn: &str) -> String {
    let text = std::fs::read_to_string(crate::repo_root().join("statemachine/post-etl.asl.json"))
        .expect("the definition");
    let function = |name: &str| format!("arn:aws:lambda:us-east-1:{ACCOUNT}:function:{name}");
    pipeline::StepId::ALL
        .iter()
        .filter_map(|id| Some((id.substitution()?, function(id.as_str()))))
        .chain([(ALERT_TOPIC_SUBSTITUTION, topic_arn.to_string())])
        .fold(text, |text, (key, value)| {
            text.replace(&format!("${{{key}}}"), &value)
        })
}

impl Workflow {
    pub async fn deploy(aws: &LocalAws) -> Self {
        let config = aws.sdk_config().await;
        let sns = aws_sdk_sns::Client::new(&config);
        let topic_arn = sns
            .create_topic()
            .name(ALERT_TOPIC)
            .send()
            .await
            .expect("create topic")
            .topic_arn
            .unwrap();
        let sfn = aws_sdk_sfn::Client::new(&config);
        let definition = definition(&topic_arn);
        assert!(!definition.contains("${"), "every substitution is filled");
        let arn = sfn
            .create_state_machine()
            .name(STATE_MACHINE)
            .definition(definition)
            .role_arn(format!("arn:aws:iam::{ACCOUNT}:role/postetl-states"))
            .r#type(aws_sdk_sfn::types::StateMachineType::Standard)
            .send()
            .await
            .expect("create the state machine")
            .state_machine_arn;
        Self {
            sfn,
            arn,
            topic_arn,
        }
    }

    pub async fn start(&self, name: &str, input: &Value) -> String {
        self.start_on(&self.arn, name, input).await
    }

    /// Starts a Step Functions Local mocked test case (`<arn>#<case>`).
    pub async fn start_case(&self, case: &str, name: &str, input: &Value) -> String {
        self.start_on(&format!("{}#{case}", self.arn), name, input)
            .await
    }

    async fn start_on(&self, arn: &str, name: &str, input: &Value) -> String {
        self.sfn
            .start_execution()
            .state_machine_arn(arn)
            .name(name)
            .input(input.to_string())
            .send()
            .await
            .expect("start the execution")
            .execution_arn
    }

    /// Waits (bounded) for the execution to end and reads its history.
    pub async fn wait(&self, execution: &str, limit: Duration) -> Finished {
        let started = Instant::now();
        let described = loop {
            let d = self
                .sfn
                .describe_execution()
                .execution_arn(execution)
                .send()
                .await
                .expect("describe");
            if d.status != aws_sdk_sfn::types::ExecutionStatus::Running {
                break d;
            }
            assert!(
                started.elapsed() < limit,
                "{execution} still running after {limit:?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        let mut states = Vec::new();
        let mut events = Vec::new();
        let mut largest_state = 0;
        let mut token = None;
        loop {
            // moto may answer 500 while a Map iteration cancelled by a failure still writes its
            // events after the execution ended: read again, a bounded number of times.
            let mut attempt = 0;
            let page = loop {
                match self
                    .sfn
                    .get_execution_history()
                    .execution_arn(execution)
                    .max_results(1000)
                    .set_next_token(token.clone())
                    .send()
                    .await
                {
                    Ok(page) => break page,
                    Err(e) if attempt < 5 => {
                        attempt += 1;
                        eprintln!("history of {execution}, attempt {attempt}: {e:?}");
                        tokio::time::sleep(Duration::from_millis(300)).await;
                    }
                    Err(e) => panic!("history of {execution}: {e:?}"),
                }
            };
            for e in page.events() {
                events.push(e.r#type().as_str().to_string());
                if let Some(d) = e.state_entered_event_details() {
                    states.push(d.name().to_string());
                }
                largest_state = largest_state.max(payload_size(e));
            }
            token = page.next_token;
            if token.is_none() {
                break;
            }
        }
        Finished {
            arn: execution.to_string(),
            status: described.status.as_str().to_string(),
            output: described.output.and_then(|o| serde_json::from_str(&o).ok()),
            error: described.error,
            cause: described.cause,
            states,
            events,
            largest_state,
        }
    }
}

/// The size of the JSON a history event carries: a state's input or output, a task's result.
fn payload_size(e: &aws_sdk_sfn::types::HistoryEvent) -> usize {
    let len = |s: Option<&str>| s.map_or(0, str::len);
    [
        e.state_entered_event_details()
            .map_or(0, |d| len(d.input())),
        e.state_exited_event_details()
            .map_or(0, |d| len(d.output())),
        e.task_succeeded_event_details()
            .map_or(0, |d| len(d.output())),
        e.lambda_function_succeeded_event_details()
            .map_or(0, |d| len(d.output())),
        e.execution_started_event_details()
            .map_or(0, |d| len(d.input())),
        e.execution_succeeded_event_details()
            .map_or(0, |d| len(d.output())),
    ]
    .into_iter()
    .max()
    .unwrap_or(0)
}

/// Runs a mocked test case of statemachine/mock-config.json on the second engine,
/// aws-local-stepfunctions (tests/sfn, installed by tests/setup.sh), which chooses mocked
/// responses as Step Functions Local does. Same definition, same mock file, same assertions.
pub fn run_case_on_local_sfn(case: &str, input: &Value) -> Finished {
    let dir = crate::repo_root().join("tests/sfn");
    let node = dir.join("node_modules/.bin/node");
    assert!(
        node.exists(),
        "{} is missing: run `bash tests/setup.sh`",
        node.display()
    );
    let filled = std::env::temp_dir().join(format!(
        "postetl-definition-{}-{case}.json",
        std::process::id()
    ));
    std::fs::write(
        &filled,
        definition("arn:aws:sns:us-east-1:123456789012:postetl-alerts"),
    )
    .expect("write the filled definition");
    let out = std::process::Command::new(node)
        .current_dir(&dir)
        .arg("run-mocked.mjs")
        .arg(&filled)
        .arg(crate::repo_root().join("statemachine/mock-config.json"))
        .arg(STATE_MACHINE)
        .arg(case)
        .arg(input.to_string())
        .output()
        .expect("run node");
    let _ = std::fs::remove_file(&filled);
    assert!(
        out.status.success(),
        "aws-local-stepfunctions on {case}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("one JSON report");
    let strings = |key: &str| -> Vec<String> {
        report[key]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    Finished {
        arn: format!("{case} on aws-local-stepfunctions"),
        status: report["status"].as_str().unwrap_or("?").to_string(),
        output: report.get("output").cloned(),
        error: report["error"].as_str().map(String::from),
        cause: report["cause"].as_str().map(String::from),
        states: strings("states"),
        events: strings("events"),
        largest_state: report.get("output").map_or(0, |o| o.to_string().len()),
    }
}
