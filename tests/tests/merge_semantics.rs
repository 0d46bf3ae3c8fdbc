//! Snowflake semantics through the real workflow: recorded Glue events replayed on local Step
//! Functions with the real Lambda binaries and the emulator, which sorts NULLs as Snowflake does
//! (largest), fails a MERGE whose source repeats a matched key, and keeps tasks asynchronous.
//! - NULL versions and duplicated keys in the Iceberg source: the generated MERGE keeps the newest
//!   non-NULL version per key, breaks ties deterministically, and inserts a new key once.
//! - A task mart is awaited: the run ends after the task's run, and fails with its error.
//! - Every request our client sent, and every answer, conforms to the SQL API spec's schemas.

use postetl_tests::workflow::{Finished, Workflow};
use postetl_tests::world::World;
use serde_json::{Value, json};
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(180);

async fn world() -> (World, Workflow) {
    let log = std::env::temp_dir().join(format!(
        "postetl-lambdas-semantics-{}.log",
        std::process::id()
    ));
    let world = World::with_lambdas(Some(log)).await;
    let workflow = Workflow::deploy(&world.aws).await;
    (world, workflow)
}

async fn replay(workflow: &Workflow, name: &str, job_run_id: &str) -> Finished {
    let execution = workflow
        .start(name, &postetl_tests::workflow::glue_event(job_run_id))
        .await;
    workflow.wait(&execution, LIMIT).await
}

/// `[id, customer, status, amount, updated_at]` with the version `minutes_ago` (None = NULL).
fn order(id: i64, status: &str, amount: &str, minutes_ago: Option<i64>) -> Value {
    let at = minutes_ago.map(|m| {
        (chrono::Utc::now().naive_utc() - chrono::TimeDelta::minutes(m))
            .format("%Y-%m-%d %H:%M:%S")
            .to_string()
    });
    json!([id, 100 + id, status, amount, at])
}

async fn orders(world: &World) -> Vec<Vec<Value>> {
    world
        .emulator
        .sql("SELECT ORDER_ID, STATUS, AMOUNT FROM ANALYTICS.CORE.ORDERS ORDER BY ORDER_ID")
        .await
}

async fn assert_spec_clean(world: &World) {
    let report = world.emulator.admin_get("_emulator/spec").await;
    assert!(report["checked"].as_u64().unwrap() > 10, "{report}");
    assert_eq!(report["violations"], json!([]), "{report}");
}

#[tokio::test]
async fn null_versions_and_duplicate_keys_end_right() {
    let (world, workflow) = world().await;
    world
        .glue_writes_order_rows(
            2,
            vec![
                order(1, "NEW", "10.00", Some(60)),
                order(2, "NEW", "20.00", Some(60)),
                order(3, "NEW", "30.00", Some(60)),
            ],
        )
        .await;
    let first = replay(&workflow, "semantics-1", "jr_semantics_1").await;
    assert_eq!(first.status, "SUCCEEDED", "{first:?}");

    world
        .glue_writes_order_rows(
            3,
            vec![
                // A NULL version never wins over a real one, nor overwrites one.
                order(1, "PAID", "11.00", Some(10)),
                order(1, "BOGUS", "99.00", None),
                order(3, "CANCELLED", "0.00", None),
                // Equal versions: the tie goes to the larger other columns (STATUS SHIPPED > PAID).
                order(2, "PAID", "21.00", Some(5)),
                order(2, "SHIPPED", "21.00", Some(5)),
                // A new key twice: inserted once, the newest version.
                order(4, "NEW", "40.00", Some(20)),
                order(4, "PAID", "41.00", Some(5)),
                // A new key with only NULL versions: once, tie broken by the columns.
                order(5, "NEW", "50.00", None),
                order(5, "PAID", "51.00", None),
            ],
        )
        .await;
    let second = replay(&workflow, "semantics-2", "jr_semantics_2").await;
    assert_eq!(second.status, "SUCCEEDED", "{second:?}");
    assert_eq!(
        orders(&world).await,
        vec![
            vec![json!(1), json!("PAID"), json!(11.0)],
            vec![json!(2), json!("SHIPPED"), json!(21.0)],
            vec![json!(3), json!("NEW"), json!(30.0)],
            vec![json!(4), json!("PAID"), json!(41.0)],
            vec![json!(5), json!("PAID"), json!(51.0)],
        ]
    );
    // The same source again changes nothing (idempotent by construction): forced, so that the
    // MERGEs run again rather than the run ending as unchanged.
    let execution = workflow
        .start("semantics-3", &json!({"pipeline": "orders", "force": true}))
        .await;
    let third = workflow.wait(&execution, LIMIT).await;
    assert_eq!(third.status, "SUCCEEDED", "{third:?}");
    assert_eq!(third.entered("Merge"), 2, "{third:?}");
    assert_eq!(orders(&world).await.len(), 5);
    assert_spec_clean(&world).await;
}

#[tokio::test]
async fn a_task_mart_is_awaited_and_its_failure_reported() {
    let (world, workflow) = world().await;
    // The task takes a while: a step that only scheduled it would end the run before its insert.
    world
        .emulator
        .sql(
            "ALTER TASK ANALYTICS.MARTS.EXPORT_DAILY_REVENUE MODIFY AS INSERT INTO ANALYTICS.MARTS.EXPORTS \
             SELECT CURRENT_TIMESTAMP(), COUNT(*) FROM ANALYTICS.MARTS.DAILY_REVENUE \
             WHERE SYSTEM$WAIT(3) IS NOT NULL",
        )
        .await;
    let done = replay(&workflow, "task-1", "jr_task_1").await;
    assert_eq!(done.status, "SUCCEEDED", "{done:?}");
    assert_eq!(
        world
            .emulator
            .sql("SELECT COUNT(*) FROM ANALYTICS.MARTS.EXPORTS")
            .await,
        vec![vec![json!(1)]],
        "the execution ended before the task's run"
    );

    // A task whose run fails: the run fails with the task's error, and cleans up.
    world
        .emulator
        .sql(
            "ALTER TASK ANALYTICS.MARTS.EXPORT_DAILY_REVENUE MODIFY AS \
             INSERT INTO ANALYTICS.MARTS.NO_SUCH_TABLE VALUES (1)",
        )
        .await;
    // Forced: Glue wrote nothing since task-1, and a change-aware run would end as unchanged.
    let execution = workflow
        .start("task-2", &json!({"pipeline": "orders", "force": true}))
        .await;
    let failed = workflow.wait(&execution, LIMIT).await;
    assert_eq!(failed.status, "FAILED", "{failed:?}");
    assert!(failed.entered("NotifyFailure") == 1, "{:?}", failed.states);
    assert!(
        failed.entered("SuspendAfterFailure") == 1,
        "{:?}",
        failed.states
    );
    assert_eq!(
        failed.error.as_deref(),
        Some("Snowflake.SqlError"),
        "{failed:?}"
    );
    let cause = failed.cause.clone().unwrap_or_default();
    assert!(cause.contains("NO_SUCH_TABLE"), "{cause}");
    let warehouses = world.emulator.warehouses().await;
    let wh = warehouses
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["name"] == "POSTETL_WH")
        .expect("the pipeline's warehouse");
    assert_eq!(wh["state"], json!("SUSPENDED"), "{warehouses}");
    assert_spec_clean(&world).await;
}
