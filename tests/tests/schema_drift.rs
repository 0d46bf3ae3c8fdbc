//! Schema drift through the real workflow (local Step Functions, the real Lambdas, local Glue,
//! the Snowflake emulator): after a Glue job adds, drops or retypes a column of the orders table,
//! the refresh step compares Glue's columns with the target's and does what the merge's
//! `on_schema_change` says, before any MERGE runs. Each test has its own world, with the sample
//! config's `on_schema_change = "fail"` changed where it says so.

use postetl_tests::Fault;
use postetl_tests::workflow::{Finished, Workflow, glue_event};
use postetl_tests::world::{ORDER_COLUMNS, World};
use serde_json::{Value, json};
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(180);
/// The generated orders MERGE (identifiers always quoted).
const ORDERS_MERGE: &str = r#"MERGE INTO "ANALYTICS"."CORE"."ORDERS""#;

async fn world(edit: Option<fn(&str) -> String>) -> (World, Workflow) {
    let log = std::env::temp_dir().join(format!(
        "postetl-drift-{}-{:?}.log",
        std::process::id(),
        std::thread::current().id()
    ));
    let world = match edit {
        Some(edit) => World::with_lambdas_and_config(Some(log), edit).await,
        None => World::with_lambdas(Some(log)).await,
    };
    let workflow = Workflow::deploy(&world.aws).await;
    (world, workflow)
}

fn mode(text: &str, to: &str) -> String {
    text.replace(
        "on_schema_change = \"fail\"",
        &format!("on_schema_change = \"{to}\""),
    )
}

async fn run(workflow: &Workflow, name: &str) -> Finished {
    let execution = workflow.start(name, &glue_event(name)).await;
    workflow.wait(&execution, LIMIT).await
}

/// The orders columns with `channel` (a string) added after the last one.
fn with_channel() -> Vec<(&'static str, &'static str)> {
    let mut columns = ORDER_COLUMNS.to_vec();
    columns.push(("channel", "string"));
    columns
}

/// Orders 1 and 3 as Glue writes them with a channel column.
fn rows_with_channel() -> Vec<Value> {
    vec![
        json!([1, 100, "NEW", "10.00", "2030-01-01 10:00:00", "web"]),
        json!([3, 102, "NEW", "5.00", "2030-01-01 11:00:00", "store"]),
    ]
}

async fn ledger(world: &World, execution: &str) -> Vec<Vec<Value>> {
    world
        .emulator
        .sql(&format!(
            "SELECT STEP, ITEM, STATUS, ERROR, DETAIL FROM ANALYTICS.AUDIT.RUN_LEDGER \
             WHERE EXECUTION = '{execution}' AND (STATUS IN ('drift', 'failed')) ORDER BY ITEM"
        ))
        .await
}

async fn target_columns(world: &World) -> Vec<Value> {
    world
        .emulator
        .sql("DESC TABLE ANALYTICS.CORE.ORDERS")
        .await
        .into_iter()
        .map(|row| json!([row[0], row[1]]))
        .collect()
}

/// What `postetl watch` prints for a finished execution, summary included, as words.
async fn summary(workflow: &Workflow, execution: &str) -> String {
    let definition =
        postetl_cli::Definition::parse(&postetl_tests::workflow::definition(&workflow.topic_arn));
    let mut out = Vec::new();
    let options = postetl_cli::Options::default();
    let summary = postetl_cli::watch(&workflow.sfn, execution, definition, &mut out, &options)
        .await
        .unwrap();
    postetl_cli::print_summary(&summary, &mut out).unwrap();
    // Lines are wrapped at 80 columns: compare words.
    let text = String::from_utf8(out).unwrap();
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The HTML report of an execution (from its history).
async fn report(world: &World, workflow: &Workflow, execution: &str) -> String {
    let config = pipeline::Config::load(&world.config_path).unwrap();
    postetl_cli::report::fetch(&workflow.sfn, execution, None, &config.prices)
        .await
        .unwrap()
        .html()
}

/// The warehouse as the run found it, and nothing of the run still running.
async fn assert_clean(world: &World) {
    let wh = world.emulator.warehouses().await[0].clone();
    assert_eq!(wh["state"], "SUSPENDED", "{wh}");
    assert_eq!(wh["size"], "X-Small", "{wh}");
    let log = world.emulator.log().await;
    assert!(
        log["executions"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["status"] != "running"),
        "a statement was left running"
    );
}

#[tokio::test]
async fn by_default_a_new_upstream_column_stops_the_run_before_any_merge() {
    let (world, workflow) = world(None).await;
    let first = run(&workflow, "jr_1").await;
    assert_eq!(first.status, "SUCCEEDED", "{first:?}");
    let before = target_columns(&world).await;

    world
        .glue_writes_orders_as(2, &with_channel(), rows_with_channel())
        .await;
    let second = run(&workflow, "jr_2").await;
    assert_eq!(second.status, "FAILED", "{second:?}");
    assert_eq!(second.error.as_deref(), Some("Schema.Drift"));
    let cause = second.cause.as_deref().unwrap_or("");
    assert!(
        cause.contains(
            "schema drift for merge \\\"orders\\\" (\\\"LAKE\\\".\\\"RAW\\\".\\\"ORDERS\\\" into \\\"ANALYTICS\\\".\\\"CORE\\\".\\\"ORDERS\\\", on_schema_change = fail): CHANNEL VARCHAR added upstream"
        ),
        "{cause}"
    );
    // Stopped after the refresh, before the merges: the only MERGE is the first run's, the target
    // is as it was, and the run ended clean with one alert.
    assert_eq!(second.entered("Merge"), 0);
    assert_eq!(world.emulator.executions_of(ORDERS_MERGE).await, 1);
    assert_eq!(target_columns(&world).await, before);
    assert_eq!(second.entered("NotifyFailure"), 1);
    assert_clean(&world).await;
    // The ledger has the failure by name, with every difference, and the run's row says where.
    let rows = ledger(&world, &second.arn).await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(
        rows[0][..4],
        [
            json!("run"),
            json!(""),
            json!("failed"),
            json!("Schema.Drift")
        ]
    );
    assert_eq!(rows[1][1], "LAKE.RAW.ORDERS");
    assert_eq!(rows[1][3], "Schema.Drift");
    assert!(
        rows[1][4]
            .as_str()
            .unwrap()
            .contains("CHANNEL VARCHAR added upstream"),
        "{rows:?}"
    );
    // The summary a person reads says it in words.
    let text = summary(&workflow, &second.arn).await;
    assert!(text.contains("Schema.Drift"), "{text}");
    assert!(text.contains("CHANNEL VARCHAR added upstream"), "{text}");
    let html = report(&world, &workflow, &second.arn).await;
    assert!(
        html.contains("Stopped before any MERGE: schema drift for merge"),
        "{html}"
    );
}

#[tokio::test]
async fn append_new_columns_adds_the_column_and_merges_it() {
    let (world, workflow) = world(Some(|t| mode(t, "append_new_columns"))).await;
    let first = run(&workflow, "jr_1").await;
    assert_eq!(first.status, "SUCCEEDED", "{first:?}");

    world
        .glue_writes_orders_as(2, &with_channel(), rows_with_channel())
        .await;
    world
        .emulator
        .inject([Fault::drop_after_execute().matching("ADD COLUMN")])
        .await;
    let second = run(&workflow, "jr_2").await;
    assert_eq!(second.status, "SUCCEEDED", "{second:?}");
    assert_eq!(
        target_columns(&world).await.last().unwrap(),
        &json!(["CHANNEL", "VARCHAR(16777216)"])
    );
    let e = &world.emulator;
    assert_eq!(
        e.sql("SELECT ORDER_ID, CHANNEL FROM ANALYTICS.CORE.ORDERS ORDER BY 1")
            .await,
        vec![
            vec![json!(1), json!("web")],
            vec![json!(2), Value::Null],
            vec![json!(3), json!("store")]
        ]
    );
    let rows = ledger(&world, &second.arn).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(
        rows[0][..3],
        [json!("refresh-iceberg"), json!("orders"), json!("drift")]
    );
    assert_eq!(
        rows[0][4],
        "on_schema_change = append_new_columns: CHANNEL VARCHAR added upstream; \
         ALTER TABLE \"ANALYTICS\".\"CORE\".\"ORDERS\" ADD COLUMN IF NOT EXISTS \"CHANNEL\" VARCHAR"
    );
    assert_clean(&world).await;
    let text = summary(&workflow, &second.arn).await;
    assert!(
        text.contains("schema drift orders (append_new_columns): CHANNEL VARCHAR added upstream; 1 ALTER TABLE run"),
        "{text}"
    );
    let html = report(&world, &workflow, &second.arn).await;
    assert!(
        html.contains("Schema drift, merge orders (on_schema_change = append_new_columns): CHANNEL VARCHAR added upstream. ran ALTER TABLE"),
        "{html}"
    );

    // The ALTER's answer was lost once (fault below): the retry got Snowflake's answer to the
    // same request id, so the column was added once.
    assert_eq!(
        e.executions_of("ADD COLUMN IF NOT EXISTS \"CHANNEL\"")
            .await,
        1
    );
}

#[tokio::test]
async fn sync_all_columns_widens_and_drops_what_upstream_changed() {
    let (world, workflow) = world(Some(|t| mode(t, "sync_all_columns"))).await;
    let first = run(&workflow, "jr_1").await;
    assert_eq!(first.status, "SUCCEEDED", "{first:?}");

    // Upstream adds channel and widens amount to decimal(14,2).
    let mut columns = with_channel();
    columns[3] = ("amount", "decimal(14,2)");
    let rows = vec![json!([
        1,
        100,
        "PAID",
        "123456789.50",
        "2030-01-02 10:00:00",
        "web"
    ])];
    world.glue_writes_orders_as(2, &columns, rows).await;
    let second = run(&workflow, "jr_2").await;
    assert_eq!(second.status, "SUCCEEDED", "{second:?}");
    let columns_now = target_columns(&world).await;
    assert!(
        columns_now.contains(&json!(["AMOUNT", "NUMBER(14,2)"])),
        "{columns_now:?}"
    );
    assert!(
        columns_now.contains(&json!(["CHANNEL", "VARCHAR(16777216)"])),
        "{columns_now:?}"
    );
    assert_eq!(
        world
            .emulator
            .sql("SELECT AMOUNT::VARCHAR, CHANNEL FROM ANALYTICS.CORE.ORDERS WHERE ORDER_ID = 1")
            .await,
        vec![vec![json!("123456789.50"), json!("web")]]
    );

    // Upstream drops channel again: sync drops it from the target too.
    world
        .glue_writes_orders_as(
            3,
            &columns[..5],
            vec![json!([1, 100, "PAID", "1.00", "2030-01-03 10:00:00"])],
        )
        .await;
    let third = run(&workflow, "jr_3").await;
    assert_eq!(third.status, "SUCCEEDED", "{third:?}");
    let columns_now = target_columns(&world).await;
    assert!(
        !columns_now.iter().any(|c| c[0] == "CHANNEL"),
        "{columns_now:?}"
    );
    let rows = ledger(&world, &third.arn).await;
    assert!(
        rows[0][4]
            .as_str()
            .unwrap()
            .ends_with("DROP COLUMN IF EXISTS \"CHANNEL\""),
        "{rows:?}"
    );
    assert_clean(&world).await;
}

#[tokio::test]
async fn ignore_leaves_the_target_but_lost_or_retyped_columns_still_fail() {
    let (world, workflow) = world(Some(|t| mode(t, "ignore"))).await;
    let first = run(&workflow, "jr_1").await;
    assert_eq!(first.status, "SUCCEEDED", "{first:?}");
    let before = target_columns(&world).await;

    // A new column is ignored: the configured columns are merged as before.
    world
        .glue_writes_orders_as(2, &with_channel(), rows_with_channel())
        .await;
    let second = run(&workflow, "jr_2").await;
    assert_eq!(second.status, "SUCCEEDED", "{second:?}");
    assert_eq!(target_columns(&world).await, before);
    assert_eq!(
        world
            .emulator
            .sql("SELECT COUNT(*) FROM ANALYTICS.CORE.ORDERS")
            .await[0][0],
        3
    );

    // The merge's STATUS column dropped upstream, and AMOUNT now a string: whatever the setting,
    // the run stops before the MERGE and names both, and the new column it would have ignored.
    let columns = [
        ("order_id", "bigint"),
        ("customer_id", "bigint"),
        ("amount", "string"),
        ("updated_at", "timestamp"),
        ("channel", "string"),
    ];
    world
        .glue_writes_orders_as(
            3,
            &columns,
            vec![json!([1, 100, "ten", "2030-01-03 10:00:00", "web"])],
        )
        .await;
    let merges_before = world.emulator.executions_of(ORDERS_MERGE).await;
    let third = run(&workflow, "jr_3").await;
    assert_eq!(third.status, "FAILED", "{third:?}");
    assert_eq!(third.error.as_deref(), Some("Schema.Drift"));
    let cause = third.cause.unwrap_or_default();
    for expected in [
        "AMOUNT changed from NUMBER(10,2) to VARCHAR upstream, which Snowflake cannot change in place",
        "STATUS dropped upstream, but the merge's keys or columns name it",
        "CHANNEL VARCHAR added upstream (allowed)",
    ] {
        assert!(cause.contains(expected), "{expected}: {cause}");
    }
    assert_eq!(
        world.emulator.executions_of(ORDERS_MERGE).await,
        merges_before
    );
    assert_clean(&world).await;
}
