//! `[settings]`: what every pipeline shares.

use super::read::Table;
use schemars::JsonSchema;
use serde::Deserialize;
use snowflake::ObjectName;
use std::time::Duration;

/// Snowflake's limit for STATEMENT_TIMEOUT_IN_SECONDS (7 days):
/// <https://docs.snowflake.com/en/sql-reference/parameters#statement-timeout-in-seconds>
pub const MAX_STATEMENT_TIMEOUT_SECONDS: u64 = 604_800;

pub(crate) const DEFAULT_STATEMENT_TIMEOUT_SECONDS: u64 = 3600;

/// `[settings]` as written.
#[derive(Deserialize, JsonSchema, Default, Debug)]
#[serde(deny_unknown_fields)]
pub struct SettingsFile {
    /// Where data-quality results go (`DATABASE.SCHEMA.TABLE`); created if absent. Default
    /// `POSTETL_AUDIT.PUBLIC.DQ_RESULTS`.
    pub audit_table: Option<String>,
    /// Snowflake-side limit for each statement, in seconds (at most 604800, Snowflake's maximum). Default 3600.
    #[schemars(range(min = 1, max = 604_800))]
    pub statement_timeout_seconds: Option<u64>,
    /// How long the state machine waits between polls of a statement handed back. Default 30.
    #[schemars(range(min = 1, max = 3600))]
    pub poll_seconds: Option<u64>,
    /// How long a run waits for an earlier run of the same pipeline before failing. Default 60.
    #[schemars(range(min = 1, max = 1440))]
    pub max_wait_minutes: Option<u64>,
    /// The longest a run may take (the state machine's TimeoutSeconds). Default 240.
    #[schemars(range(min = 5, max = 1440))]
    pub run_timeout_minutes: Option<u64>,
    /// The run ledger: one row per run and per step item, written by the steps
    /// (`DATABASE.SCHEMA.TABLE`); created if absent. Default `POSTETL_AUDIT.PUBLIC.RUN_LEDGER`.
    pub ledger_table: Option<String>,
    /// Prices for the cost of a run, in US dollars. Defaults: list prices in us-east-1.
    #[serde(default)]
    pub prices: PricesFile,
}

/// `[settings.prices]` as written: what a run costs is figured with these.
#[derive(Deserialize, JsonSchema, Default, Debug)]
#[serde(deny_unknown_fields)]
pub struct PricesFile {
    /// The region the prices are for (a label in reports). Default "us-east-1".
    pub region: Option<String>,
    /// Dollars per Snowflake credit. Default 3.00 (Enterprise edition, AWS us-east-1, on demand).
    #[schemars(range(min = 0.0, max = 100.0))]
    pub snowflake_credit: Option<f64>,
    /// Dollars per Step Functions Standard state transition. Default 0.000025 ($0.025 per 1,000).
    #[schemars(range(min = 0.0, max = 1.0))]
    pub state_transition: Option<f64>,
    /// Dollars per Lambda GB-second. Default 0.0000133334 (Arm, first pricing tier).
    #[schemars(range(min = 0.0, max = 1.0))]
    pub lambda_gb_second: Option<f64>,
    /// Dollars per Lambda request. Default 0.0000002 ($0.20 per million).
    #[schemars(range(min = 0.0, max = 1.0))]
    pub lambda_request: Option<f64>,
    /// Memory of the step Lambdas in MB, for GB-seconds. Default 256 (the largest step's).
    #[schemars(range(min = 128, max = 10240))]
    pub lambda_memory_mb: Option<u64>,
}

/// The prices a run's cost is figured with (see [`PricesFile`] for each default's source).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Prices {
    pub region: String,
    pub snowflake_credit: f64,
    pub state_transition: f64,
    pub lambda_gb_second: f64,
    pub lambda_request: f64,
    pub lambda_memory_mb: u64,
}

impl Default for Prices {
    /// List prices: Snowflake's credit price for Enterprise on AWS us-east-1 (snowflake.com/pricing),
    /// Step Functions Standard and Lambda on Arm in us-east-1 (aws.amazon.com/step-functions/pricing,
    /// aws.amazon.com/lambda/pricing).
    fn default() -> Self {
        Self {
            region: "us-east-1".into(),
            snowflake_credit: 3.0,
            state_transition: 0.000_025,
            lambda_gb_second: 0.000_013_333_4,
            lambda_request: 0.000_000_2,
            lambda_memory_mb: 256,
        }
    }
}

/// The settings, validated.
pub(crate) struct Settings {
    pub audit_table: Option<ObjectName>,
    pub statement_timeout_seconds: u64,
    pub poll_seconds: u64,
    pub max_wait: Duration,
    pub run_timeout: Duration,
    pub ledger_table: Option<ObjectName>,
    pub prices: Prices,
}

fn minutes(m: u64) -> Duration {
    // The ranges keep this far from overflow; saturating all the same, never wrapping.
    Duration::from_secs(m.saturating_mul(60))
}

fn table_setting(t: &mut Table<'_>, key: &'static str, default: &str) -> Option<ObjectName> {
    let text = t.str(key).unwrap_or(default);
    let at = t.at(key);
    t.ctx.object(&at, text).filter(|name| {
        let ok = name.parts().len() == 3;
        if !ok {
            t.ctx.problem(&at, "give DATABASE.SCHEMA.TABLE");
        }
        ok
    })
}

fn prices(mut t: Table<'_>) -> Prices {
    let d = Prices::default();
    let prices = Prices {
        region: t.str("region").map_or(d.region, str::to_string),
        snowflake_credit: t
            .number("snowflake_credit", 0.0..=100.0)
            .unwrap_or(d.snowflake_credit),
        state_transition: t
            .number("state_transition", 0.0..=1.0)
            .unwrap_or(d.state_transition),
        lambda_gb_second: t
            .number("lambda_gb_second", 0.0..=1.0)
            .unwrap_or(d.lambda_gb_second),
        lambda_request: t
            .number("lambda_request", 0.0..=1.0)
            .unwrap_or(d.lambda_request),
        lambda_memory_mb: t
            .int("lambda_memory_mb", 128..=10_240)
            .unwrap_or(d.lambda_memory_mb),
    };
    t.finish();
    prices
}

pub(crate) fn read(mut t: Table<'_>) -> Settings {
    let audit_table = table_setting(&mut t, "audit_table", "POSTETL_AUDIT.PUBLIC.DQ_RESULTS");
    let ledger_table = table_setting(&mut t, "ledger_table", "POSTETL_AUDIT.PUBLIC.RUN_LEDGER");
    let prices = prices(t.sub("prices"));
    let settings = Settings {
        audit_table,
        ledger_table,
        prices,
        statement_timeout_seconds: t
            .int(
                "statement_timeout_seconds",
                1..=MAX_STATEMENT_TIMEOUT_SECONDS,
            )
            .unwrap_or(DEFAULT_STATEMENT_TIMEOUT_SECONDS),
        poll_seconds: t.int("poll_seconds", 1..=3600).unwrap_or(30),
        max_wait: minutes(t.int("max_wait_minutes", 1..=1440).unwrap_or(60)),
        run_timeout: minutes(t.int("run_timeout_minutes", 5..=1440).unwrap_or(240)),
    };
    t.finish();
    settings
}
