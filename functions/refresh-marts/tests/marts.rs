//! The refresh-marts handler against the emulator: the dynamic table recomputes, the SQL mart is
//! rebuilt and the task runs, in the configured order; a dry run changes nothing.

use lambda_runtime::{Context, LambdaEvent};
use pipeline::steps::{MartsRequest, Status};
use postetl_tests::world::World;
use serde_json::json;

#[tokio::test]
async fn marts_refresh_in_order() {
    let world = World::start().await;
    world
        .emulator
        .sql("ALTER WAREHOUSE POSTETL_WH RESUME")
        .await;
    world
        .emulator
        .sql("INSERT INTO ANALYTICS.CORE.CUSTOMERS VALUES (100, 'Ada', 'GB'); INSERT INTO ANALYTICS.CORE.ORDERS VALUES (1, 100, 'PAID', 10.00, '2026-11-22 10:00:00')")
        .await;
    assert_eq!(
        world
            .emulator
            .sql("SELECT COUNT(*) FROM ANALYTICS.MARTS.DAILY_REVENUE")
            .await[0][0],
        0
    );

    let request = MartsRequest {
        run: world.run("glue:orders-to-iceberg:jr_4"),
        next: 0,
        handle: None,
    };
    let result = refresh_marts::handle(&world.env, LambdaEvent::new(request, Context::default()))
        .await
        .unwrap();
    assert_eq!(result.status, Status::Done);
    assert_eq!(
        result.refreshed,
        ["daily_revenue", "customer_value", "exports"]
    );
    assert_eq!(
        world
            .emulator
            .sql("SELECT REVENUE FROM ANALYTICS.MARTS.DAILY_REVENUE")
            .await,
        vec![vec![json!(10.0)]]
    );
    assert_eq!(
        world
            .emulator
            .sql("SELECT NAME, ORDERS FROM ANALYTICS.MARTS.CUSTOMER_VALUE")
            .await,
        vec![vec![json!("Ada"), json!(1)]]
    );
    let tasks = world.emulator.admin_get("_emulator/tasks").await;
    assert_eq!(
        tasks["tasks"][0]["runs"].as_array().unwrap().len(),
        1,
        "{tasks}"
    );
}

#[tokio::test]
async fn a_dry_run_only_lists_the_statements() {
    let world = World::start().await;
    let mut run = world.run("manual:dry");
    run.dry_run = true;
    let request = MartsRequest {
        run,
        next: 0,
        handle: None,
    };
    let result = refresh_marts::handle(&world.env, LambdaEvent::new(request, Context::default()))
        .await
        .unwrap();
    assert!(result.refreshed.is_empty());
    assert_eq!(result.skipped.len(), 3);
    assert!(result.skipped[0].starts_with("ALTER DYNAMIC TABLE"));
    assert!(result.skipped[2].starts_with("EXECUTE TASK"));
    let dynamic = world.emulator.admin_get("_emulator/dynamic_tables").await;
    assert_eq!(
        dynamic["dynamic_tables"][0]["refresh_count"], 1,
        "only the initial refresh at creation: {dynamic}"
    );
}
