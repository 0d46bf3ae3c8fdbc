//! A generated pipeline of N Iceberg tables (default 100), each refreshed and merged, through the
//! real workflow as in the demo, then the same pipeline as a dry run; prints for each the wall
//! time, the state transitions, the history events (Step Functions allows 25,000) and the largest
//! state (256 KiB allowed). N = 500 is the widest pipeline the config accepts.
//! Run with `cargo build --workspace --bins && cargo run -p postetl-tests --example scale [N]`.

use postetl_tests::workflow::Workflow;
use postetl_tests::{Emulator, Lambdas, LocalAws, TestKey};
use serde_json::json;
use std::fmt::Write;
use std::time::{Duration, Instant};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = std::env::args().nth(1).map_or(Ok(100), |a| a.parse())?;
    let dir = std::env::temp_dir().join(format!("postetl-scale-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let mut config = String::from(
        "[settings]\naudit_table = \"ANALYTICS.AUDIT.DQ_RESULTS\"\npoll_seconds = 1\n\n[pipelines.wide]\nglue_jobs = [\"wide-job\"]\nwarehouse = \"WIDE_WH\"\nmax_concurrency = 10\n",
    );
    for i in 0..n {
        write!(
            config,
            "\n[[pipelines.wide.iceberg_tables]]\ntable = \"LAKE.RAW.T{i}\"\nglue_database = \"lake\"\nglue_table = \"t{i}\"\ncatalog = \"object_store\"\nstorage_base_url = \"s3://lake/warehouse/\"\n"
        )?;
        write!(
            config,
            "\n[[pipelines.wide.merges]]\nname = \"t{i}\"\ntarget = \"ANALYTICS.CORE.T{i}\"\nsource = \"LAKE.RAW.T{i}\"\nkeys = [\"ID\"]\ncolumns = [\"V\"]\nversion_column = \"UPDATED_AT\"\n"
        )?;
    }
    config.push_str("\n[[pipelines.wide.checks]]\nname = \"t0_present\"\nkind = \"row_count\"\nseverity = \"error\"\ntable = \"ANALYTICS.CORE.T0\"\nmin = 1\n");
    let config_path = dir.join("pipelines.toml");
    std::fs::write(&config_path, config)?;

    let setup = Instant::now();
    let emulator = Emulator::start();
    let key = TestKey::generate();
    emulator
        .register_user("XY12345", "SVC_POSTETL", &[&key.public_pem])
        .await;
    let mut sql = String::from(
        "CREATE DATABASE LAKE; CREATE SCHEMA LAKE.RAW; CREATE DATABASE ANALYTICS; CREATE SCHEMA ANALYTICS.CORE; \
         CREATE WAREHOUSE WIDE_WH WITH WAREHOUSE_SIZE = 'XSMALL' AUTO_RESUME = FALSE INITIALLY_SUSPENDED = TRUE;",
    );
    for i in 0..n {
        write!(
            sql,
            "CREATE TABLE ANALYTICS.CORE.T{i} (ID BIGINT, V VARCHAR, UPDATED_AT TIMESTAMP);"
        )?;
    }
    emulator.sql(&sql).await;
    let env = vec![
        (
            "POSTETL_CONFIG".to_string(),
            config_path.display().to_string(),
        ),
        (
            "POSTETL_SECRET_ID".to_string(),
            "postetl/snowflake".to_string(),
        ),
        ("SNOWFLAKE_BASE_URL".to_string(), emulator.url().to_string()),
    ];
    let aws = LocalAws::start_with(Some(&Lambdas::debug_build(env)), None);
    let sdk = aws.sdk_config().await;
    aws_sdk_secretsmanager::Client::new(&sdk)
        .create_secret()
        .name("postetl/snowflake")
        .secret_string(key.secret_json("xy12345", "svc_postetl", None).expose())
        .send()
        .await?;
    let glue = aws.glue().await;
    glue.create_database()
        .database_input(
            aws_sdk_glue::types::DatabaseInput::builder()
                .name("lake")
                .build()?,
        )
        .send()
        .await?;
    let columns = json!([
        ["ID", "BIGINT"],
        ["V", "VARCHAR"],
        ["UPDATED_AT", "TIMESTAMP"]
    ]);
    for i in 0..n {
        emulator.admin_post("_emulator/iceberg/tables", json!({"table": format!("LAKE.RAW.T{i}"), "catalog": "object_store", "columns": columns})).await;
        let file = format!("t{i}/metadata/00001.metadata.json");
        let rows = json!([
            [1, "a", "2026-11-23 08:00:00"],
            [2, "b", "2026-11-23 08:00:00"],
            [2, "c", "2026-11-23 09:00:00"]
        ]);
        emulator
            .admin_post(
                "_emulator/iceberg/snapshots",
                json!({"table": format!("LAKE.RAW.T{i}"), "metadata_file": file, "rows": rows}),
            )
            .await;
        let input = aws_sdk_glue::types::TableInput::builder()
            .name(format!("t{i}"))
            .parameters("metadata_location", format!("s3://lake/warehouse/{file}"))
            .build()?;
        glue.create_table()
            .database_name("lake")
            .table_input(input)
            .send()
            .await?;
    }
    let workflow = Workflow::deploy(&aws).await;
    println!(
        "setup of {n} tables: {:.1} s",
        setup.elapsed().as_secs_f64()
    );

    let started = Instant::now();
    let execution = workflow.start("wide-1", &json!({"pipeline": "wide"})).await;
    let finished = workflow.wait(&execution, Duration::from_secs(1800)).await;
    report(&format!("pipeline with {n} tables"), &finished, started);
    let last = format!("ANALYTICS.CORE.T{}", n - 1);
    let merged = emulator.sql(&format!("SELECT COUNT(*) FROM {last}")).await;
    println!(
        "  statements run: {}",
        emulator.log().await["executions"]
            .as_array()
            .map_or(0, Vec::len)
    );
    println!("  rows in {last}: {}", merged[0][0]);
    if finished.status != "SUCCEEDED" {
        return Err(format!("{finished:?}").into());
    }

    // A dry run carries every statement's text in its task results: the state must stay small.
    let started = Instant::now();
    let execution = workflow
        .start("wide-dry", &json!({"pipeline": "wide", "dryRun": true}))
        .await;
    let dry = workflow.wait(&execution, Duration::from_secs(1800)).await;
    report(&format!("dry run with {n} tables"), &dry, started);
    if dry.status != "SUCCEEDED" {
        return Err(format!("{dry:?}").into());
    }
    Ok(())
}

fn report(what: &str, finished: &postetl_tests::workflow::Finished, started: Instant) {
    println!(
        "{what}: {} in {:.1} s, {} state transitions",
        finished.status,
        started.elapsed().as_secs_f64(),
        finished.states.len()
    );
    println!(
        "  Lambda invocations: {}",
        finished
            .events
            .iter()
            .filter(|e| *e == "TaskScheduled")
            .count()
    );
    println!("  history events: {}", finished.events.len());
    println!("  largest state: {} bytes", finished.largest_state);
}
