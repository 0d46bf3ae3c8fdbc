//! Change-aware runs through the real workflow (local Step Functions, the real Lambdas, local Glue,
//! the Snowflake emulator): a run refreshes and merges only what Glue changed since the pipeline's
//! last successful run, skips the rest by name in its output and the ledger, and a failed run
//! never becomes the baseline. (A replay with nothing changed, and `force`, are in replay.rs.)

use postetl_tests::workflow::{Finished, Workflow, glue_event};
use postetl_tests::world::World;
use serde_json::{Value, json};
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(180);

async fn run(workflow: &Workflow, name: &str, input: &Value) -> Finished {
    let execution = workflow.start(name, input).await;
    workflow.wait(&execution, LIMIT).await
}

async fn world() -> (World, Workflow) {
    let log = std::env::temp_dir().join(format!("postetl-changes-{}.log", std::process::id()));
    let world = World::with_lambdas(Some(log)).await;
    let workflow = Workflow::deploy(&world.aws).await;
    (world, workflow)
}

fn ledger_rows(execution: &str) -> String {
    format!(
        "SELECT STEP, ITEM, STATUS, DETAIL FROM ANALYTICS.AUDIT.RUN_LEDGER \
         WHERE EXECUTION = '{execution}' AND STATUS = 'skipped' ORDER BY STEP, ITEM"
    )
}

#[tokio::test]
async fn one_changed_table_of_two_is_all_a_run_refreshes_and_merges() {
    let (world, workflow) = world().await;
    let e = &world.emulator;
    let first = run(&workflow, "first", &glue_event("jr_1")).await;
    assert_eq!(first.status, "SUCCEEDED", "{first:?}");
    assert_eq!(first.entered("RefreshIcebergTable"), 2);

    // Glue writes a new orders snapshot; the customers table is as the first run left it.
    world
        .glue_writes_orders(
            2,
            &[(1, 100, "NEW", "10.00", 600), (3, 102, "NEW", "5.00", 30)],
        )
        .await;
    let second = run(&workflow, "second", &glue_event("jr_2")).await;
    assert_eq!(second.status, "SUCCEEDED", "{second:?}");
    assert_eq!(second.entered("ResumeWarehouse"), 1);
    assert_eq!(second.entered("RefreshIcebergTable"), 1);
    assert_eq!(second.entered("Merge"), 1);
    let plan = &second.output.as_ref().unwrap()["plan"];
    assert_eq!(plan["changedSince"], json!(first.arn), "{plan}");
    assert_eq!(plan["icebergTables"], json!(["LAKE.RAW.ORDERS"]), "{plan}");
    assert_eq!(plan["merges"], json!(["orders"]), "{plan}");
    assert_eq!(
        plan["skipped"],
        json!({"icebergTables": ["LAKE.RAW.CUSTOMERS"], "merges": ["customers"], "checks": [], "marts": []}),
        "{plan}"
    );
    // The orders are the new snapshot's; the customers were refreshed and merged once, by the
    // first run only.
    assert_eq!(
        e.sql("SELECT COUNT(*) FROM ANALYTICS.CORE.ORDERS").await[0][0],
        3
    );
    assert_eq!(
        e.executions_of("MERGE INTO ANALYTICS.CORE.CUSTOMERS").await,
        1
    );
    assert_eq!(
        e.executions_of(r#""LAKE"."RAW"."CUSTOMERS" REFRESH"#).await,
        1
    );
    // The ledger has a row for each item the run skipped, and says since when it was unchanged.
    let skipped = e.sql(&ledger_rows(&second.arn)).await;
    let detail = format!("unchanged since {}", first.arn);
    assert_eq!(
        skipped,
        vec![
            vec![
                json!("refresh-iceberg"),
                json!("LAKE.RAW.CUSTOMERS"),
                json!("skipped"),
                json!(detail)
            ],
            vec![
                json!("run-merge"),
                json!("customers"),
                json!("skipped"),
                json!(detail)
            ],
        ]
    );
    // The report says so in words, from the execution's history.
    let config = pipeline::Config::load(&world.config_path).unwrap();
    let report = postetl_cli::report::fetch(&workflow.sfn, &second.arn, None, &config.prices)
        .await
        .unwrap();
    assert_eq!(report.skipped.merges, ["customers"]);
    assert!(!report.unchanged);
    assert!(
        report.html().contains(
            "Skipped as unchanged since run first: tables LAKE.RAW.CUSTOMERS; merges customers."
        ),
        "{}",
        report.html()
    );

    // Nothing new in Glue: the next run ends before the warehouse, and its report says why.
    let resumes = e.warehouses().await[0]["resume_count"].clone();
    let third = run(&workflow, "third", &glue_event("jr_3")).await;
    assert_eq!(third.status, "SUCCEEDED", "{third:?}");
    assert_eq!(third.entered("NothingChanged"), 1);
    assert_eq!(third.entered("ResumeWarehouse"), 0);
    assert_eq!(e.warehouses().await[0]["resume_count"], resumes);
    let report = postetl_cli::report::fetch(&workflow.sfn, &third.arn, None, &config.prices)
        .await
        .unwrap();
    assert!(report.unchanged, "{report:?}");
    assert_eq!(report.cost.credits, 0.0);
    assert!(
        report.html().contains("Nothing changed since run second"),
        "{}",
        report.html()
    );
}

#[tokio::test]
async fn checks_and_marts_run_only_when_what_they_depend_on_changed() {
    let (world, workflow) = world().await;
    let e = &world.emulator;
    let first = run(&workflow, "first", &glue_event("jr_1")).await;
    assert_eq!(first.status, "SUCCEEDED", "{first:?}");

    // Only the customers change: the orders merge, every check (five on its target, the custom
    // rule through `depends_on`) and the two marts that depend on the orders alone are skipped;
    // customer_value, which depends on both merges, is refreshed.
    world
        .glue_writes_customers(
            2,
            &[
                (100, "Ada", "GB"),
                (101, "Linus", "FI"),
                (102, "Grace", "US"),
            ],
        )
        .await;
    let second = run(&workflow, "second", &glue_event("jr_2")).await;
    assert_eq!(second.status, "SUCCEEDED", "{second:?}");
    let plan = &second.output.as_ref().unwrap()["plan"];
    assert_eq!(plan["merges"], json!(["customers"]), "{plan}");
    assert_eq!(plan["checks"], 0, "{plan}");
    assert_eq!(plan["marts"], json!(["customer_value"]), "{plan}");
    assert_eq!(
        plan["skipped"]["marts"],
        json!(["daily_revenue", "exports"]),
        "{plan}"
    );
    assert_eq!(
        plan["skipped"]["checks"].as_array().unwrap().len(),
        6,
        "{plan}"
    );
    assert_eq!(
        e.sql("SELECT COUNT(*) FROM ANALYTICS.MARTS.CUSTOMER_VALUE")
            .await[0][0],
        3
    );
    assert_eq!(e.executions_of("EXPORT_DAILY_REVENUE").await, 1);
    assert_eq!(e.executions_of("DAILY_REVENUE\" REFRESH").await, 1);
    assert_eq!(
        e.sql("SELECT COUNT(*) FROM ANALYTICS.AUDIT.DQ_RESULTS")
            .await[0][0],
        6,
        "the checks ran in the first run only"
    );
}

#[tokio::test]
async fn a_failed_run_is_never_the_baseline_so_the_next_run_does_its_work_again() {
    let (world, workflow) = world().await;
    let e = &world.emulator;
    let first = run(&workflow, "good", &glue_event("jr_good")).await;
    assert_eq!(first.status, "SUCCEEDED", "{first:?}");

    // Glue writes an orders snapshot with a NULL amount: the run merges it and its checks fail.
    world
        .glue_writes_orders(2, &[(1, 100, "NEW", "", 600)])
        .await;
    let failed = run(&workflow, "bad", &glue_event("jr_bad")).await;
    assert_eq!(failed.status, "FAILED", "{failed:?}");
    assert_eq!(failed.entered("RefreshIcebergTable"), 1);

    // Nothing new in Glue, but the last successful run is still the first one: the orders table
    // changed since then, so the next run refreshes, merges and checks it again.
    let again = run(&workflow, "again", &glue_event("jr_again")).await;
    assert_eq!(again.entered("RefreshIcebergTable"), 1, "{again:?}");
    assert_eq!(again.entered("Merge"), 1, "{again:?}");
    assert_eq!(again.entered("CheckDataQuality"), 1, "{again:?}");
    assert_eq!(again.status, "FAILED", "the data is still bad: {again:?}");
    assert_eq!(
        e.executions_of(r#"MERGE INTO "ANALYTICS"."CORE"."ORDERS""#)
            .await,
        3
    );
}
