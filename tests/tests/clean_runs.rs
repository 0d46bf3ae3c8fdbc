//! Every run ends clean, through the real workflow (local Step Functions, the real Lambdas, the
//! emulator's fault injection): whatever ends a run, the warehouse is SUSPENDED at its original
//! size, nothing the run started is still running, no statement ran twice, and a failure is named
//! and alerted once. The world's warehouse has Snowflake's default AUTO_RESUME = TRUE.

use postetl_tests::Fault;
use postetl_tests::workflow::{Finished, Workflow};
use postetl_tests::world::World;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(240);
/// The generated orders MERGE (identifiers always quoted).
const ORDERS_MERGE: &str = r#"MERGE INTO "ANALYTICS"."CORE"."ORDERS""#;
/// The customers MERGE, from its SQL file.
const CUSTOMERS_MERGE: &str = "MERGE INTO ANALYTICS.CORE.CUSTOMERS";

async fn world() -> (World, Workflow) {
    let log = std::env::temp_dir().join(format!(
        "postetl-clean-runs-{}-{:?}.log",
        std::process::id(),
        std::thread::current().id()
    ));
    let world = World::with_lambdas(Some(log)).await;
    let workflow = Workflow::deploy(&world.aws).await;
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
    (world, workflow)
}

async fn replay(workflow: &Workflow, name: &str, job_run_id: &str) -> Finished {
    let execution = workflow
        .start(name, &postetl_tests::workflow::glue_event(job_run_id))
        .await;
    workflow.wait(&execution, LIMIT).await
}

/// The warehouse as the run found it, and nothing of any run still running.
async fn assert_clean(world: &World) {
    let wh = world.emulator.warehouses().await[0].clone();
    assert_eq!(
        (wh["state"].as_str(), wh["size"].as_str()),
        (Some("SUSPENDED"), Some("X-Small")),
        "{wh}"
    );
    let log = world.emulator.log().await;
    let running: Vec<&Value> = log["executions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["status"] == "running")
        .collect();
    assert!(running.is_empty(), "left running: {running:?}");
}

/// The data a clean run leaves.
async fn assert_data_of_a_clean_run(world: &World) {
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
    assert_eq!(e.executions_of(ORDERS_MERGE).await, 1);
}

async fn transient(fault: Fault) {
    let (world, workflow) = world().await;
    world.emulator.inject([fault]).await;
    let finished = replay(&workflow, "transient", "jr_transient").await;
    assert_eq!(finished.status, "SUCCEEDED", "{finished:?}");
    assert_data_of_a_clean_run(&world).await;
    assert_clean(&world).await;
}

#[tokio::test]
async fn throttling_recovers() {
    transient(Fault::status("submit", 429, 3)).await;
}

#[tokio::test]
async fn server_errors_recover() {
    transient(Fault::status("submit", 500, 2).matching("MERGE")).await;
}

#[tokio::test]
async fn an_unavailable_load_balancer_recovers() {
    transient(Fault::status("any", 503, 3)).await;
}

#[tokio::test]
async fn dropped_connections_recover() {
    transient(Fault::drop_connection("submit", 2)).await;
}

#[tokio::test]
async fn a_merge_answer_lost_after_it_ran_is_not_run_again() {
    transient(Fault::drop_after_execute().matching(ORDERS_MERGE)).await;
}

#[tokio::test]
async fn a_statement_timeout_fails_by_name_alerts_once_and_ends_clean() {
    let (world, workflow) = world().await;
    world
        .emulator
        .inject([Fault::status("submit", 408, 1).matching(ORDERS_MERGE)])
        .await;
    let finished = replay(&workflow, "timeout", "jr_timeout").await;
    assert_eq!(finished.status, "FAILED");
    assert_eq!(finished.error.as_deref(), Some("Snowflake.Timeout"));
    assert_eq!(finished.entered("NotifyFailure"), 1);
    assert_clean(&world).await;
    // EventBridge reports the FAILED execution too: finalize sees the failure path ran.
    let finalized = finalize(&world, &workflow, &finished.arn, "FAILED").await;
    assert_eq!(finalized["action"], "handled", "{finalized}");
    assert_eq!(finalized["alerted"], false);
}

#[tokio::test]
async fn a_resume_whose_answer_is_lost_still_ends_suspended_at_its_size() {
    let (world, workflow) = world().await;
    world
        .emulator
        .inject([Fault::status_after_execute(500)
            .matching("RESUME IF SUSPENDED")
            .times(100)])
        .await;
    let finished = replay(&workflow, "lost-resume", "jr_lost_resume").await;
    assert_eq!(finished.status, "FAILED");
    assert_eq!(finished.error.as_deref(), Some("Snowflake.Unavailable"));
    assert_eq!(finished.entered("NotifyFailure"), 1);
    assert_eq!(finished.entered("RunMerges"), 0);
    world.emulator.clear_faults().await;
    assert_clean(&world).await;
}

#[tokio::test]
async fn a_stop_from_the_console_mid_merge_is_cleaned_up_by_finalize() {
    let (world, workflow) = world().await;
    world
        .emulator
        .inject([Fault::slow(60.0).matching(ORDERS_MERGE)])
        .await;
    let execution = workflow
        .start(
            "stopped",
            &postetl_tests::workflow::glue_event("jr_stopped"),
        )
        .await;
    // Bounded wait until the MERGE is running in Snowflake.
    let started = Instant::now();
    while world.emulator.executions_of(ORDERS_MERGE).await == 0 {
        assert!(started.elapsed() < LIMIT, "the MERGE never started");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    workflow
        .sfn
        .stop_execution()
        .execution_arn(&execution)
        .cause("stopped from the console")
        .send()
        .await
        .unwrap();
    let finished = workflow.wait(&execution, LIMIT).await;
    assert_eq!(finished.status, "ABORTED", "{finished:?}");
    assert_eq!(
        finished.entered("NotifyFailure"),
        0,
        "the definition's Catch never ran"
    );

    // EventBridge's "Step Functions Execution Status Change" event for it.
    let finalized = finalize(&world, &workflow, &execution, "ABORTED").await;
    assert_eq!(finalized["action"], "cleaned", "{finalized}");
    assert_eq!(finalized["alerted"], true);
    assert_eq!(finalized["warehouse"]["suspended"], true, "{finalized}");
    assert!(
        !finalized["warehouse"]["cancelled"]
            .as_array()
            .unwrap()
            .is_empty(),
        "{finalized}"
    );
    let log = world.emulator.log().await;
    let merge = log["executions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["statement"].as_str().unwrap().contains(ORDERS_MERGE))
        .unwrap()
        .clone();
    assert_eq!(merge["status"], "canceled", "{merge}");
    assert_clean(&world).await;
    assert_eq!(
        world
            .emulator
            .sql("SELECT COUNT(*) FROM ANALYTICS.CORE.ORDERS")
            .await[0][0],
        0,
        "the cancelled MERGE applied nothing"
    );

    // The ledger and the report know how it ended. Both read without the SQL API: a query on the
    // ledger would wake the warehouse (AUTO_RESUME), and the replay below must find it suspended.
    let config = pipeline::Config::load(&world.config_path).unwrap();
    let report = postetl_cli::report::fetch(&workflow.sfn, &execution, None, &config.prices)
        .await
        .unwrap();
    assert_eq!(report.status, "ABORTED");
    let merges = report
        .timeline
        .rows
        .iter()
        .find(|r| r.name == "RunMerges")
        .unwrap();
    assert!(merges.failed(), "the stopped step is marked: {merges:?}");
    let run_row = world
        .emulator
        .sql(&format!(
            "SELECT STATUS, ERROR FROM ANALYTICS.AUDIT.RUN_LEDGER WHERE EXECUTION = '{execution}' \
             AND STEP = 'run'"
        ))
        .await;
    assert_eq!(
        run_row,
        vec![vec![json!("failed"), json!("Execution.Stopped")]],
        "finalize wrote the run's row"
    );

    // A replay of the same Glue event re-runs what was cancelled, under a new request id, and
    // gets the earlier answers for what succeeded.
    let again = replay(&workflow, "stopped-replayed", "jr_stopped").await;
    assert_eq!(again.status, "SUCCEEDED", "{again:?}");
    assert_eq!(
        world
            .emulator
            .sql("SELECT COUNT(*) FROM ANALYTICS.CORE.ORDERS")
            .await[0][0],
        3
    );
    assert_eq!(
        world.emulator.executions_of(ORDERS_MERGE).await,
        2,
        "the cancelled one and its re-run"
    );
    assert_clean(&world).await;
}

#[tokio::test]
async fn a_failed_run_replayed_re_runs_what_failed_and_only_that() {
    let (world, workflow) = world().await;
    let e = &world.emulator;
    // The customers MERGE (a SQL file's) fails: its target is missing; the orders MERGE succeeds.
    // (A generated merge's missing target stops the run earlier, at the schema check.)
    e.sql("ALTER TABLE ANALYTICS.CORE.CUSTOMERS RENAME TO CUSTOMERS_AWAY")
        .await;
    let finished = replay(&workflow, "failed", "jr_failed").await;
    assert_eq!(finished.status, "FAILED", "{finished:?}");
    assert_eq!(finished.error.as_deref(), Some("Snowflake.SqlError"));
    assert_clean(&world).await;

    // Fixed upstream; EventBridge (or a person) delivers the same Glue event again.
    e.sql("ALTER TABLE ANALYTICS.CORE.CUSTOMERS_AWAY RENAME TO CUSTOMERS")
        .await;
    let again = replay(&workflow, "failed-replayed", "jr_failed").await;
    assert_eq!(again.status, "SUCCEEDED", "{again:?}");
    assert_data_of_a_clean_run(&world).await;
    assert_eq!(
        e.executions_of(CUSTOMERS_MERGE).await,
        2,
        "the failed MERGE and its re-run"
    );
    assert_clean(&world).await;
}

/// Delivers EventBridge's status change event for `execution` to the real `finalize` Lambda.
async fn finalize(world: &World, workflow: &Workflow, execution: &str, status: &str) -> Value {
    let event = json!({
        "version": "0",
        "id": "315c1398-40ff-a850-213b-158f73e60175",
        "detail-type": "Step Functions Execution Status Change",
        "source": "aws.states",
        "account": "123456789012",
        "time": "2026-12-02T03:00:00Z",
        "region": "us-east-1",
        "resources": [execution],
        "detail": {
            "executionArn": execution,
            "stateMachineArn": workflow.arn,
            "name": execution.rsplit(':').next().unwrap(),
            "status": status,
            "startDate": 1_764_644_400_000_u64,
            "stopDate": 1_764_644_460_000_u64,
            "input": "{}",
            "output": null,
            "error": null,
            "cause": null
        }
    });
    let url = world
        .aws
        .lambda_url()
        .unwrap()
        .join("2015-03-31/functions/finalize/invocations")
        .unwrap();
    let response = reqwest::Client::new()
        .post(url)
        .json(&event)
        .send()
        .await
        .unwrap();
    let failed = response.headers().contains_key("x-amz-function-error");
    let body: Value = response.json().await.unwrap();
    assert!(!failed, "finalize failed: {body}");
    body
}
