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
}

/// The settings, validated.
pub(crate) struct Settings {
    pub audit_table: Option<ObjectName>,
    pub statement_timeout_seconds: u64,
    pub poll_seconds: u64,
    pub max_wait: Duration,
    pub run_timeout: Duration,
}

fn minutes(m: u64) -> Duration {
    // The ranges keep this far from overflow; saturating all the same, never wrapping.
    Duration::from_secs(m.saturating_mul(60))
}

pub(crate) fn read(mut t: Table<'_>) -> Settings {
    let audit = t
        .str("audit_table")
        .unwrap_or("POSTETL_AUDIT.PUBLIC.DQ_RESULTS");
    let at = t.at("audit_table");
    let audit_table = t.ctx.object(&at, audit).filter(|name| {
        let ok = name.parts().len() == 3;
        if !ok {
            t.ctx.problem(&at, "give DATABASE.SCHEMA.TABLE");
        }
        ok
    });
    let settings = Settings {
        audit_table,
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
