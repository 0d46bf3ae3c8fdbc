//! The mocked test cases of statemachine/mock-config.json (Step Functions Local's format) against
//! the real definition: every Catch, the retries that then succeed, the quality stop, the poll
//! loops and their caps, the gate's wait, without Lambdas or Snowflake.
//!
//! Every case runs on two engines with the same assertions: moto's ASL interpreter driven through
//! the Step Functions API (tests/aws), and aws-local-stepfunctions (tests/sfn), written apart from
//! it. Both choose mocked responses as Step Functions Local does: one counter per Task state per
//! execution, advanced on every invocation (retries, Map iterations and re-entries all count), and
//! a number without a response fails the execution with States.Runtime. So the numbers in the mock
//! file are sized for that counter, and the same file replays on Step Functions Local itself
//! (README, "Replaying the mocked cases").

use postetl_tests::LocalAws;
use postetl_tests::workflow::{Finished, Workflow, run_case_on_local_sfn};
use serde_json::json;
use std::time::Duration;

#[derive(Clone, Copy)]
enum Engine {
    Moto,
    LocalSfn,
}

async fn run_case(engine: Engine, case: &str) -> Finished {
    let input = json!({"pipeline": "orders"});
    match engine {
        Engine::Moto => {
            let mocks = postetl_tests::repo_root().join("statemachine/mock-config.json");
            let aws = LocalAws::start_with(None, Some(&mocks));
            let workflow = Workflow::deploy(&aws).await;
            let execution = workflow.start_case(case, case, &input).await;
            workflow.wait(&execution, Duration::from_secs(120)).await
        }
        Engine::LocalSfn => {
            let case = case.to_string();
            tokio::task::spawn_blocking(move || run_case_on_local_sfn(&case, &input))
                .await
                .expect("the engine run")
        }
    }
}

fn top_level(f: &Finished) -> Vec<&str> {
    let inner = [
        "RefreshIcebergTable",
        "Merge",
        "MergeFinished?",
        "CountMergePoll",
        "WaitForMerge",
        "ResumeMerge",
        "MergePollLimitExceeded",
        "MergeDone",
    ];
    f.states
        .iter()
        .map(String::as_str)
        .filter(|s| !inner.contains(s))
        .collect()
}

fn count(f: &Finished, event: &str) -> usize {
    f.events.iter().filter(|e| *e == event).count()
}

const HAPPY: &[&str] = &[
    "Start",
    "Plan",
    "RunGate",
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

async fn happy_path(engine: Engine) {
    let f = run_case(engine, "HappyPath").await;
    assert_eq!(f.status, "SUCCEEDED", "{f:?}");
    assert_eq!(top_level(&f), HAPPY);
    assert_eq!(
        (f.entered("RefreshIcebergTable"), f.entered("Merge")),
        (2, 2)
    );
    // Only what the summary needs travels to the end: no plan items, no SQL text.
    let output = f.output.unwrap();
    assert_eq!(output["refresh"], json!([true, true]));
    let mut merges = output["merges"].as_array().unwrap().clone();
    merges.sort_by_key(|m| m["merge"].as_str().map(String::from));
    assert_eq!(
        merges,
        [
            json!({"merge": "customers", "rowsInserted": 2, "rowsUpdated": 0, "rowsDeleted": 0,
                   "fromEarlierRun": false}),
            json!({"merge": "orders", "rowsInserted": 3, "rowsUpdated": 1, "rowsDeleted": 0,
                   "fromEarlierRun": false}),
        ]
    );
    assert_eq!(output["plan"]["merges"], json!(["orders", "customers"]));
    assert_eq!(output["warehouse"], json!({"resumed": true}));
}

async fn a_waiting_run_plans_again_and_proceeds(engine: Engine) {
    let f = run_case(engine, "GateWaitsThenProceeds").await;
    assert_eq!(f.status, "SUCCEEDED", "{f:?}");
    assert_eq!(
        &top_level(&f)[..6],
        [
            "Start",
            "Plan",
            "RunGate",
            "CountGateWait",
            "WaitForPreviousRun",
            "Plan"
        ]
    );
    assert_eq!(f.entered("SuspendWarehouse"), 1);
    assert_eq!(f.output.unwrap()["polls"]["gate"], 1);
}

async fn a_run_that_waits_past_the_gate_limit_alerts_without_touching_the_warehouse(
    engine: Engine,
) {
    let f = run_case(engine, "GateWaitsTooLong").await;
    assert_eq!(f.status, "FAILED", "{f:?}");
    assert_eq!(f.error.as_deref(), Some("Workflow.PollLimitExceeded"));
    assert!(f.cause.as_deref().unwrap().contains("post-etl:older"));
    assert_eq!((f.entered("Plan"), f.entered("WaitForPreviousRun")), (3, 2));
    assert_eq!(
        &top_level(&f)[top_level(&f).len() - 4..],
        [
            "RecordGatePollLimit",
            "AlertUnlessDryRun",
            "NotifyFailure",
            "Failed"
        ]
    );
    // The older run holds the warehouse: this one must not suspend it.
    assert_eq!(f.entered("SuspendAfterFailure"), 0);
}

async fn a_rejected_plan_alerts_and_fails_without_suspending(engine: Engine) {
    let f = run_case(engine, "PlanRejected").await;
    assert_eq!(f.status, "FAILED");
    assert_eq!(f.error.as_deref(), Some("Input.NotSucceeded"));
    assert_eq!(
        top_level(&f),
        [
            "Start",
            "Plan",
            "RecordFailurePlan",
            "AlertUnlessDryRun",
            "NotifyFailure",
            "Failed"
        ]
    );
}

async fn a_sql_error_is_not_retried_and_the_warehouse_is_suspended(engine: Engine) {
    let f = run_case(engine, "MergeSqlError").await;
    assert_eq!(f.status, "FAILED");
    assert_eq!(f.error.as_deref(), Some("Snowflake.SqlError"));
    assert_eq!(
        top_level(&f),
        [
            "Start",
            "Plan",
            "RunGate",
            "ResumeWarehouse",
            "RefreshIcebergTables",
            "RunMerges",
            "RecordFailureMerge",
            "SuspendAfterFailure",
            "AlertUnlessDryRun",
            "NotifyFailure",
            "Failed"
        ]
    );
    // No retry: no task was scheduled more than once per entry. (How many merges started before
    // the Map gave up on the first failure depends on timing: an iteration the Map stopped may
    // have entered its task without scheduling it.)
    assert!(count(&f, "TaskFailed") >= 1);
    assert!(
        count(&f, "TaskScheduled") <= count(&f, "TaskStateEntered"),
        "{:?}",
        f.events
    );
}

async fn throttling_is_retried_with_backoff_until_it_passes(engine: Engine) {
    let f = run_case(engine, "MergeThrottledThenSucceeds").await;
    assert_eq!(f.status, "SUCCEEDED", "{f:?}");
    assert_eq!(top_level(&f), HAPPY);
    // Responses 0 and 1 of the Merge state throw, whichever iteration drew them; 2 and 3 return.
    assert_eq!(count(&f, "TaskFailed"), 2, "{:?}", f.events);
    assert_eq!(f.entered("Merge"), 2);
}

async fn lambda_service_errors_are_retried(engine: Engine) {
    let f = run_case(engine, "LambdaServiceErrorRetried").await;
    assert_eq!(f.status, "SUCCEEDED", "{f:?}");
    assert_eq!(count(&f, "TaskFailed"), 1);
}

async fn lambda_unknown_is_not_retried_and_takes_the_failure_path(engine: Engine) {
    let f = run_case(engine, "LambdaUnknownNotRetried").await;
    assert_eq!(f.status, "FAILED", "{f:?}");
    assert_eq!(f.error.as_deref(), Some("Lambda.Unknown"));
    // Not invoked again: at most one failed attempt per iteration (both iterations draw a failing
    // response, the second only if it started before the Map gave up), and no task scheduled more
    // than once per entry (an iteration the Map stopped may have entered its task unscheduled).
    assert!(
        count(&f, "TaskFailed") <= count(&f, "MapIterationStarted"),
        "{:?}",
        f.events
    );
    assert!(
        count(&f, "TaskScheduled") <= count(&f, "TaskStateEntered"),
        "a function timeout is not invoked again: {:?}",
        f.events
    );
    assert_eq!(
        &top_level(&f)[top_level(&f).len() - 5..],
        [
            "RecordFailureRefresh",
            "SuspendAfterFailure",
            "AlertUnlessDryRun",
            "NotifyFailure",
            "Failed"
        ]
    );
}

async fn a_long_merge_is_waited_for_and_resumed(engine: Engine) {
    let f = run_case(engine, "LongMergeLoop").await;
    assert_eq!(f.status, "SUCCEEDED", "{f:?}");
    assert_eq!(
        (f.entered("WaitForMerge"), f.entered("ResumeMerge")),
        (2, 2)
    );
}

async fn a_merge_still_running_at_the_poll_limit_fails_through_the_failure_path(engine: Engine) {
    let f = run_case(engine, "MergePollLimit").await;
    assert_eq!(f.status, "FAILED", "{f:?}");
    assert_eq!(f.error.as_deref(), Some("Workflow.PollLimitExceeded"));
    // limits.mergePolls = 3: the first iteration to reach it fails the Map.
    assert!(f.entered("MergePollLimitExceeded") >= 1);
    assert!((3..=6).contains(&f.entered("ResumeMerge")), "{f:?}");
    assert_eq!(
        &top_level(&f)[top_level(&f).len() - 5..],
        [
            "RecordFailureMerge",
            "SuspendAfterFailure",
            "AlertUnlessDryRun",
            "NotifyFailure",
            "Failed"
        ]
    );
}

async fn long_mart_refreshes_are_waited_for_and_resumed(engine: Engine) {
    let f = run_case(engine, "LongMartsLoop").await;
    assert_eq!(f.status, "SUCCEEDED", "{f:?}");
    assert_eq!(
        (f.entered("WaitForMarts"), f.entered("ResumeMarts")),
        (1, 1)
    );
}

async fn marts_still_running_at_the_poll_limit_fail_through_the_failure_path(engine: Engine) {
    let f = run_case(engine, "MartsPollLimit").await;
    assert_eq!(f.status, "FAILED", "{f:?}");
    assert_eq!(f.error.as_deref(), Some("Workflow.PollLimitExceeded"));
    assert_eq!(f.entered("ResumeMarts"), 3);
    assert_eq!(
        &top_level(&f)[top_level(&f).len() - 5..],
        [
            "RecordMartsPollLimit",
            "SuspendAfterFailure",
            "AlertUnlessDryRun",
            "NotifyFailure",
            "Failed"
        ]
    );
}

async fn a_failed_error_rule_stops_before_the_marts(engine: Engine) {
    let f = run_case(engine, "QualityStop").await;
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

async fn a_suspend_that_keeps_failing_still_alerts(engine: Engine) {
    let f = run_case(engine, "SuspendFails").await;
    assert_eq!(f.status, "FAILED");
    assert_eq!(f.error.as_deref(), Some("Snowflake.Unavailable"));
    // The first call and its four retries: responses 0-4 of SuspendUnavailable.
    assert_eq!(count(&f, "TaskFailed"), 5, "{:?}", f.events);
    assert_eq!(
        &top_level(&f)[top_level(&f).len() - 4..],
        [
            "RecordFailureSuspend",
            "AlertUnlessDryRun",
            "NotifyFailure",
            "Failed"
        ]
    );
}

async fn a_superseded_run_ends_cleanly_before_touching_snowflake(engine: Engine) {
    let f = run_case(engine, "Superseded").await;
    assert_eq!(f.status, "SUCCEEDED", "{f:?}");
    assert_eq!(top_level(&f), ["Start", "Plan", "RunGate", "Superseded"]);
}

async fn a_run_with_nothing_changed_ends_before_the_warehouse(engine: Engine) {
    let f = run_case(engine, "NothingChanged").await;
    assert_eq!(f.status, "SUCCEEDED", "{f:?}");
    assert_eq!(
        top_level(&f),
        ["Start", "Plan", "RunGate", "NothingChanged"]
    );
    assert_eq!(f.entered("ResumeWarehouse"), 0);
}

async fn a_response_number_the_file_lacks_fails_the_execution_uncaught(engine: Engine) {
    // Two tables, one response: the second RefreshIcebergTable invocation is number 1, which
    // Step Functions Local answers with States.Runtime. No Catch sees it, so no alert either.
    let f = run_case(engine, "ResponseMissing").await;
    assert_eq!(f.status, "FAILED", "{f:?}");
    assert_eq!(f.error.as_deref(), Some("States.Runtime"));
    assert_eq!(f.entered("NotifyFailure"), 0, "{f:?}");
}

macro_rules! on_both_engines {
    ($($name:ident),* $(,)?) => {
        mod moto_interpreter {
            $(#[tokio::test]
            async fn $name() {
                super::$name(super::Engine::Moto).await
            })*
        }
        mod aws_local_stepfunctions {
            $(#[tokio::test]
            async fn $name() {
                super::$name(super::Engine::LocalSfn).await
            })*
        }
    };
}

on_both_engines!(
    happy_path,
    a_waiting_run_plans_again_and_proceeds,
    a_run_that_waits_past_the_gate_limit_alerts_without_touching_the_warehouse,
    a_rejected_plan_alerts_and_fails_without_suspending,
    a_sql_error_is_not_retried_and_the_warehouse_is_suspended,
    throttling_is_retried_with_backoff_until_it_passes,
    lambda_service_errors_are_retried,
    lambda_unknown_is_not_retried_and_takes_the_failure_path,
    a_long_merge_is_waited_for_and_resumed,
    a_merge_still_running_at_the_poll_limit_fails_through_the_failure_path,
    long_mart_refreshes_are_waited_for_and_resumed,
    marts_still_running_at_the_poll_limit_fail_through_the_failure_path,
    a_failed_error_rule_stops_before_the_marts,
    a_suspend_that_keeps_failing_still_alerts,
    a_superseded_run_ends_cleanly_before_touching_snowflake,
    a_run_with_nothing_changed_ends_before_the_warehouse,
    a_response_number_the_file_lacks_fails_the_execution_uncaught,
);

/// Every test case of the mock file is run above, and every mocked response is used by a case.
#[test]
fn every_mocked_case_is_tested() {
    let path = postetl_tests::repo_root().join("statemachine/mock-config.json");
    let mocks: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let this = include_str!("mocked.rs");
    let cases = mocks["StateMachines"]["post-etl"]["TestCases"]
        .as_object()
        .unwrap();
    for case in cases.keys() {
        assert!(
            this.contains(&format!("\"{case}\"")),
            "test case {case} is not run"
        );
    }
    let used: std::collections::HashSet<&str> = cases
        .values()
        .flat_map(|c| c.as_object().unwrap().values().filter_map(|v| v.as_str()))
        .collect();
    for response in mocks["MockedResponses"].as_object().unwrap().keys() {
        assert!(
            used.contains(response.as_str()),
            "{response} is used by no case"
        );
    }
}
