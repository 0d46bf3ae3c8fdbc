//! The refresh-iceberg handler: Glue's metadata_location (local AWS) becomes a REFRESH in the
//! emulator, and the new snapshot becomes visible.

use lambda_runtime::{Context, LambdaEvent};
use pipeline::StepError;
use pipeline::steps::{Item, RefreshResult};
use postetl_tests::world::World;

async fn refresh(world: &World, run_key: &str, table: &str) -> Result<RefreshResult, StepError> {
    let item = Item {
        run: world.run(run_key),
        item: table.into(),
        handle: None,
    };
    refresh_iceberg::handle(
        &world.env,
        &world.glue,
        LambdaEvent::new(item, Context::default()),
    )
    .await
}

#[tokio::test]
async fn new_glue_snapshots_become_visible_after_refresh() {
    let world = World::start().await;
    world
        .emulator
        .sql("ALTER WAREHOUSE POSTETL_WH RESUME")
        .await;
    let result = refresh(&world, "r1", "LAKE.RAW.ORDERS").await.unwrap();
    assert_eq!(
        result.metadata_file.as_deref(),
        Some("orders/metadata/00001-1001.metadata.json")
    );
    assert_eq!(
        world
            .emulator
            .sql("SELECT COUNT(*) FROM LAKE.RAW.ORDERS")
            .await[0][0],
        2
    );

    let file = world
        .glue_writes_orders(
            2,
            &[
                (1, 100, "NEW", "10.00", 600),
                (2, 101, "SHIPPED", "25.50", 60),
                (3, 100, "NEW", "99.90", 30),
            ],
        )
        .await;
    assert_eq!(
        world
            .emulator
            .sql("SELECT COUNT(*) FROM LAKE.RAW.ORDERS")
            .await[0][0],
        2,
        "not visible before REFRESH"
    );
    let result = refresh(&world, "r2", "LAKE.RAW.ORDERS").await.unwrap();
    assert_eq!(result.metadata_file.as_deref(), Some(file.as_str()));
    assert!(
        result.statement.contains(&format!("REFRESH '{file}'")),
        "{}",
        result.statement
    );
    assert_eq!(
        world
            .emulator
            .sql("SELECT COUNT(*) FROM LAKE.RAW.ORDERS")
            .await[0][0],
        3
    );

    // A catalog-integration table refreshes without a path.
    let result = refresh(&world, "r2", "LAKE.RAW.CUSTOMERS").await.unwrap();
    assert_eq!(result.metadata_file, None);
    assert!(result.statement.ends_with("REFRESH"));
    assert_eq!(
        world
            .emulator
            .sql("SELECT COUNT(*) FROM LAKE.RAW.CUSTOMERS")
            .await[0][0],
        2
    );
    let iceberg = world.emulator.admin_get("_emulator/iceberg").await;
    assert_eq!(iceberg["tables"].as_array().unwrap().len(), 2, "{iceberg}");
}

#[tokio::test]
async fn locations_and_tables_that_do_not_fit_get_named_errors() {
    let world = World::start().await;
    world
        .glue
        .update_table()
        .database_name("lake")
        .table_input(
            aws_sdk_glue::types::TableInput::builder()
                .name("orders")
                .parameters(
                    "metadata_location",
                    "s3://someone-elses-bucket/orders/metadata/00009.metadata.json",
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let err = refresh(&world, "r1", "LAKE.RAW.ORDERS").await.unwrap_err();
    assert_eq!(err.name(), "Iceberg.OutsideBaseLocation");

    world
        .glue
        .delete_table()
        .database_name("lake")
        .name("orders")
        .send()
        .await
        .unwrap();
    assert_eq!(
        refresh(&world, "r1", "LAKE.RAW.ORDERS")
            .await
            .unwrap_err()
            .name(),
        "Glue.NotFound"
    );
    assert_eq!(
        refresh(&world, "r1", "LAKE.RAW.NOPE")
            .await
            .unwrap_err()
            .name(),
        "Input.UnknownItem"
    );
    // Only the failures' rows in the run ledger reached Snowflake.
    assert_eq!(
        world.emulator.work_executions().await,
        Vec::<serde_json::Value>::new(),
        "nothing of the refresh reached Snowflake"
    );
}
