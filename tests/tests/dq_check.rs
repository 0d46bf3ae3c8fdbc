//! The dq-check handler against the emulator: each rule kind passes or fails on real data, audit
//! rows are written once per rule and run, and an `error` failure asks the state machine to stop.

use lambda_runtime::{Context, LambdaEvent};
use pipeline::steps::{Outcome, QualityResult, Run, RunRequest};
use postetl_tests::world::World;

async fn check(world: &World, run: &Run) -> QualityResult {
    dq_check::handle(
        &world.env,
        LambdaEvent::new(RunRequest { run: run.clone() }, Context::default()),
    )
    .await
    .unwrap()
}

async fn load_orders(world: &World) {
    world
        .emulator
        .sql("ALTER WAREHOUSE POSTETL_WH RESUME")
        .await;
    world
        .emulator
        .sql(
            "INSERT INTO ANALYTICS.CORE.ORDERS VALUES (1, 100, 'NEW', 10.00, CAST(NOW() AS TIMESTAMP) - INTERVAL 1 HOUR), \
             (2, 101, 'SHIPPED', 25.50, CAST(NOW() AS TIMESTAMP) - INTERVAL 2 HOUR)",
        )
        .await;
}

#[tokio::test]
async fn clean_data_passes_and_is_audited_once() {
    let world = World::start().await;
    load_orders(&world).await;
    let run = world.run("glue:orders-to-iceberg:jr_7");
    let result = check(&world, &run).await;
    assert_eq!(
        (result.passed, result.warned, result.failed, result.stop),
        (6, 0, 0, false),
        "{:?}",
        result.failures
    );
    assert_eq!(result.audit_rows, 6);
    let again = check(&world, &run).await;
    assert_eq!(again, result);
    let audit = world
        .emulator
        .sql("SELECT COUNT(*), COUNT(DISTINCT RULE) FROM ANALYTICS.AUDIT.DQ_RESULTS")
        .await;
    assert_eq!(
        audit,
        vec![vec![serde_json::json!(6), serde_json::json!(6)]],
        "one row per rule and run"
    );
}

#[tokio::test]
async fn failures_are_counted_by_severity_and_stop_the_run() {
    let world = World::start().await;
    load_orders(&world).await;
    world
        .emulator
        .sql(
            "INSERT INTO ANALYTICS.CORE.ORDERS VALUES (2, 101, 'LOST', NULL, CAST(NOW() AS TIMESTAMP) - INTERVAL 3 DAY), \
             (4, 100, 'NEW', -5.00, CAST(NOW() AS TIMESTAMP) - INTERVAL 3 DAY)",
        )
        .await;
    let result = check(&world, &world.run("glue:orders-to-iceberg:jr_8")).await;
    let by_rule = |name: &str| {
        result
            .failures
            .iter()
            .find(|f| f.rule == name)
            .unwrap_or_else(|| panic!("{name} in {:?}", result.failures))
    };
    assert_eq!(by_rule("orders_amount_not_null").outcome, Outcome::Fail);
    assert_eq!(by_rule("orders_amount_not_null").observed, Some(1));
    assert_eq!(by_rule("orders_unique").observed, Some(1));
    assert_eq!(by_rule("no_negative_amounts").observed, Some(1));
    assert_eq!(by_rule("orders_status_known").outcome, Outcome::Warn);
    assert_eq!((result.passed, result.warned, result.failed), (2, 1, 3));
    assert!(result.stop);
    let audited = world
        .emulator
        .sql("SELECT OUTCOME, COUNT(*) FROM ANALYTICS.AUDIT.DQ_RESULTS GROUP BY 1 ORDER BY 1")
        .await;
    assert_eq!(audited.len(), 3, "{audited:?}");
}

#[tokio::test]
async fn an_empty_table_fails_row_count_and_freshness() {
    let world = World::start().await;
    world
        .emulator
        .sql("ALTER WAREHOUSE POSTETL_WH RESUME")
        .await;
    let result = check(&world, &world.run("manual:empty")).await;
    let outcome = |name: &str| {
        result
            .failures
            .iter()
            .find(|f| f.rule == name)
            .map(|f| f.outcome)
    };
    assert_eq!(outcome("orders_present"), Some(Outcome::Fail));
    assert_eq!(outcome("orders_fresh"), Some(Outcome::Warn));
    assert!(result.stop);
}

/// `freshness` on each date/time type the SQL API sends in its own form (DATE as days, the
/// timestamps as seconds, TIMESTAMP_TZ with its offset): a row an hour old is an hour old.
#[tokio::test]
async fn freshness_reads_dates_and_every_timestamp_type() {
    let world = World::start().await;
    world
        .emulator
        .sql("ALTER WAREHOUSE POSTETL_WH RESUME")
        .await;
    // (column type, a value one hour old or, for DATE, today in UTC; the age it must measure)
    let cases = [
        ("DATE", "CAST(NOW() AT TIME ZONE 'UTC' AS DATE)", 0..=1440),
        (
            "TIMESTAMP_NTZ",
            "CAST(NOW() AT TIME ZONE 'UTC' AS TIMESTAMP) - INTERVAL 1 HOUR",
            59..=61,
        ),
        ("TIMESTAMP_LTZ", "NOW() - INTERVAL 1 HOUR", 59..=61),
        ("TIMESTAMP_TZ", "NOW() - INTERVAL 1 HOUR", 59..=61),
    ];
    for (kind, value, expected) in cases {
        world
            .emulator
            .sql(&format!(
                "CREATE OR REPLACE TABLE ANALYTICS.CORE.ORDERS (ORDER_ID BIGINT, CUSTOMER_ID BIGINT, \
                 STATUS VARCHAR, AMOUNT DECIMAL(10,2), UPDATED_AT {kind}); \
                 INSERT INTO ANALYTICS.CORE.ORDERS VALUES (1, 100, 'NEW', 10.00, {value})"
            ))
            .await;
        let run = world.run(&format!("manual:fresh-{kind}"));
        let result = check(&world, &run).await;
        assert!(
            result.failures.iter().all(|f| f.rule != "orders_fresh"),
            "{kind}: {:?}",
            result.failures
        );
        let observed = world
            .emulator
            .sql(&format!(
                "SELECT OBSERVED FROM ANALYTICS.AUDIT.DQ_RESULTS WHERE RULE = 'orders_fresh' \
                 AND RUN_KEY = 'manual:fresh-{kind}'"
            ))
            .await;
        let minutes = observed[0][0].as_i64().expect("an age in minutes");
        assert!(expected.contains(&minutes), "{kind}: {minutes} min");
    }
    // The audit table states its timestamp type rather than follow TIMESTAMP_TYPE_MAPPING.
    let typed = world
        .emulator
        .sql(
            "SELECT data_type FROM duckdb_columns() WHERE table_name = 'DQ_RESULTS' \
             AND column_name = 'CHECKED_AT'",
        )
        .await;
    assert_eq!(
        typed,
        vec![vec![serde_json::json!("TIMESTAMP WITH TIME ZONE")]]
    );
}
