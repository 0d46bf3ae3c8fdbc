//! The sample `orders` pipeline's world, for the step tests and the demo: the Snowflake emulator
//! with the lake (Iceberg tables written "by Glue"), the modelled tables and the marts; local Glue
//! with the lake's catalog; and the pipeline environment the Lambdas run with
//! (statemachine/pipelines.toml, a client authenticated with a key made for this run).

use crate::aws::Lambdas;
use crate::{Emulator, LocalAws, TestKey};
use pipeline::env_vars::{
    POSTETL_ALERT_TOPIC_ARN, POSTETL_CONFIG, POSTETL_SECRET_ID, SNOWFLAKE_ACCOUNT, SNOWFLAKE_AUTH,
    SNOWFLAKE_BASE_URL, SNOWFLAKE_DATABASE, SNOWFLAKE_ENABLE_AWS_WIF_OUTBOUND_TOKEN,
    SNOWFLAKE_ROLE, SNOWFLAKE_SCHEMA, SNOWFLAKE_WAREHOUSE,
};
use pipeline::steps::Run;
use pipeline::{Config, Env};
use serde_json::{Value, json};
use snowflake::{Client, ClientConfig, SecretSource};

pub const ACCOUNT: &str = "xy12345.us-east-2.aws";
pub const USER: &str = "svc_postetl";
pub const BASE_LOCATION: &str = "s3://postetl-lake/warehouse/";
/// The Secrets Manager secret the Lambdas read (never its value: that stays in local AWS).
pub const SECRET_ID: &str = "postetl/snowflake";

/// Which build of the Lambda binaries runs, given their environment.
type LambdaBuild = fn(Vec<(String, String)>) -> Lambdas;

/// The role the Lambdas run as in keyless worlds (one role for all functions here).
pub const LAMBDA_ROLE: &str = "arn:aws:iam::123456789012:role/postetl-steps";

/// How the Lambdas authenticate to Snowflake.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum LambdaAuth {
    /// The key pair in the Secrets Manager secret `SECRET_ID`.
    Secret,
    /// Workload identity federation as `LAMBDA_ROLE`, with credentials from the emulator's STS
    /// stand-in, proving the role with a `GetWebIdentityToken` JWT (the default, and the form
    /// Snowflake documents for the SQL API); no Snowflake user trusts the role until the test says so.
    Keyless,
    /// The same with the signed `GetCallerIdentity` request
    /// (`SNOWFLAKE_ENABLE_AWS_WIF_OUTBOUND_TOKEN=false`), which the emulator accepts only when told
    /// to, as an unverified path.
    KeylessSignedRequest,
}

pub struct World {
    pub emulator: Emulator,
    pub aws: LocalAws,
    pub glue: aws_sdk_glue::Client,
    pub env: Env,
    pub key: TestKey,
    /// The Lambdas' role credentials in a keyless world.
    pub role: Option<crate::AwsRoleCredentials>,
    /// The config the Lambdas run with: the sample, with a one-second poll interval.
    pub config_path: std::path::PathBuf,
}

/// The orders table's columns as Glue lists them (Hive type names, lowercase names).
pub const ORDER_COLUMNS: &[(&str, &str)] = &[
    ("order_id", "bigint"),
    ("customer_id", "bigint"),
    ("status", "string"),
    ("amount", "decimal(10,2)"),
    ("updated_at", "timestamp"),
];
const CUSTOMER_COLUMNS: &[(&str, &str)] = &[
    ("customer_id", "bigint"),
    ("name", "string"),
    ("country", "string"),
];

/// An order as Glue writes it: id, customer, status, amount ("" for NULL), minutes before now it
/// was updated.
pub type Order<'a> = (i64, i64, &'a str, &'a str, u64);

/// The warehouse keeps Snowflake's default AUTO_RESUME = TRUE (CREATE WAREHOUSE reference), so a
/// statement that reaches it while suspended wakes it, as it would in production.
const SETUP: &str = "
CREATE DATABASE IF NOT EXISTS LAKE; CREATE SCHEMA IF NOT EXISTS LAKE.RAW;
CREATE DATABASE IF NOT EXISTS ANALYTICS; CREATE SCHEMA IF NOT EXISTS ANALYTICS.PUBLIC;
CREATE SCHEMA IF NOT EXISTS ANALYTICS.CORE; CREATE SCHEMA IF NOT EXISTS ANALYTICS.MARTS;
CREATE EXTERNAL VOLUME IF NOT EXISTS LAKE_VOLUME STORAGE_LOCATIONS = ((NAME = 'postetl-lake'
  STORAGE_PROVIDER = 'S3' STORAGE_BASE_URL = 's3://postetl-lake/warehouse/'
  STORAGE_AWS_ROLE_ARN = 'arn:aws:iam::123456789012:role/postetl-lake'));
CREATE WAREHOUSE IF NOT EXISTS POSTETL_WH WITH WAREHOUSE_SIZE = 'XSMALL' INITIALLY_SUSPENDED = TRUE;
CREATE TABLE ANALYTICS.CORE.ORDERS (ORDER_ID BIGINT, CUSTOMER_ID BIGINT, STATUS VARCHAR, AMOUNT DECIMAL(10,2), UPDATED_AT TIMESTAMP);
CREATE TABLE ANALYTICS.CORE.CUSTOMERS (CUSTOMER_ID BIGINT, NAME VARCHAR, COUNTRY VARCHAR);
CREATE TABLE ANALYTICS.MARTS.EXPORTS (EXPORTED_AT TIMESTAMP, DAYS BIGINT);
CREATE DYNAMIC TABLE ANALYTICS.MARTS.DAILY_REVENUE TARGET_LAG = '1 hour' WAREHOUSE = POSTETL_WH AS
  SELECT CAST(UPDATED_AT AS DATE) AS DAY, SUM(AMOUNT) AS REVENUE, COUNT(*) AS ORDERS
  FROM ANALYTICS.CORE.ORDERS WHERE STATUS <> 'CANCELLED' GROUP BY 1;
CREATE TASK ANALYTICS.MARTS.EXPORT_DAILY_REVENUE WAREHOUSE = POSTETL_WH AS
  INSERT INTO ANALYTICS.MARTS.EXPORTS SELECT CURRENT_TIMESTAMP(), COUNT(*) FROM ANALYTICS.MARTS.DAILY_REVENUE
";

impl World {
    /// Starts the emulator and local AWS and lays out the sample pipeline's objects; the lake
    /// holds a first Glue snapshot of orders and customers, the modelled tables are empty.
    pub async fn start() -> Self {
        Self::build(None, LambdaAuth::Secret, None, None, None).await
    }

    /// Also runs the real Lambda binaries behind local Step Functions; their logs go to `log`.
    pub async fn with_lambdas(log: Option<std::path::PathBuf>) -> Self {
        Self::build(
            Some(Lambdas::debug_build),
            LambdaAuth::Secret,
            log,
            None,
            None,
        )
        .await
    }

    /// With the Lambdas running a sample config changed by `edit` (which must change it).
    pub async fn with_lambdas_and_config(
        log: Option<std::path::PathBuf>,
        edit: fn(&str) -> String,
    ) -> Self {
        Self::build(
            Some(Lambdas::debug_build),
            LambdaAuth::Secret,
            log,
            None,
            Some(edit),
        )
        .await
    }

    /// With Lambdas that time out after `timeout` (Lambda's Timeout setting), so that a statement
    /// longer than `timeout` less 5 s is handed back to the state machine's poll loop.
    pub async fn with_lambdas_timing_out(
        timeout: std::time::Duration,
        log: Option<std::path::PathBuf>,
    ) -> Self {
        Self::build(
            Some(Lambdas::debug_build),
            LambdaAuth::Secret,
            log,
            Some(timeout),
            None,
        )
        .await
    }

    /// With the Lambdas authenticating as `auth` says.
    pub async fn with_lambdas_using(auth: LambdaAuth, log: Option<std::path::PathBuf>) -> Self {
        Self::build(Some(Lambdas::debug_build), auth, log, None, None).await
    }

    /// With the release binaries, for benchmarks.
    pub async fn with_release_lambdas(log: Option<std::path::PathBuf>) -> Self {
        Self::build(
            Some(Lambdas::release_build),
            LambdaAuth::Secret,
            log,
            None,
            None,
        )
        .await
    }

    async fn build(
        lambdas: Option<LambdaBuild>,
        auth: LambdaAuth,
        log: Option<std::path::PathBuf>,
        timeout: Option<std::time::Duration>,
        edit: Option<fn(&str) -> String>,
    ) -> Self {
        let emulator = Emulator::start();
        let config_path = test_config(edit);
        let role = match auth {
            LambdaAuth::Keyless | LambdaAuth::KeylessSignedRequest => {
                Some(emulator.aws_role_credentials(LAMBDA_ROLE).await)
            }
            LambdaAuth::Secret => None,
        };
        let aws = if let Some(lambdas) = lambdas {
            let mut env = vec![
                (
                    POSTETL_CONFIG.to_string(),
                    config_path.display().to_string(),
                ),
                (SNOWFLAKE_BASE_URL.to_string(), emulator.url().to_string()),
                ("RUST_LOG".to_string(), "info".to_string()),
                // finalize's alert topic: the one Workflow::deploy creates (moto's ARNs are fixed).
                (
                    POSTETL_ALERT_TOPIC_ARN.to_string(),
                    crate::workflow::alert_topic_arn(),
                ),
            ];
            match &role {
                None => env.push((POSTETL_SECRET_ID.to_string(), SECRET_ID.to_string())),
                Some(role) => {
                    // As CDK configures keyless functions: settings, no secret.
                    for (name, value) in [
                        (SNOWFLAKE_AUTH, "workload_identity"),
                        (SNOWFLAKE_ACCOUNT, ACCOUNT),
                        (SNOWFLAKE_ROLE, "POSTETL"),
                        (SNOWFLAKE_WAREHOUSE, "POSTETL_WH"),
                        (SNOWFLAKE_DATABASE, "ANALYTICS"),
                        (SNOWFLAKE_SCHEMA, "PUBLIC"),
                    ] {
                        env.push((name.to_string(), value.to_string()));
                    }
                    env.extend(role.lambda_env());
                    env.push((
                        "AWS_ENDPOINT_URL_STS".into(),
                        emulator.sts_url().to_string(),
                    ));
                    if auth == LambdaAuth::KeylessSignedRequest {
                        env.push((
                            SNOWFLAKE_ENABLE_AWS_WIF_OUTBOUND_TOKEN.into(),
                            "false".into(),
                        ));
                    }
                }
            }
            let mut lambdas = lambdas(env);
            lambdas.log = log;
            lambdas.timeout = timeout;
            LocalAws::start_with(Some(&lambdas), None)
        } else {
            LocalAws::start()
        };
        let key = TestKey::generate();
        emulator
            .register_user("XY12345", "SVC_POSTETL", &[&key.public_pem])
            .await;
        emulator.sql(SETUP).await;
        let columns = json!([
            ["ORDER_ID", "BIGINT"],
            ["CUSTOMER_ID", "BIGINT"],
            ["STATUS", "VARCHAR"],
            ["AMOUNT", "DECIMAL(10,2)"],
            ["UPDATED_AT", "TIMESTAMP"]
        ]);
        emulator
            .admin_post(
                "_emulator/iceberg/tables",
                // Its REFRESH paths resolve against LAKE_VOLUME's STORAGE_BASE_URL, independently of
                // the pipeline config's location for it.
                json!({"table": "LAKE.RAW.ORDERS", "catalog": "object_store",
                       "external_volume": "LAKE_VOLUME", "columns": columns}),
            )
            .await;
        let columns = json!([
            ["CUSTOMER_ID", "BIGINT"],
            ["NAME", "VARCHAR"],
            ["COUNTRY", "VARCHAR"]
        ]);
        emulator
            .admin_post(
                "_emulator/iceberg/tables",
                json!({"table": "LAKE.RAW.CUSTOMERS", "catalog": "glue", "columns": columns}),
            )
            .await;

        let glue = aws.glue().await;
        glue.create_database()
            .database_input(
                aws_sdk_glue::types::DatabaseInput::builder()
                    .name("lake")
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .expect("create the Glue database");
        for table in ["orders", "customers"] {
            let columns = match table {
                "orders" => ORDER_COLUMNS,
                _ => CUSTOMER_COLUMNS,
            };
            glue.create_table()
                .database_name("lake")
                .table_input(table_input(table, None, columns))
                .send()
                .await
                .expect("create a Glue table");
        }

        let secret = key.secret_json(ACCOUNT, USER, None);
        aws_sdk_secretsmanager::Client::new(&aws.sdk_config().await)
            .create_secret()
            .name(SECRET_ID)
            .secret_string(secret.expose())
            .send()
            .await
            .expect("store the Snowflake secret");
        let config = ClientConfig {
            base_url: Some(emulator.url()),
            ..ClientConfig::default()
        };
        let client = Client::new(SecretSource::Inline(secret), config).expect("client");
        let config = Config::load(&config_path).expect("the sample config is valid");
        let world = Self {
            emulator,
            aws,
            glue,
            env: Env::new(config, client),
            key,
            role,
            config_path,
        };
        world
            .glue_writes_orders(
                1,
                &[(1, 100, "NEW", "10.00", 600), (2, 101, "NEW", "25.50", 300)],
            )
            .await;
        world
            .glue_writes_customers(1, &[(100, "Ada", "GB"), (101, "Linus", "FI")])
            .await;
        world
    }

    /// A Glue job run wrote snapshot `version` of the orders table (its full contents): the
    /// Iceberg metadata file exists and Glue's table points at it; Snowflake sees it after REFRESH.
    pub async fn glue_writes_orders(&self, version: u32, orders: &[Order<'_>]) -> String {
        let now = chrono::Utc::now().naive_utc();
        let rows: Vec<Value> = orders
            .iter()
            .map(|(id, customer, status, amount, minutes_ago)| {
                let at = now - chrono::TimeDelta::minutes(*minutes_ago as i64);
                let amount = (!amount.is_empty()).then_some(amount);
                json!([
                    id,
                    customer,
                    status,
                    amount,
                    at.format("%Y-%m-%d %H:%M:%S").to_string()
                ])
            })
            .collect();
        self.glue_writes_order_rows(version, rows).await
    }

    /// The same with rows as given: `[id, customer, status, amount, updated_at]`, any of them null.
    pub async fn glue_writes_order_rows(&self, version: u32, rows: Vec<Value>) -> String {
        self.glue_writes_orders_as(version, ORDER_COLUMNS, rows)
            .await
    }

    /// A snapshot with its own columns (Glue's names and Hive types), e.g. after the Glue job added
    /// or dropped one: the Iceberg table in Snowflake takes them at its next REFRESH.
    pub async fn glue_writes_orders_as(
        &self,
        version: u32,
        columns: &[(&str, &str)],
        rows: Vec<Value>,
    ) -> String {
        let file = format!(
            "orders/metadata/{version:05}-{}.metadata.json",
            1000 + version
        );
        // The same columns in Snowflake's words (its Iceberg type mapping), for the emulator.
        let snowflake_columns: Vec<Value> = columns
            .iter()
            .map(|(name, ty)| {
                let ty = match *ty {
                    "string" => "VARCHAR".to_string(),
                    other => other.to_uppercase(),
                };
                json!([name.to_uppercase(), ty])
            })
            .collect();
        self.emulator
            .admin_post(
                "_emulator/iceberg/snapshots",
                json!({"table": "LAKE.RAW.ORDERS", "metadata_file": format!("{BASE_LOCATION}{file}"),
                       "columns": snowflake_columns, "rows": rows}),
            )
            .await;
        self.glue
            .update_table()
            .database_name("lake")
            .table_input(table_input(
                "orders",
                Some(&format!("{BASE_LOCATION}{file}")),
                columns,
            ))
            .send()
            .await
            .expect("update the Glue table");
        file
    }

    /// The customers table, behind a Glue catalog integration: Snowflake refreshes it without a path.
    pub async fn glue_writes_customers(&self, version: u32, customers: &[(i64, &str, &str)]) {
        let file = format!("customers/metadata/{version:05}.metadata.json");
        let rows: Vec<Value> = customers
            .iter()
            .map(|(id, name, country)| json!([id, name, country]))
            .collect();
        self.emulator
            .admin_post(
                "_emulator/iceberg/snapshots",
                json!({"table": "LAKE.RAW.CUSTOMERS", "metadata_file": file, "rows": rows}),
            )
            .await;
        // Glue holds the new metadata file as the table's location, as for every Iceberg table
        // in its catalog (change-aware runs compare it).
        self.glue
            .update_table()
            .database_name("lake")
            .table_input(table_input(
                "customers",
                Some(&format!("{BASE_LOCATION}{file}")),
                CUSTOMER_COLUMNS,
            ))
            .send()
            .await
            .expect("update the Glue table");
    }

    /// A run of the sample pipeline.
    pub fn run(&self, run_key: &str) -> Run {
        Run {
            pipeline: "orders".into(),
            run_key: run_key.into(),
            execution: format!(
                "arn:aws:states:us-east-1:123456789012:execution:post-etl:{run_key}"
            ),
            dry_run: false,
            tables: None,
        }
    }
}

/// The sample config and its SQL files, copied to a fresh directory with a one-second poll.
/// The config copy is the world's own: it goes with the world, so no run leaves a folder behind
/// in the temp directory.
impl Drop for World {
    fn drop(&mut self) {
        if let Some(dir) = self.config_path.parent().filter(|d| {
            d.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("postetl-config-"))
        }) {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

fn test_config(edit: Option<fn(&str) -> String>) -> std::path::PathBuf {
    static COUNT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = COUNT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("postetl-config-{}-{n}", std::process::id()));
    let source = crate::repo_root().join("statemachine");
    std::fs::create_dir_all(dir.join("sql")).expect("a config directory");
    for entry in std::fs::read_dir(source.join("sql")).expect("statemachine/sql") {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.join("sql").join(entry.file_name())).unwrap();
    }
    let text = std::fs::read_to_string(source.join("pipelines.toml")).unwrap();
    let text = text.replace("poll_seconds = 30", "poll_seconds = 1");
    assert!(
        text.contains("poll_seconds = 1"),
        "the sample config sets poll_seconds"
    );
    let text = match edit {
        Some(edit) => {
            let edited = edit(&text);
            assert_ne!(edited, text, "the edit changes the sample config");
            edited
        }
        None => text,
    };
    let path = dir.join("pipelines.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// A Glue table as Glue's Iceberg catalog keeps it: the columns in the storage descriptor, the
/// current metadata file in the parameters.
fn table_input(
    name: &str,
    metadata_location: Option<&str>,
    columns: &[(&str, &str)],
) -> aws_sdk_glue::types::TableInput {
    let columns = columns.iter().map(|(name, ty)| {
        aws_sdk_glue::types::Column::builder()
            .name(*name)
            .r#type(*ty)
            .build()
            .expect("a column")
    });
    let descriptor = aws_sdk_glue::types::StorageDescriptor::builder()
        .set_columns(Some(columns.collect()))
        .build();
    let mut input = aws_sdk_glue::types::TableInput::builder()
        .name(name)
        .storage_descriptor(descriptor)
        .parameters("table_type", "ICEBERG");
    if let Some(location) = metadata_location {
        input = input.parameters("metadata_location", location);
    }
    input.build().expect("a table input")
}
