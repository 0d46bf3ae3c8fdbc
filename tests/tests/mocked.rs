//! Step Functions Local mocked test cases (statemachine/mock-config.json) against the real
//! definition: every Catch, the retries that then succeed, the quality stop and the long-statement
//! loops, without Lambdas or Snowflake.

use postetl_tests::LocalAws;
use postetl_tests::workflow::{Finished, Workflow};
use serde_json::json;
use std::time::Duration;

async fn run_case(case: &str) -> Finished {
    let mocks = postetl_tests::repo_root().join("statemachine/mock-config.json");
    let aws = LocalAws::start_with(None, Some(&mocks));
    let workflow = Workflow::deploy(&aws).await;
    let execution = workflow
        .start_case(case, case, &json!({"pipeline": "orders"}))
        .await;
    workflow.wait(&execution, Duration::from_secs(120)).await
}

fn top_level(f: &Finished) -> Vec<&str> {
    let inner = [
        "RefreshIcebergTable",
        "Merge",
        "MergeFinished?",
        "WaitForMerge",
        "ResumeMerge",
        "MergeDone",
    ];
    f.states
        .iter()
        .map(String::as_str)
        .filter(|s| !inner.contains(s))
        .collect()
}

const HAPPY: &[&str] = &[
    "Plan",
    "RunGate",
    "InitWarehouse",
    "ResumeWarehouse",
    "RefreshIcebergTables",
    "RunMerges",
    "CheckDataQuality",
    "QualityGate",
    "RefreshMarts",
    "MartsFinished?",
    "SuspendWarehouse",
    "Succeeded",
];

#[tokio::test]
async fn happy_path() {
    let f = run_case("HappyPath").await;
    assert_eq!(f.status, "SUCCEEDED", "{f:?}");
    assert_eq!(top_level(&f), HAPPY);
    assert_eq!(
        (f.entered("RefreshIcebergTable"), f.entered("Merge")),
        (2, 2)
    );
}

#[tokio::test]
async fn a_rejected_plan_alerts_and_fails_without_suspending() {
    let f = run_case("PlanRejected").await;
    assert_eq!(f.status, "FAILED");
    assert_eq!(f.error.as_deref(), Some("Input.NotSucceeded"));
    assert_eq!(
        top_level(&f),
        ["Plan", "RecordFailurePlan", "NotifyFailure", "Failed"]
    );
}

#[tokio::test]
async fn a_sql_error_is_not_retried_and_the_warehouse_is_suspended() {
    let f = run_case("MergeSqlError").await;
    assert_eq!(f.status, "FAILED");
    assert_eq!(f.error.as_deref(), Some("Snowflake.SqlError"));
    assert_eq!(
        top_level(&f),
        [
            "Plan",
            "RunGate",
            "InitWarehouse",
            "ResumeWarehouse",
            "RefreshIcebergTables",
            "RunMerges",
            "RecordFailureMerge",
            "SuspendAfterFailure",
            "NotifyFailure",
            "Failed"
        ]
    );
    // No retry: every task was scheduled once per entry. (How many merges started before the Map
    // gave up on the first failure depends on timing.)
    let count = |kind: &str| f.events.iter().filter(|e| *e == kind).count();
    assert!(count("TaskFailed") >= 1);
    assert_eq!(
        count("TaskScheduled"),
        count("TaskStateEntered"),
        "{:?}",
        f.events
    );
}

#[tokio::test]
async fn throttling_is_retried_with_backoff_until_it_passes() {
    let f = run_case("MergeThrottledThenSucceeds").await;
    assert_eq!(f.status, "SUCCEEDED", "{f:?}");
    assert_eq!(top_level(&f), HAPPY);
    assert!(f.events.iter().filter(|e| *e == "TaskFailed").count() >= 2);
}

#[tokio::test]
async fn lambda_service_errors_are_retried() {
    let f = run_case("LambdaServiceErrorRetried").await;
    assert_eq!(f.status, "SUCCEEDED", "{f:?}");
    assert!(f.events.iter().any(|e| e == "TaskFailed"));
}

#[tokio::test]
async fn a_long_merge_is_waited_for_and_resumed() {
    let f = run_case("LongMergeLoop").await;
    assert_eq!(f.status, "SUCCEEDED", "{f:?}");
    assert_eq!(
        (f.entered("WaitForMerge"), f.entered("ResumeMerge")),
        (2, 2)
    );
}

#[tokio::test]
async fn long_mart_refreshes_are_waited_for_and_resumed() {
    let f = run_case("LongMartsLoop").await;
    assert_eq!(f.status, "SUCCEEDED", "{f:?}");
    assert_eq!(
        (f.entered("WaitForMarts"), f.entered("ResumeMarts")),
        (1, 1)
    );
}

#[tokio::test]
async fn a_failed_error_rule_stops_before_the_marts() {
    let f = run_case("QualityStop").await;
    assert_eq!(f.status, "FAILED");
    assert_eq!(f.error.as_deref(), Some("DataQuality.Failed"));
    assert!(
        f.cause
            .as_deref()
            .unwrap()
            .contains("orders_amount_not_null")
    );
    assert_eq!(f.entered("RefreshMarts"), 0);
    assert_eq!(f.entered("SuspendAfterFailure"), 1);
}

#[tokio::test]
async fn a_suspend_that_keeps_failing_still_alerts() {
    let f = run_case("SuspendFails").await;
    assert_eq!(f.status, "FAILED");
    assert_eq!(f.error.as_deref(), Some("Snowflake.Unavailable"));
    assert_eq!(
        &top_level(&f)[top_level(&f).len() - 3..],
        ["RecordFailureSuspend", "NotifyFailure", "Failed"]
    );
}

// Waiting and planning again cannot be mocked: Step Functions Local counts mocked responses by
// retry attempt, and a re-entered state starts again at attempt 0. tests/replay.rs covers it for real.
#[tokio::test]
async fn a_superseded_run_ends_cleanly_before_touching_snowflake() {
    let f = run_case("Superseded").await;
    assert_eq!(f.status, "SUCCEEDED", "{f:?}");
    assert_eq!(top_level(&f), ["Plan", "RunGate", "Superseded"]);
}
