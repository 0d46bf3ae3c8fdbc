//! Names that `postetl validate` accepts although they look hostile (quoted, with dots, spaces,
//! quotes, semicolons, comment markers and non-ASCII letters) run end to end: a Glue event through
//! the real workflow and the real Lambda binaries, each name staying one quoted identifier in the
//! SQL that reaches the emulator. (The emulator keeps databases in DuckDB, whose names ignore case:
//! `"lake"` beside `LAKE` is for the config test only, here the second database is `"Lake Raw"`.)

use postetl_tests::workflow::{Workflow, glue_event};
use postetl_tests::world::World;
use serde_json::json;
use std::time::Duration;

const CONFIG: &str = r#"
[settings]
audit_table = 'ANALYTICS.AUDIT."DQ Results; --"'
statement_timeout_seconds = 600
poll_seconds = 1

[pipelines.p-1_x]
glue_jobs = ["job with spaces"]
warehouse = '"My WH"'

[[pipelines.p-1_x.iceberg_tables]]
table = 'LAKE."RAW.X".Y'
glue_database = "lake"
glue_table = "y"
catalog = "glue"

[[pipelines.p-1_x.iceberg_tables]]
table = '"Lake Raw"."Raw;--/*".orders'
glue_database = "lake"
glue_table = "orders"
catalog = "glue"

[[pipelines.p-1_x.merges]]
name = "order_lines"
target = '"Ana""lytics".CORE."Order Lines"'
source = 'LAKE."RAW.X".Y'
keys = ['"Id"']
columns = ['"Ünïcode 名前"', '"semi;colon"']

[[pipelines.p-1_x.checks]]
name = "semicolons_present"
kind = "not_null"
severity = "error"
table = '"Ana""lytics".CORE."Order Lines"'
column = '"semi;colon"'

[[pipelines.p-1_x.checks]]
name = "names_known"
kind = "accepted_values"
severity = "error"
table = '"Ana""lytics".CORE."Order Lines"'
column = '"Ünïcode 名前"'
values = ["名前", "it's"]
"#;

const SETUP: &str = r#"
CREATE WAREHOUSE IF NOT EXISTS "My WH" WITH WAREHOUSE_SIZE = 'XSMALL' INITIALLY_SUSPENDED = TRUE;
CREATE DATABASE IF NOT EXISTS "Ana""lytics"; CREATE SCHEMA IF NOT EXISTS "Ana""lytics".CORE;
CREATE TABLE "Ana""lytics".CORE."Order Lines" ("Id" BIGINT, "Ünïcode 名前" VARCHAR, "semi;colon" VARCHAR);
INSERT INTO "Ana""lytics".CORE."Order Lines" VALUES (1, 'it''s', 'old')
"#;

#[tokio::test]
async fn accepted_exotic_names_run_through_the_real_workflow() {
    let log = std::env::temp_dir().join(format!("postetl-exotic-{}.log", std::process::id()));
    let world = World::with_lambdas(Some(log)).await;
    // The Lambdas read the config at their cold start; none has started yet.
    std::fs::write(&world.config_path, CONFIG).unwrap();
    pipeline::Config::load(&world.config_path).expect("validate accepts the exotic config");
    world.emulator.sql(SETUP).await;

    let columns = json!([
        ["Id", "BIGINT"],
        ["Ünïcode 名前", "VARCHAR"],
        ["semi;colon", "VARCHAR"]
    ]);
    for (table, file) in [
        ("LAKE.\"RAW.X\".Y", "y/metadata/00001.metadata.json"),
        (
            "\"Lake Raw\".\"Raw;--/*\".ORDERS",
            "o/metadata/00001.metadata.json",
        ),
    ] {
        world
            .emulator
            .admin_post(
                "_emulator/iceberg/tables",
                json!({"table": table, "catalog": "glue", "columns": columns}),
            )
            .await;
        world
            .emulator
            .admin_post(
                "_emulator/iceberg/snapshots",
                json!({"table": table, "metadata_file": file,
                       "rows": [[1, "名前", "a;b"], [2, "it's", "--x"]]}),
            )
            .await;
    }
    world
        .glue
        .create_table()
        .database_name("lake")
        .table_input(
            aws_sdk_glue::types::TableInput::builder()
                .name("y")
                .parameters("table_type", "ICEBERG")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("the Glue table y");

    let workflow = Workflow::deploy(&world.aws).await;
    let mut event = glue_event("jr_exotic");
    event["detail"]["jobName"] = json!("job with spaces");
    let execution = workflow.start("exotic", &event).await;
    let finished = workflow.wait(&execution, Duration::from_secs(180)).await;
    assert_eq!(finished.status, "SUCCEEDED", "{finished:?}");

    let rows = world
        .emulator
        .sql(r#"SELECT "Id", "Ünïcode 名前", "semi;colon" FROM "Ana""lytics".CORE."Order Lines" ORDER BY 1"#)
        .await;
    assert_eq!(
        rows,
        vec![
            vec![json!(1), json!("名前"), json!("a;b")],
            vec![json!(2), json!("it's"), json!("--x")],
        ]
    );
    let audit = world
        .emulator
        .sql(r#"SELECT RULE, OUTCOME FROM ANALYTICS.AUDIT."DQ Results; --" ORDER BY 1"#)
        .await;
    assert_eq!(audit.len(), 2, "{audit:?}");
    assert!(audit.iter().all(|r| r[1] == json!("pass")), "{audit:?}");

    // Every statement the Lambdas sent named the objects as single quoted identifiers.
    let statements: Vec<String> = world.emulator.log().await["executions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["statement"].as_str().map(str::to_string))
        .collect();
    let sent = |needle: &str| statements.iter().any(|s| s.contains(needle));
    assert!(sent(r#"ALTER WAREHOUSE "My WH" RESUME"#), "{statements:#?}");
    assert!(
        sent(r#"ALTER ICEBERG TABLE "LAKE"."RAW.X"."Y" REFRESH"#),
        "{statements:#?}"
    );
    assert!(
        sent(r#"ALTER ICEBERG TABLE "Lake Raw"."Raw;--/*"."ORDERS" REFRESH"#),
        "{statements:#?}"
    );
    assert!(
        sent(r#"MERGE INTO "Ana""lytics"."CORE"."Order Lines""#),
        "{statements:#?}"
    );
}
