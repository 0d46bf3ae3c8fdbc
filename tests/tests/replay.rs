//! Recorded Glue events replayed through the real state machine definition on local Step
//! Functions (moto's ASL interpreter), with the real Lambda binaries, local Glue and Secrets
//! Manager, and the Snowflake emulator. Driven only through the Step Functions API.

use postetl_tests::workflow::{Finished, Workflow};
use postetl_tests::world::World;
use serde_json::{Value, json};
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(180);

fn example(name: &str) -> Value {
    let path = postetl_tests::repo_root()
        .join("statemachine/examples")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

async fn world() -> (World, Workflow) {
    let log = std::env::temp_dir().join(format!("postetl-lambdas-{}.log", std::process::id()));
    let world = World::with_lambdas(Some(log)).await;
    let workflow = Workflow::deploy(&world.aws).await;
    (world, workflow)
}

fn path_of(finished: &Finished) -> Vec<&str> {
    let interesting = [
        "Plan",
        "ResumeWarehouse",
        "RefreshIcebergTables",
        "RunMerges",
        "CheckDataQuality",
        "QualityGate",
        "RefreshMarts",
        "SuspendWarehouse",
        "SuspendAfterFailure",
        "NotifyFailure",
        "Failed",
        "Succeeded",
    ];
    finished
        .states
        .iter()
        .map(String::as_str)
        .filter(|s| interesting.contains(s))
        .collect()
}

#[tokio::test]
async fn a_glue_event_brings_snowflake_up_to_date_once() {
    let (world, workflow) = world().await;
    world
        .glue_writes_orders(
            2,
            &[
                (1, 100, "NEW", "10.00", 600),
                (2, 101, "PAID", "25.50", 120),
                (2, 101, "SHIPPED", "25.50", 60),
                (3, 100, "NEW", "99.90", 30),
            ],
        )
        .await;
    let event = example("glue-succeeded.json");
    let execution = workflow.start("glue-run-1", &event).await;
    let finished = workflow.wait(&execution, LIMIT).await;
    assert_eq!(finished.status, "SUCCEEDED", "{finished:?}");
    assert_eq!(
        path_of(&finished),
        [
            "Plan",
            "ResumeWarehouse",
            "RefreshIcebergTables",
            "RunMerges",
            "CheckDataQuality",
            "QualityGate",
            "RefreshMarts",
            "SuspendWarehouse",
            "Succeeded"
        ]
    );
    assert_eq!(finished.entered("RefreshIcebergTable"), 2);
    assert_eq!(finished.entered("Merge"), 2);

    let e = &world.emulator;
    assert_eq!(
        e.sql("SELECT COUNT(*) FROM ANALYTICS.CORE.ORDERS").await[0][0],
        3
    );
    assert_eq!(
        e.sql("SELECT STATUS FROM ANALYTICS.CORE.ORDERS WHERE ORDER_ID = 2")
            .await[0][0],
        "SHIPPED"
    );
    assert_eq!(
        e.sql("SELECT COUNT(*) FROM ANALYTICS.CORE.CUSTOMERS").await[0][0],
        2
    );
    assert_eq!(
        e.sql("SELECT COUNT(*) FROM ANALYTICS.AUDIT.DQ_RESULTS")
            .await[0][0],
        6
    );
    assert_eq!(
        e.sql("SELECT COUNT(*) FROM ANALYTICS.MARTS.CUSTOMER_VALUE")
            .await[0][0],
        2
    );
    let wh = e.warehouses().await[0].clone();
    assert_eq!(
        (
            wh["state"].as_str(),
            wh["size"].as_str(),
            wh["resume_count"].as_u64()
        ),
        (Some("SUSPENDED"), Some("X-Small"), Some(1))
    );
    let output = finished.output.unwrap();
    assert_eq!(output["quality"]["result"]["passed"], 6);
    assert_eq!(output["merges"][0]["rowsInserted"], 3);

    // EventBridge delivers the same event again: a new execution, the same run, nothing runs twice.
    let again = workflow.start("glue-run-1-replayed", &event).await;
    let finished = workflow.wait(&again, LIMIT).await;
    assert_eq!(finished.status, "SUCCEEDED", "{finished:?}");
    assert_eq!(
        e.executions_of("MERGE INTO").await,
        2,
        "one per merge, across both executions"
    );
    assert_eq!(
        e.sql("SELECT COUNT(*) FROM ANALYTICS.AUDIT.DQ_RESULTS")
            .await[0][0],
        6
    );
    assert_eq!(e.warehouses().await[0]["resume_count"], 1);
}

#[tokio::test]
async fn rejected_events_alert_and_fail_without_touching_snowflake() {
    let (world, workflow) = world().await;
    for (name, file, error) in [
        ("failed-run", "glue-failed.json", "Input.NotSucceeded"),
        ("timeout-run", "glue-timeout.json", "Input.NotSucceeded"),
        ("unknown-job", "glue-unknown-job.json", "Input.UnknownJob"),
    ] {
        let execution = workflow.start(name, &example(file)).await;
        let finished = workflow.wait(&execution, LIMIT).await;
        assert_eq!(finished.status, "FAILED");
        assert_eq!(finished.error.as_deref(), Some(error), "{finished:?}");
        assert_eq!(path_of(&finished), ["Plan", "NotifyFailure", "Failed"]);
    }
    let execution = workflow
        .start("console-typo", &json!({"pipeline": "ordres"}))
        .await;
    let finished = workflow.wait(&execution, LIMIT).await;
    assert_eq!(finished.error.as_deref(), Some("Input.UnknownPipeline"));
    assert_eq!(world.emulator.log().await["executions"], json!([]));
}

#[tokio::test]
async fn a_failed_quality_gate_stops_before_the_marts_and_suspends() {
    let (world, workflow) = world().await;
    // Glue wrote an order without an amount: the not_null rule (severity error) fails.
    world
        .glue_writes_orders(2, &[(1, 100, "NEW", "10.00", 600), (5, 101, "NEW", "", 5)])
        .await;
    let execution = workflow
        .start("bad-data", &example("glue-succeeded.json"))
        .await;
    let finished = workflow.wait(&execution, LIMIT).await;
    assert_eq!(finished.status, "FAILED");
    assert_eq!(finished.error.as_deref(), Some("DataQuality.Failed"));
    assert!(
        finished
            .cause
            .as_deref()
            .unwrap_or("")
            .contains("orders_amount_not_null"),
        "{finished:?}"
    );
    assert_eq!(
        path_of(&finished),
        [
            "Plan",
            "ResumeWarehouse",
            "RefreshIcebergTables",
            "RunMerges",
            "CheckDataQuality",
            "QualityGate",
            "SuspendAfterFailure",
            "NotifyFailure",
            "Failed"
        ]
    );
    let dynamic = world.emulator.admin_get("_emulator/dynamic_tables").await;
    assert_eq!(
        dynamic["dynamic_tables"][0]["refresh_count"], 1,
        "marts untouched"
    );
    assert_eq!(world.emulator.warehouses().await[0]["state"], "SUSPENDED");
}

#[tokio::test]
async fn a_dry_run_from_the_console_changes_nothing() {
    let (world, workflow) = world().await;
    // Yesterday's run left the modelled table in good shape; the dry run checks it as it is.
    world
        .emulator
        .sql("INSERT INTO ANALYTICS.CORE.ORDERS VALUES (1, 100, 'NEW', 10.00, CAST(NOW() AS TIMESTAMP) - INTERVAL 1 HOUR)")
        .await;
    let execution = workflow
        .start("dry", &example("console-orders-dry-run.json"))
        .await;
    let finished = workflow.wait(&execution, LIMIT).await;
    assert_eq!(finished.status, "SUCCEEDED", "{finished:?}");
    let e = &world.emulator;
    assert_eq!(e.executions_of("MERGE").await, 0);
    assert_eq!(e.executions_of("ALTER ICEBERG").await, 0);
    assert_eq!(e.executions_of("INSERT").await, 0, "no audit rows either");
    let wh = e.warehouses().await[0].clone();
    assert_eq!(
        (wh["state"].as_str(), wh["size"].as_str()),
        (Some("SUSPENDED"), Some("X-Small")),
        "resumed for the reads, then suspended"
    );
    let output = finished.output.unwrap();
    assert!(
        output["merges"][0]["dryRunSql"]
            .as_str()
            .unwrap()
            .starts_with("MERGE INTO")
    );
    assert_eq!(
        output["marts"]["result"]["skipped"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
}
