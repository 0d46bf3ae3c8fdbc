//! `postetl report` on real replayed runs: the report is built from the execution's history and
//! the run ledger the steps wrote, opened in a real headless browser (Debian's Chromium), and
//! checked for what a person sees there: a bar for every step and Map item, failures in red,
//! poll loops marked, the warehouse band, the statements and the cost. Screenshots are kept under
//! target/report-screenshots/.

use postetl_cli::report::{self, LedgerSource, Report};
use postetl_tests::Fault;
use postetl_tests::browser::{FAILED_FILL, open_report};
use postetl_tests::workflow::{Finished, Workflow, glue_event};
use postetl_tests::world::World;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(240);

async fn world(timeout: Option<Duration>) -> (World, Workflow) {
    let log = std::env::temp_dir().join(format!("postetl-report-{}.log", std::process::id()));
    let world = match timeout {
        Some(t) => World::with_lambdas_timing_out(t, Some(log)).await,
        None => World::with_lambdas(Some(log)).await,
    };
    let workflow = Workflow::deploy(&world.aws).await;
    (world, workflow)
}

async fn run(workflow: &Workflow, name: &str) -> Finished {
    let execution = workflow.start(name, &glue_event(name)).await;
    workflow.wait(&execution, LIMIT).await
}

async fn report_of(world: &World, workflow: &Workflow, execution: &str) -> Report {
    let config = pipeline::Config::load(&world.config_path).unwrap();
    let ledger = LedgerSource {
        client: &world.env.snowflake,
        table: &config.ledger_table,
        warehouse: "POSTETL_WH",
    };
    report::fetch(&workflow.sfn, execution, Some(ledger), &config.prices)
        .await
        .expect("the report")
}

fn write(report: &Report, name: &str) -> std::path::PathBuf {
    let dir = postetl_tests::repo_root().join("target/report-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.html"));
    std::fs::write(&path, report.html()).unwrap();
    path
}

fn row<'a>(report: &'a Report, name: &str) -> &'a report::timeline::Row {
    report
        .timeline
        .rows
        .iter()
        .find(|r| r.name == name)
        .unwrap_or_else(|| panic!("no row {name}: {:#?}", report.timeline.rows))
}

const STEPS: &[&str] = &[
    "Plan",
    "ResumeWarehouse",
    "RefreshIcebergTables",
    "RunMerges",
    "CheckDataQuality",
    "RefreshMarts",
    "SuspendWarehouse",
];
const ITEMS: &[&str] = &[
    "LAKE.RAW.ORDERS",
    "LAKE.RAW.CUSTOMERS",
    "orders",
    "customers",
];

#[tokio::test]
async fn a_run_reports_every_step_its_statements_and_cost_in_a_real_browser() {
    let (world, workflow) = world(None).await;
    let finished = run(&workflow, "report-ok").await;
    assert_eq!(finished.status, "SUCCEEDED", "{finished:?}");
    let report = report_of(&world, &workflow, &finished.arn).await;

    assert_eq!(report.pipeline.as_deref(), Some("orders"));
    for step in STEPS {
        let r = row(&report, step);
        assert!(!r.failed() && !r.segments.is_empty(), "{r:?}");
    }
    for item in ITEMS {
        assert_eq!(row(&report, item).kind, "item");
    }
    assert_eq!(row(&report, "orders").parent.as_deref(), Some("RunMerges"));
    // Every state entered counts, Map iterations' states included: the demo's 20 and then some.
    assert_eq!(
        report.timeline.state_transitions as usize,
        finished.states.len(),
        "{:?}",
        finished.states
    );
    let lambda_tasks = finished
        .events
        .iter()
        .filter(|e| *e == "TaskScheduled")
        .count();
    assert_eq!(report.timeline.lambda_requests as usize, lambda_tasks);

    let band = report.warehouse.as_ref().expect("the warehouse band");
    assert!(band.resumed_by_run && band.to > band.from, "{band:?}");
    assert_eq!(band.size.as_deref(), Some("SMALL"));
    let statements = report.statements.as_ref().expect("the ledger was read");
    let merge = statements
        .iter()
        .find(|s| s.step == "run-merge" && s.item == "orders")
        .expect("the orders merge's row");
    assert_eq!(merge.rows_inserted, Some(2));
    assert!(!merge.statement_handles.is_empty(), "{merge:?}");
    let run_row = statements.iter().find(|s| s.step == "run").unwrap();
    assert_eq!(run_row.status, "succeeded");

    // A short run on a SMALL warehouse pays Snowflake's 60-second minimum: 2 credits an hour.
    let c = &report.cost;
    assert_eq!(c.billed_warehouse_seconds, 60.0, "{c:?}");
    assert!((c.credits - 2.0 / 60.0).abs() < 1e-9, "{c:?}");
    assert!((c.snowflake_usd - c.credits * 3.0).abs() < 1e-9, "{c:?}");
    assert!(
        c.lambda_gb_seconds > 0.0 && c.total_usd > c.snowflake_usd,
        "{c:?}"
    );

    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["cost"]["billedWarehouseSeconds"], 60.0);

    let shown = open_report(&write(&report, "succeeded"), "succeeded");
    assert_eq!(shown.page["status"], "SUCCEEDED", "{}", shown.page);
    assert_eq!(
        shown.page["requests"],
        serde_json::json!([]),
        "self-contained"
    );
    for step in STEPS.iter().chain(ITEMS).chain(&["warehouse"]) {
        assert!(shown.has_visible_bar(step), "{step}: {}", shown.page);
        assert!(
            !shown.fills(step).iter().any(|f| f == FAILED_FILL),
            "{step} drawn as failed: {}",
            shown.page
        );
    }
    // The run, 2 tables, 2 merges, 6 rules, 3 marts.
    assert_eq!(shown.page["statements"], 14, "{}", shown.page);
    assert!(shown.screenshot.exists());
}

#[tokio::test]
async fn a_failed_merge_is_red_with_its_error_in_the_report_and_the_ledger() {
    let (world, workflow) = world(None).await;
    // The customers MERGE's target is gone: it fails in Snowflake (not transient, not retried).
    // (A generated merge's missing target stops the run earlier, at the schema check.)
    world
        .emulator
        .sql("DROP TABLE ANALYTICS.CORE.CUSTOMERS")
        .await;
    let finished = run(&workflow, "report-failed").await;
    assert_eq!(finished.status, "FAILED", "{finished:?}");
    let report = report_of(&world, &workflow, &finished.arn).await;

    let customers = row(&report, "customers");
    assert!(customers.failed(), "{customers:?}");
    let failed = customers
        .segments
        .iter()
        .find(|s| s.status == "failed")
        .unwrap();
    assert_eq!(
        failed.error.as_deref(),
        Some("Snowflake.SqlError"),
        "{customers:?}"
    );
    assert!(!row(&report, "orders").failed());
    assert!(!row(&report, "SuspendAfterFailure").failed());
    assert_eq!(report.error.as_deref(), Some("Snowflake.SqlError"));

    let statements = report.statements.as_ref().unwrap();
    let merge = statements
        .iter()
        .find(|s| s.step == "run-merge" && s.item == "customers")
        .unwrap();
    assert_eq!(
        (merge.status.as_str(), merge.error.as_deref()),
        ("failed", Some("Snowflake.SqlError"))
    );
    let run_row = statements.iter().find(|s| s.step == "run").unwrap();
    assert_eq!(run_row.status, "failed");
    assert_eq!(run_row.error.as_deref(), Some("Snowflake.SqlError"));

    let shown = open_report(&write(&report, "failed"), "failed");
    assert_eq!(shown.page["status"], "FAILED");
    assert!(
        shown.page["error"]
            .as_str()
            .unwrap()
            .contains("Snowflake.SqlError")
    );
    assert!(
        shown.fills("customers").iter().any(|f| f == FAILED_FILL),
        "{}",
        shown.page
    );
    assert!(
        shown.row("customers").unwrap()["marks"]
            .as_str()
            .unwrap()
            .contains("Snowflake.SqlError")
    );
    assert!(shown.has_visible_bar("SuspendAfterFailure"));
}

#[tokio::test]
async fn a_merge_handed_back_shows_its_poll_loop() {
    // Lambdas time out after 8 s, so the step waits 3 s and hands back a 9-second MERGE.
    let (world, workflow) = world(Some(Duration::from_secs(8))).await;
    world
        .emulator
        .inject([Fault::slow(9.0).matching(r#"MERGE INTO "ANALYTICS"."CORE"."ORDERS""#)])
        .await;
    let finished = run(&workflow, "report-polls").await;
    assert_eq!(finished.status, "SUCCEEDED", "{finished:?}");
    let report = report_of(&world, &workflow, &finished.arn).await;
    let orders = row(&report, "orders");
    assert!(orders.polls >= 1, "{orders:?}");
    // Going round the poll loop is not retrying: every attempt here succeeded first time.
    assert_eq!(orders.segments[0].retries, 0, "{orders:?}");
    assert_eq!(row(&report, "customers").polls, 0);
    let statements = report.statements.as_ref().unwrap();
    let merge = statements
        .iter()
        .find(|s| s.step == "run-merge" && s.item == "orders")
        .unwrap();
    // One row however many invocations it took: updated in place, first start kept.
    assert_eq!(merge.status, "done");
    assert!(merge.seconds.unwrap() >= 8.0, "{merge:?}");

    let shown = open_report(&write(&report, "polls"), "polls");
    let marks = shown.row("orders").unwrap()["marks"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(marks.contains("poll"), "{marks}");
    assert!(shown.has_visible_bar("orders"));
}
