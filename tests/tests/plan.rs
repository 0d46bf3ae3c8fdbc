//! The plan handler with recorded Glue events and console inputs (statemachine/examples), the
//! sample config, and Glue GetJobRun answered by local AWS.

use lambda_runtime::{Context, LambdaEvent};
use pipeline::Deployed;
use pipeline::steps::{Plan, PlanRequest, Trigger};
use postetl_tests::{LocalAws, repo_root};
use serde_json::{Value, json};

const EXECUTION: &str = "arn:aws:states:us-east-1:123456789012:execution:post-etl:run-1";

/// Planning never calls Snowflake: the deployed config is all it loads.
fn env_with(config: &str) -> Deployed {
    Deployed::load(&repo_root().join(config))
}

fn example(name: &str) -> Value {
    serde_json::from_str(
        &std::fs::read_to_string(repo_root().join("statemachine/examples").join(name)).unwrap(),
    )
    .unwrap()
}

async fn plan(
    env: &Deployed,
    glue: Option<&aws_sdk_glue::Client>,
    input: Value,
) -> Result<Plan, pipeline::StepError> {
    let aws = plan::Aws {
        glue: glue.cloned(),
        sfn: None,
    };
    let request = PlanRequest {
        input,
        execution: EXECUTION.into(),
    };
    plan::handle(env, &aws, LambdaEvent::new(request, Context::default())).await
}

#[tokio::test]
async fn a_succeeded_glue_event_plans_the_whole_pipeline_with_the_job_run() {
    let env = env_with("statemachine/pipelines.toml");
    let aws = LocalAws::start();
    let glue = aws.glue().await;
    glue.create_job()
        .name("orders-to-iceberg")
        .role("arn:aws:iam::123456789012:role/glue")
        .command(
            aws_sdk_glue::types::JobCommand::builder()
                .name("glueetl")
                .script_location("s3://x/job.py")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let run_id = glue
        .start_job_run()
        .job_name("orders-to-iceberg")
        .send()
        .await
        .unwrap()
        .job_run_id
        .unwrap();
    let mut event = example("glue-succeeded.json");
    event["detail"]["jobRunId"] = json!(run_id);

    let plan = plan(&env, Some(&glue), event).await.unwrap();
    assert_eq!(plan.run.pipeline, "orders");
    assert_eq!(plan.run.run_key, format!("glue:orders-to-iceberg:{run_id}"));
    assert!(!plan.run.dry_run);
    assert_eq!(
        plan.iceberg_tables,
        ["LAKE.RAW.ORDERS", "LAKE.RAW.CUSTOMERS"]
    );
    assert_eq!(plan.merges, ["orders", "customers"]);
    // pipelines.toml: poll every 30 s, wait at most 60 min (the default) behind another run,
    // statements of this pipeline time out after 30 min; three marts.
    assert_eq!(
        plan.limits,
        pipeline::steps::PollLimits {
            gate_polls: 121,
            merge_polls: 61,
            mart_polls: 183
        }
    );
    assert_eq!((plan.checks, plan.max_concurrency), (6, 4));
    assert_eq!(plan.marts, ["daily_revenue", "customer_value", "exports"]);
    assert_eq!(
        (plan.warehouse.as_str(), plan.warehouse_size.as_deref()),
        ("POSTETL_WH", Some("SMALL"))
    );
    let Trigger::Glue {
        job_run: Some(run), ..
    } = &plan.trigger
    else {
        panic!("{:?}", plan.trigger)
    };
    assert!(run.state.is_some());

    // The same event again (EventBridge delivers at least once) is the same run.
    let mut again = example("glue-succeeded.json");
    again["detail"]["jobRunId"] = json!(run_id);
    assert_eq!(plan_run_key(&env, again).await, plan.run.run_key);

    // A job run Glue does not know: planned all the same, without the record.
    let plan = self::plan(&env, Some(&glue), example("glue-succeeded.json"))
        .await
        .unwrap();
    assert!(matches!(plan.trigger, Trigger::Glue { job_run: None, .. }));
}

async fn plan_run_key(env: &Deployed, input: Value) -> String {
    plan(env, None, input).await.unwrap().run.run_key
}

#[tokio::test]
async fn bad_events_get_named_errors() {
    let env = env_with("statemachine/pipelines.toml");
    let name = |r: Result<Plan, pipeline::StepError>| r.unwrap_err().name();
    assert_eq!(
        name(plan(&env, None, example("glue-failed.json")).await),
        "Input.NotSucceeded"
    );
    assert_eq!(
        name(plan(&env, None, example("glue-timeout.json")).await),
        "Input.NotSucceeded"
    );
    assert_eq!(
        name(plan(&env, None, example("glue-unknown-job.json")).await),
        "Input.UnknownJob"
    );
    let mut other = example("glue-succeeded.json");
    other["source"] = json!("aws.s3");
    assert_eq!(name(plan(&env, None, other).await), "Input.Malformed");
    let mut no_run = example("glue-succeeded.json");
    no_run["detail"].as_object_mut().unwrap().remove("jobRunId");
    assert_eq!(name(plan(&env, None, no_run).await), "Input.Malformed");
    for bad in [
        json!([]),
        json!("orders"),
        json!({}),
        json!({"pipeline": 3}),
        json!({"pipeline": "orders", "dryrun": true}),
    ] {
        assert_eq!(
            name(plan(&env, None, bad.clone()).await),
            "Input.Malformed",
            "{bad}"
        );
    }
    assert_eq!(
        name(plan(&env, None, json!({"pipeline": "nope"})).await),
        "Input.UnknownPipeline"
    );
    assert_eq!(
        name(
            plan(
                &env,
                None,
                json!({"pipeline": "orders", "tables": ["NOPE"]})
            )
            .await
        ),
        "Input.UnknownItem"
    );
}

#[tokio::test]
async fn console_inputs_plan_manual_runs() {
    let env = env_with("statemachine/pipelines.toml");
    let plan = plan(&env, None, example("console-orders.json"))
        .await
        .unwrap();
    assert_eq!(plan.run.run_key, "manual:run-1");
    assert_eq!(plan.trigger, Trigger::Manual);
    assert_eq!(plan.iceberg_tables.len(), 2);

    let plan = self::plan(&env, None, example("console-orders-dry-run.json"))
        .await
        .unwrap();
    assert!(plan.run.dry_run);
    assert_eq!(plan.iceberg_tables, ["LAKE.RAW.ORDERS"]);

    let rerun = self::plan(
        &env,
        None,
        json!({"pipeline": "orders", "runKey": "backfill-2026-11-22"}),
    )
    .await
    .unwrap();
    assert_eq!(rerun.run.run_key, "backfill-2026-11-22");
}

#[tokio::test]
async fn an_invalid_config_fails_every_invocation_by_name() {
    let dir = std::env::temp_dir().join(format!("postetl-bad-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("pipelines.toml");
    std::fs::write(
        &path,
        "[pipelines.orders]\nglue_jobs = []\nwarehouse = \"WH\"\n",
    )
    .unwrap();
    let env = env_with(path.to_str().unwrap());
    let err = plan(&env, None, example("console-orders.json"))
        .await
        .unwrap_err();
    assert_eq!(err.name(), "Config.Invalid");
    assert!(
        err.to_string().contains("pipelines.orders.glue_jobs"),
        "{err}"
    );
}

#[tokio::test]
async fn a_direct_invocation_outside_any_state_machine_proceeds() {
    let env = env_with("statemachine/pipelines.toml");
    let aws = LocalAws::start();
    let clients = plan::Aws {
        glue: Some(aws_sdk_glue::Client::new(&aws.sdk_config().await)),
        sfn: Some(aws_sdk_sfn::Client::new(&aws.sdk_config().await)),
    };
    let request = PlanRequest {
        input: example("console-orders.json"),
        execution: EXECUTION.into(),
    };
    let plan = plan::handle(
        &env,
        &clients,
        LambdaEvent::new(request, Context::default()),
    )
    .await
    .unwrap();
    assert_eq!(plan.gate, pipeline::steps::Gate::Proceed);
    // No state machine, so no earlier run to compare with; Glue has no such tables: all of them
    // count as changed.
    assert_eq!(plan.changed_since, None);
    assert_eq!(plan.iceberg_tables.len(), 2);
    assert!(plan.skipped.is_empty());
}
