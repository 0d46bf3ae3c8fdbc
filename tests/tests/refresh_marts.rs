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

fn request(world: &World, key: &str) -> MartsRequest {
    MartsRequest {
        run: world.run(key),
        next: 0,
        handle: None,
    }
}

/// A context whose deadline leaves the step `seconds` of budget (the runtime keeps 5 s back).
fn context_with(seconds: u64) -> Context {
    let mut context = Context::default();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    context.deadline = now + (seconds + 5) * 1000;
    context
}

/// EXECUTE TASK only schedules a run: the step follows it, hands back while it runs, and is done
/// only when it has ended.
#[tokio::test]
async fn a_task_run_is_followed_until_it_ends() {
    let world = World::start().await;
    world
        .emulator
        .sql(
            "ALTER WAREHOUSE POSTETL_WH RESUME; \
             ALTER TASK ANALYTICS.MARTS.EXPORT_DAILY_REVENUE MODIFY AS INSERT INTO ANALYTICS.MARTS.EXPORTS \
             SELECT CURRENT_TIMESTAMP(), COUNT(*) FROM ANALYTICS.MARTS.DAILY_REVENUE WHERE SYSTEM$WAIT(6) IS NOT NULL",
        )
        .await;
    let first = refresh_marts::handle(
        &world.env,
        LambdaEvent::new(request(&world, "manual:task-follow"), context_with(3)),
    )
    .await
    .unwrap();
    assert_eq!(first.status, Status::Running, "{first:?}");
    assert_eq!(first.refreshed, ["daily_revenue", "customer_value"]);
    let resume: MartsRequest = first.resume.clone().unwrap();
    assert_eq!(resume.next, 2);
    assert!(
        resume.handle.as_deref().unwrap().starts_with("task-since:"),
        "{resume:?}"
    );
    let exports = "SELECT COUNT(*) FROM ANALYTICS.MARTS.EXPORTS";
    assert_eq!(world.emulator.sql(exports).await[0][0], 0, "still running");
    let done = refresh_marts::handle(&world.env, LambdaEvent::new(resume, Context::default()))
        .await
        .unwrap();
    assert_eq!(done.status, Status::Done, "{done:?}");
    assert_eq!(done.refreshed, ["exports"]);
    assert_eq!(world.emulator.sql(exports).await[0][0], 1);
}

/// A task run that fails fails the step with the task's error.
#[tokio::test]
async fn a_failed_task_run_fails_the_step_with_its_error() {
    let world = World::start().await;
    world
        .emulator
        .sql(
            "ALTER WAREHOUSE POSTETL_WH RESUME; \
             ALTER TASK ANALYTICS.MARTS.EXPORT_DAILY_REVENUE MODIFY AS INSERT INTO ANALYTICS.MARTS.MISSING VALUES (1)",
        )
        .await;
    let error = refresh_marts::handle(
        &world.env,
        LambdaEvent::new(request(&world, "manual:task-fails"), Context::default()),
    )
    .await
    .unwrap_err();
    assert_eq!(error.name(), "Snowflake.SqlError");
    let message = error.to_string();
    assert!(
        message.contains("FAILED") && message.contains("MISSING") && message.contains("002003"),
        "{message}"
    );
}
