//! The run-merge handler against the emulator: generated and file MERGEs, newest version wins,
//! retries never merge twice, long MERGEs are handed back and resumed.

use lambda_runtime::{Context, LambdaEvent};
use pipeline::steps::{Item, MergeResult, Run, Status};
use pipeline::{Config, Env};
use postetl_tests::Fault;
use postetl_tests::world::World;
use serde_json::json;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

async fn merge(
    env: &Env,
    run: &Run,
    name: &str,
    handle: Option<String>,
    context: Context,
) -> MergeResult {
    let item = Item {
        run: run.clone(),
        item: name.into(),
        handle,
    };
    run_merge::handle(env, LambdaEvent::new(item, context))
        .await
        .unwrap()
}

async fn lake_at(world: &World, version: u32, orders: &[postetl_tests::world::Order<'_>]) {
    let file = world.glue_writes_orders(version, orders).await;
    world
        .emulator
        .sql(&format!(
            "ALTER ICEBERG TABLE LAKE.RAW.ORDERS REFRESH '{file}'"
        ))
        .await;
}

#[tokio::test]
async fn merges_the_newest_version_of_each_row_once() {
    let world = World::start().await;
    world
        .emulator
        .sql("ALTER WAREHOUSE POSTETL_WH RESUME")
        .await;
    lake_at(
        &world,
        2,
        &[
            (1, 100, "NEW", "10.00", 600),
            (2, 101, "PAID", "25.50", 120),
            (2, 101, "SHIPPED", "25.50", 60),
            (3, 100, "NEW", "99.90", 30),
        ],
    )
    .await;

    let run = world.run("glue:orders-to-iceberg:jr_2");
    let first = merge(&world.env, &run, "orders", None, Context::default()).await;
    assert_eq!(
        (first.status, first.rows_inserted, first.rows_updated),
        (Status::Done, 3, 0)
    );
    let shipped = world
        .emulator
        .sql("SELECT STATUS FROM ANALYTICS.CORE.ORDERS WHERE ORDER_ID = 2")
        .await;
    assert_eq!(shipped, vec![vec![json!("SHIPPED")]]);

    // Step Functions retries the invocation (its retriers wait 2 s or more): Snowflake returns
    // the first run's result. The step tells it by `createdOn`, with 250 ms allowed for the two
    // clocks to differ, so the retry here comes later than that.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let retried = merge(&world.env, &run, "orders", None, Context::default()).await;
    assert_eq!(
        retried,
        MergeResult {
            from_earlier_run: true,
            ..first.clone()
        },
        "the same answer, marked as the earlier run's"
    );
    assert!(!first.from_earlier_run);
    assert_eq!(world.emulator.executions_of("MERGE INTO").await, 1);
    assert_eq!(
        world
            .emulator
            .sql("SELECT COUNT(*) FROM ANALYTICS.CORE.ORDERS")
            .await[0][0],
        3
    );

    // The next Glue run brings a late, older version of order 2 and a change to order 1.
    lake_at(
        &world,
        3,
        &[
            (1, 100, "CANCELLED", "10.00", 10),
            (2, 101, "PAID", "25.50", 90),
        ],
    )
    .await;
    let next = merge(
        &world.env,
        &world.run("glue:orders-to-iceberg:jr_3"),
        "orders",
        None,
        Context::default(),
    )
    .await;
    assert_eq!((next.rows_inserted, next.rows_updated), (0, 1));
    let statuses = world
        .emulator
        .sql("SELECT STATUS FROM ANALYTICS.CORE.ORDERS ORDER BY ORDER_ID")
        .await;
    assert_eq!(
        statuses,
        vec![
            vec![json!("CANCELLED")],
            vec![json!("SHIPPED")],
            vec![json!("NEW")]
        ]
    );

    // A merge from its SQL file.
    world
        .emulator
        .sql("ALTER ICEBERG TABLE LAKE.RAW.CUSTOMERS REFRESH")
        .await;
    let customers = merge(&world.env, &run, "customers", None, Context::default()).await;
    assert_eq!(customers.rows_inserted, 2);
}

#[tokio::test]
async fn dry_runs_and_unknown_merges() {
    let world = World::start().await;
    let mut run = world.run("manual:dry");
    run.dry_run = true;
    let result = merge(&world.env, &run, "orders", None, Context::default()).await;
    assert!(
        result
            .dry_run_sql
            .unwrap()
            .starts_with("MERGE INTO \"ANALYTICS\".\"CORE\".\"ORDERS\"")
    );
    assert_eq!(world.emulator.executions_of("MERGE").await, 0);
    // The sample's SQL-file merge de-duplicates its source: no warning.
    let customers = merge(&world.env, &run, "customers", None, Context::default()).await;
    let sql = customers.dry_run_sql.unwrap();
    assert!(
        sql.starts_with("MERGE INTO ANALYTICS.CORE.CUSTOMERS"),
        "{sql}"
    );
    assert!(!sql.contains("postetl warning"), "{sql}");
    // A SQL-file merge that reads the source table as it is: its dry run says so.
    let dir = world.config_path.parent().unwrap();
    std::fs::write(
        dir.join("sql/merge_bare.sql"),
        "MERGE INTO ANALYTICS.CORE.CUSTOMERS t USING LAKE.RAW.CUSTOMERS s ON t.CUSTOMER_ID = s.CUSTOMER_ID \
         WHEN NOT MATCHED THEN INSERT (CUSTOMER_ID) VALUES (s.CUSTOMER_ID)",
    )
    .unwrap();
    let text = std::fs::read_to_string(&world.config_path)
        .unwrap()
        .replace(
            "sql_file = \"sql/merge_customers.sql\"",
            "sql_file = \"sql/merge_bare.sql\"",
        );
    let bare = dir.join("bare.toml");
    std::fs::write(&bare, text).unwrap();
    let env = Env::new(Config::load(&bare).unwrap(), world.env.snowflake.clone());
    let customers = merge(&env, &run, "customers", None, Context::default()).await;
    let sql = customers.dry_run_sql.unwrap();
    assert!(
        sql.starts_with("-- postetl warning: the MERGE source is not de-duplicated"),
        "{sql}"
    );
    let item = Item {
        run,
        item: "nope".into(),
        handle: None,
    };
    let err = run_merge::handle(&world.env, LambdaEvent::new(item, Context::default()))
        .await
        .unwrap_err();
    assert_eq!(err.name(), "Input.UnknownItem");
}

#[tokio::test]
async fn a_merge_longer_than_the_invocation_is_handed_back_and_resumed() {
    let world = World::start().await;
    world
        .emulator
        .sql("ALTER WAREHOUSE POSTETL_WH RESUME")
        .await;
    let dir = std::env::temp_dir().join(format!("postetl-slow-merge-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // A merge file holds one data-changing statement; the emulator makes it take three seconds.
    let sql = "INSERT INTO ANALYTICS.MARTS.EXPORTS SELECT CURRENT_TIMESTAMP(), 1";
    std::fs::write(dir.join("slow.sql"), sql).unwrap();
    world
        .emulator
        .inject([Fault::slow(3.0).matching("INSERT INTO ANALYTICS.MARTS.EXPORTS")])
        .await;
    std::fs::write(
        dir.join("pipelines.toml"),
        "[pipelines.orders]\nglue_jobs = [\"j\"]\nwarehouse = \"POSTETL_WH\"\n\n[[pipelines.orders.merges]]\nname = \"slow\"\nsql_file = \"slow.sql\"\n",
    )
    .unwrap();
    let env = Env::new(
        Config::load(&dir.join("pipelines.toml")).unwrap(),
        world.env.snowflake.clone(),
    );
    let run = world.run("manual:slow");

    // Six seconds left in the invocation: five are kept to answer, one is spent waiting.
    let mut short = Context::default();
    short.deadline = (SystemTime::now() + Duration::from_secs(6))
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let first = merge(&env, &run, "slow", None, short).await;
    assert_eq!(first.status, Status::Running);
    let resume = first.resume.expect("a resume item");
    assert!(resume.handle.is_some());

    let done = merge(
        &env,
        &resume.run,
        &resume.item,
        resume.handle.clone(),
        Context::default(),
    )
    .await;
    assert_eq!(done.status, Status::Done);
    assert_eq!(
        world
            .emulator
            .executions_of("INSERT INTO ANALYTICS.MARTS.EXPORTS")
            .await,
        1
    );
}
