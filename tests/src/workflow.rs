//! The real state machine definition (statemachine/post-etl.asl.json) deployed to local Step
//! Functions and driven only through the Step Functions API.

use crate::LocalAws;
use serde_json::Value;
use std::time::{Duration, Instant};

pub const STATE_MACHINE: &str = "post-etl";
const ACCOUNT: &str = "123456789012";
const ALERT_TOPIC: &str = "postetl-alerts";

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
}

impl Finished {
    pub fn entered(&self, state: &str) -> usize {
        self.states.iter().filter(|s| *s == state).count()
    }
}

/// The definition with its `${...}` substitutions filled as CloudFormation's
/// DefinitionSubstitutions would: function ARNs by binary name, and the alert topic.
pub fn definition(topic_arn: &str) -> String {
    let text = std::fs::read_to_string(crate::repo_root().join("statemachine/post-etl.asl.json"))
        .expect("the definition");
    let function = |name: &str| format!("arn:aws:lambda:us-east-1:{ACCOUNT}:function:{name}");
    [
        ("PlanFunctionArn", function("plan")),
        ("WarehouseFunctionArn", function("warehouse")),
        ("RefreshIcebergFunctionArn", function("refresh-iceberg")),
        ("RunMergeFunctionArn", function("run-merge")),
        ("DqCheckFunctionArn", function("dq-check")),
        ("RefreshMartsFunctionArn", function("refresh-marts")),
        ("AlertTopicArn", topic_arn.to_string()),
    ]
    .iter()
    .fold(text, |text, (key, value)| {
        text.replace(&format!("${{{key}}}"), value)
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
        let mut token = None;
        loop {
            let page = self
                .sfn
                .get_execution_history()
                .execution_arn(execution)
                .max_results(1000)
                .set_next_token(token)
                .send()
                .await
                .expect("history");
            for e in page.events() {
                events.push(e.r#type().as_str().to_string());
                if let Some(d) = e.state_entered_event_details() {
                    states.push(d.name().to_string());
                }
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
        }
    }
}
