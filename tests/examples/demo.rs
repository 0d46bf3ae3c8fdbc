//! The local demo until the state machine exists: one post-ETL run for a sample `orders` pipeline,
//! through the shared Snowflake crate against the local SQL API emulator (real JWTs, real SQL on
//! DuckDB): resume the warehouse, MERGE the newest version of each order, check data quality,
//! suspend the warehouse, print a summary. Run with `bash tests/demo.sh`.

use postetl_tests::{Emulator, TestKey};
use snowflake::{
    Binding, Client, ClientConfig, ObjectName, SecretSource, Statement, derive_request_id,
};
use std::time::{Duration, Instant};

const BUDGET: Duration = Duration::from_secs(60);

struct Run {
    client: Client,
    execution: String,
    started: Instant,
}

impl Run {
    async fn step(
        &self,
        name: &str,
        sql: &str,
        binds: Vec<Binding>,
    ) -> snowflake::Result<snowflake::ResultSet> {
        let t = Instant::now();
        print!("  {name:<28}");
        let mut statement = Statement::new(sql)
            .request_id(derive_request_id(&[&self.execution, name]))
            .query_tag(format!("postetl:orders:{}:{name}", self.execution));
        for b in binds {
            statement = statement.bind(b);
        }
        let result = self.client.query(&statement, BUDGET).await;
        match &result {
            Ok(r) => println!(
                "ok   {:>6.0} ms  {}",
                t.elapsed().as_secs_f64() * 1e3,
                describe(r)
            ),
            Err(e) => println!(
                "FAIL {:>6.0} ms  {} {e}",
                t.elapsed().as_secs_f64() * 1e3,
                e.name()
            ),
        }
        result
    }
}

fn describe(r: &snowflake::ResultSet) -> String {
    let s = r.stats;
    if s.num_rows_inserted + s.num_rows_updated + s.num_rows_deleted > 0 {
        format!(
            "{} inserted, {} updated, {} deleted",
            s.num_rows_inserted, s.num_rows_updated, s.num_rows_deleted
        )
    } else {
        format!("{} row(s)", r.len())
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("postetl local demo: a Glue run wrote new orders; bring Snowflake up to date\n");
    println!("[setup] starting the Snowflake SQL API emulator and generating a key pair");
    let emulator = Emulator::start();
    let key = TestKey::generate();
    emulator
        .register_user("XY12345", "SVC_POSTETL", &[&key.public_pem])
        .await;
    emulator
        .sql(
            "CREATE DATABASE ANALYTICS; CREATE SCHEMA IF NOT EXISTS ANALYTICS.PUBLIC; CREATE SCHEMA ANALYTICS.RAW;
             CREATE WAREHOUSE POSTETL_WH WITH WAREHOUSE_SIZE = 'XSMALL' AUTO_RESUME = FALSE INITIALLY_SUSPENDED = TRUE;
             CREATE TABLE ANALYTICS.PUBLIC.ORDERS (ORDER_ID INTEGER, STATUS VARCHAR, AMOUNT DECIMAL(10,2), UPDATED_AT TIMESTAMP);
             INSERT INTO ANALYTICS.PUBLIC.ORDERS VALUES (1, 'NEW', 10.00, '2026-11-22 08:00:00'), (2, 'NEW', 25.50, '2026-11-22 09:00:00');
             CREATE TABLE ANALYTICS.RAW.ORDERS_CHANGES (ORDER_ID INTEGER, STATUS VARCHAR, AMOUNT DECIMAL(10,2), UPDATED_AT TIMESTAMP);
             INSERT INTO ANALYTICS.RAW.ORDERS_CHANGES VALUES
               (2, 'SHIPPED', 25.50, '2026-11-23 07:00:00'), (2, 'PAID', 25.50, '2026-11-23 06:00:00'),
               (3, 'NEW', 99.90, '2026-11-23 07:30:00'), (4, 'NEW', 5.00, '2026-11-23 07:45:00')",
        )
        .await;
    let secret = key.secret_json("xy12345.us-east-2.aws", "svc_postetl", None);
    let config = ClientConfig {
        base_url: Some(emulator.url()),
        ..ClientConfig::default()
    };
    let run = Run {
        client: Client::new(SecretSource::Inline(secret), config)?,
        execution: format!("demo-{}", std::process::id()),
        started: Instant::now(),
    };
    let target = ObjectName::parse("ANALYTICS.PUBLIC.ORDERS")?;
    let source = ObjectName::parse("ANALYTICS.RAW.ORDERS_CHANGES")?;

    println!("[run] execution {}", run.execution);
    run.step(
        "resume warehouse",
        "ALTER WAREHOUSE POSTETL_WH RESUME IF SUSPENDED",
        vec![],
    )
    .await?;
    let merged = run
        .step(
            "merge orders",
            &format!(
                "MERGE INTO {target} t USING (SELECT * FROM {source} QUALIFY ROW_NUMBER() OVER \
                 (PARTITION BY ORDER_ID ORDER BY UPDATED_AT DESC) = 1) s ON t.ORDER_ID = s.ORDER_ID \
                 WHEN MATCHED THEN UPDATE SET STATUS = s.STATUS, AMOUNT = s.AMOUNT, UPDATED_AT = s.UPDATED_AT \
                 WHEN NOT MATCHED THEN INSERT (ORDER_ID, STATUS, AMOUNT, UPDATED_AT) VALUES (s.ORDER_ID, s.STATUS, s.AMOUNT, s.UPDATED_AT)"
            ),
            vec![],
        )
        .await?;
    let nulls = run
        .step(
            "check: no null amounts",
            &format!("SELECT COUNT(*) FROM {target} WHERE AMOUNT IS NULL"),
            vec![],
        )
        .await?;
    let dups = run
        .step(
            "check: unique order_id",
            &format!("SELECT COUNT(*) FROM (SELECT ORDER_ID FROM {target} GROUP BY ORDER_ID HAVING COUNT(*) > 1)"),
            vec![],
        )
        .await?;
    let shipped = run
        .step(
            "check: order 2 shipped",
            &format!("SELECT STATUS FROM {target} WHERE ORDER_ID = ?"),
            vec![Binding::fixed(2)],
        )
        .await?;
    run.step(
        "suspend warehouse",
        "ALTER WAREHOUSE POSTETL_WH SUSPEND",
        vec![],
    )
    .await?;

    let failed = [&nulls, &dups]
        .iter()
        .filter(|r| r.row(0).and_then(|r| r.get_i64(0).ok().flatten()) != Some(0))
        .count();
    let warehouses = emulator.warehouses().await;
    let wh = &warehouses[0];
    println!("\n[summary]");
    println!(
        "  rows merged        {} inserted, {} updated",
        merged.stats.num_rows_inserted, merged.stats.num_rows_updated
    );
    println!(
        "  quality checks     {} passed, {failed} failed",
        2 - failed
    );
    println!(
        "  order 2 status     {}",
        shipped
            .row(0)
            .and_then(|r| r.get_str(0).ok().flatten())
            .unwrap_or("?")
    );
    println!(
        "  warehouse          {} now {}, ran {:.1} s, billed {:.0} s",
        wh["name"].as_str().unwrap_or("?"),
        wh["state"].as_str().unwrap_or("?"),
        wh["running_seconds"].as_f64().unwrap_or(0.0),
        wh["billed_seconds"].as_f64().unwrap_or(0.0)
    );
    println!(
        "  wall time          {:.2} s",
        run.started.elapsed().as_secs_f64()
    );
    if failed > 0 {
        return Err("data-quality checks failed".into());
    }
    Ok(())
}
