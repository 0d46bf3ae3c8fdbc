//! The warehouse handler against the emulator: resume only what is suspended, remember it, suspend
//! only what this run resumed, restore the size; retried invocations change nothing.

use lambda_runtime::{Context, LambdaEvent};
use pipeline::steps::{Run, WarehouseAction, WarehouseRequest, WarehouseResult};
use postetl_tests::Fault;
use postetl_tests::world::World;
use serde_json::Value;

async fn call(world: &World, run: &Run, action: WarehouseAction) -> WarehouseResult {
    try_call(world, run, action, false).await.unwrap()
}

async fn try_call(
    world: &World,
    run: &Run,
    action: WarehouseAction,
    cancel_running: bool,
) -> Result<WarehouseResult, pipeline::StepError> {
    let request = WarehouseRequest {
        run: run.clone(),
        action,
        cancel_running,
        failure: None,
        run_started: None,
        skipped: Default::default(),
        changed_since: None,
    };
    warehouse::handle(&world.env, LambdaEvent::new(request, Context::default())).await
}

async fn state(world: &World) -> Value {
    world
        .emulator
        .warehouses()
        .await
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["name"] == "POSTETL_WH")
        .unwrap()
        .clone()
}

#[tokio::test]
async fn resumes_resizes_and_suspends_what_the_run_started() {
    let world = World::start().await;
    let run = world.run("glue:orders-to-iceberg:jr_1");
    let resumed = call(&world, &run, WarehouseAction::Resume).await;
    assert!(resumed.resumed);
    assert_eq!(resumed.previous_size.as_deref(), Some("XSMALL"));
    let wh = state(&world).await;
    assert_eq!(
        (wh["state"].as_str(), wh["size"].as_str()),
        (Some("STARTED"), Some("Small"))
    );

    // A retried invocation gets Snowflake's earlier answers: it still knows it resumed the warehouse.
    let again = call(&world, &run, WarehouseAction::Resume).await;
    assert_eq!(again, resumed);
    assert_eq!(state(&world).await["resume_count"], 1);

    let suspended = call(&world, &run, WarehouseAction::Suspend).await;
    assert!(suspended.suspended);
    let wh = state(&world).await;
    assert_eq!(
        (wh["state"].as_str(), wh["size"].as_str()),
        (Some("SUSPENDED"), Some("X-Small"))
    );
    assert!(wh["billed_seconds"].as_f64().unwrap() >= 60.0);

    // Suspending again (a retry after the answer was lost) is done, not an error.
    let twice = call(&world, &world.run("other-run"), WarehouseAction::Suspend).await;
    assert!(!twice.suspended);
}

#[tokio::test]
async fn a_warehouse_already_running_is_left_running() {
    let world = World::start().await;
    world
        .emulator
        .sql("ALTER WAREHOUSE POSTETL_WH RESUME")
        .await;
    let run = world.run("manual:exec-2");
    let resumed = call(&world, &run, WarehouseAction::Resume).await;
    assert!(!resumed.resumed, "someone else started it");
    let suspend = call(&world, &run, WarehouseAction::Suspend).await;
    assert!(!suspend.suspended);
    assert_eq!(state(&world).await["state"], "STARTED");
}

#[tokio::test]
async fn a_dry_run_resumes_for_its_reads_but_does_not_resize() {
    let world = World::start().await;
    let mut run = world.run("manual:dry");
    run.dry_run = true;
    let resumed = call(&world, &run, WarehouseAction::Resume).await;
    assert!(resumed.resumed);
    assert_eq!(resumed.skipped.len(), 1, "{:?}", resumed.skipped);
    assert!(resumed.skipped[0].contains("SET WAREHOUSE_SIZE"));
    let wh = state(&world).await;
    assert_eq!(
        (wh["state"].as_str(), wh["size"].as_str()),
        (Some("STARTED"), Some("X-Small"))
    );
    let suspended = call(&world, &run, WarehouseAction::Suspend).await;
    assert!(suspended.suspended);
    assert_eq!(state(&world).await["state"], "SUSPENDED");
}

#[tokio::test]
async fn the_failure_path_cancels_what_the_run_left_running() {
    let world = World::start().await;
    let run = world.run("glue:orders-to-iceberg:jr_9");
    let resumed = call(&world, &run, WarehouseAction::Resume).await;
    // A MERGE of this run, still running when another step failed; and someone else's query.
    let tag = |execution: &str| {
        serde_json::json!({"app": "postetl", "execution": execution, "step": "run-merge"})
            .to_string()
    };
    let client = &world.env.snowflake;
    let wait = snowflake::Wait::hand_back_after(std::time::Duration::from_millis(200));
    let ours = snowflake::Statement::new("SELECT SYSTEM$WAIT(30)")
        .warehouse("POSTETL_WH")
        .query_tag(tag(&run.execution));
    let theirs = snowflake::Statement::new("SELECT SYSTEM$WAIT(3)")
        .warehouse("POSTETL_WH")
        .query_tag(tag("arn:other"));
    let snowflake::Outcome::Running { handle } = client.execute(&ours, wait).await.unwrap() else {
        panic!("still running")
    };
    client.execute(&theirs, wait).await.unwrap();

    assert!(resumed.resumed);
    let result = try_call(&world, &run, WarehouseAction::Suspend, true)
        .await
        .unwrap();
    assert_eq!(result.cancelled, vec![handle]);
    assert!(result.suspended);
    let log = world.emulator.log().await;
    let status = |text: &str| {
        log["executions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["statement"].as_str().unwrap().contains(text))
            .unwrap()["status"]
            .clone()
    };
    assert_eq!(status("SYSTEM$WAIT(30)"), "canceled");
    assert_ne!(
        status("SYSTEM$WAIT(3)"),
        "canceled",
        "only this execution's statements"
    );
}

#[tokio::test]
async fn a_resume_whose_answer_was_lost_is_still_undone_at_its_original_size() {
    let world = World::start().await;
    let run = world.run("glue:orders-to-iceberg:jr_lost");
    // The RESUME runs, and every answer to it is lost: the step fails without saying it resumed.
    world
        .emulator
        .inject([Fault::status_after_execute(500)
            .matching("RESUME IF SUSPENDED")
            .times(50)])
        .await;
    let err = try_call(&world, &run, WarehouseAction::Resume, false)
        .await
        .unwrap_err();
    assert_eq!(err.name(), "Snowflake.Unavailable", "{err}");
    world.emulator.clear_faults().await;
    let wh = state(&world).await;
    assert_eq!(
        (wh["state"].as_str(), wh["size"].as_str()),
        (Some("STARTED"), Some("Small"))
    );

    // The failure path knows nothing of that answer; Snowflake still has the execution's first look.
    let restored = try_call(&world, &run, WarehouseAction::Suspend, true)
        .await
        .unwrap();
    assert!(restored.resumed && restored.suspended, "{restored:?}");
    assert_eq!(restored.previous_size.as_deref(), Some("XSMALL"));
    let wh = state(&world).await;
    assert_eq!(
        (wh["state"].as_str(), wh["size"].as_str()),
        (Some("SUSPENDED"), Some("X-Small"))
    );
}

#[tokio::test]
async fn clean_up_never_wakes_an_auto_resume_warehouse() {
    // The world's warehouse has Snowflake's default AUTO_RESUME = TRUE.
    let world = World::start().await;
    // A run that failed before its resume: the failure path cancels and suspends.
    let run = world.run("glue:orders-to-iceberg:jr_early");
    let result = try_call(&world, &run, WarehouseAction::Suspend, true)
        .await
        .unwrap();
    assert!(
        !result.suspended && result.cancelled.is_empty(),
        "{result:?}"
    );
    let wh = state(&world).await;
    assert_eq!(wh["state"], "SUSPENDED");
    assert_eq!(wh["resume_count"], 0, "{wh}");
    let log = world.emulator.log().await;
    assert!(
        !log["executions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["statement"].as_str().unwrap().contains("QUERY_HISTORY")),
        "a history query needs compute: not sent while suspended"
    );
}

#[tokio::test]
async fn a_new_execution_of_the_same_run_acts_on_the_warehouse_as_it_is_now() {
    // A replayed Glue event has the same run key but is a new execution: its RESUME must run
    // again, not return the first execution's answer.
    let world = World::start().await;
    let mut first = world.run("glue:orders-to-iceberg:jr_same");
    call(&world, &first, WarehouseAction::Resume).await;
    call(&world, &first, WarehouseAction::Suspend).await;
    first.execution.push_str("-replayed");
    let resumed = call(&world, &first, WarehouseAction::Resume).await;
    assert!(resumed.resumed);
    assert_eq!(state(&world).await["state"], "STARTED");
    let suspended = call(&world, &first, WarehouseAction::Suspend).await;
    assert!(suspended.suspended);
    let wh = state(&world).await;
    assert_eq!(
        (
            wh["state"].as_str(),
            wh["size"].as_str(),
            wh["resume_count"].as_i64()
        ),
        (Some("SUSPENDED"), Some("X-Small"), Some(2))
    );
}
