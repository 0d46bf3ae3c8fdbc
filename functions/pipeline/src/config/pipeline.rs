//! `[pipelines.<name>]`: which Glue jobs start a pipeline, its warehouse, and its parts.

use super::iceberg::{self, IcebergTable, IcebergTableFile, MAX_ICEBERG_TABLES};
use super::marts::{self, MAX_MARTS, Mart, MartFile};
use super::merge::{self, MAX_MERGES, Merge, MergeFile, MergeSpec};
use super::quality::{self, Check, CheckFile, KnownColumns, MAX_CHECKS};
use super::read::Table;
use super::settings::MAX_STATEMENT_TIMEOUT_SECONDS;
use schemars::JsonSchema;
use serde::Deserialize;
use snowflake::Identifier;
use std::collections::HashMap;
use std::time::Duration;

/// A pipeline as written.
#[derive(Deserialize, JsonSchema, Debug)]
#[serde(deny_unknown_fields)]
pub struct PipelineFile {
    /// Glue jobs whose SUCCEEDED runs start this pipeline.
    #[schemars(length(min = 1))]
    pub glue_jobs: Vec<String>,
    /// The warehouse the run uses (resumed at the start, suspended at the end).
    pub warehouse: String,
    /// Optional size for the run (XSMALL .. X6LARGE); the previous size is restored afterwards.
    pub warehouse_size: Option<String>,
    /// How many merges run at once (1..=40). Default 4.
    #[schemars(range(min = 1, max = 40))]
    pub max_concurrency: Option<u32>,
    /// Overrides `settings.statement_timeout_seconds`.
    #[schemars(range(min = 1, max = 604_800))]
    pub statement_timeout_seconds: Option<u64>,
    #[serde(default)]
    #[schemars(length(max = 500))]
    pub iceberg_tables: Vec<IcebergTableFile>,
    #[serde(default)]
    #[schemars(length(max = 500))]
    pub merges: Vec<MergeFile>,
    #[serde(default)]
    #[schemars(length(max = 500))]
    pub checks: Vec<CheckFile>,
    #[serde(default)]
    #[schemars(length(max = 100))]
    pub marts: Vec<MartFile>,
}

#[derive(Debug)]
pub struct Pipeline {
    pub name: String,
    pub glue_jobs: Vec<String>,
    pub warehouse: Identifier,
    pub warehouse_size: Option<String>,
    pub max_concurrency: u32,
    pub statement_timeout: Duration,
    pub iceberg_tables: Vec<IcebergTable>,
    pub merges: Vec<Merge>,
    pub checks: Vec<Check>,
    /// In refresh order (dependencies first).
    pub marts: Vec<Mart>,
}

const SIZES: &[&str] = &[
    "XSMALL", "SMALL", "MEDIUM", "LARGE", "XLARGE", "XXLARGE", "XXXLARGE", "X4LARGE", "X5LARGE",
    "X6LARGE",
];

/// A warehouse size in the form `ALTER WAREHOUSE .. SET WAREHOUSE_SIZE` takes, from any of the
/// spellings Snowflake uses (`X-Small`, `XSMALL`, `2X-Large`, `XXLARGE`); `None` if unknown.
pub fn normalise_size(size: &str) -> Option<String> {
    let compact = size.to_ascii_uppercase().replace(['-', '_', ' '], "");
    let name = match compact.as_str() {
        "2XLARGE" => "XXLARGE",
        "3XLARGE" => "XXXLARGE",
        "4XLARGE" => "X4LARGE",
        "5XLARGE" => "X5LARGE",
        "6XLARGE" => "X6LARGE",
        other => other,
    };
    SIZES.contains(&name).then(|| name.to_string())
}

pub(crate) fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

pub(crate) fn read(name: &str, mut t: Table<'_>, default_timeout: u64) -> Option<Pipeline> {
    let ctx = t.ctx;
    if !valid_name(name) {
        ctx.problem(
            &t.at,
            "a pipeline name is lowercase letters, digits, _ and -",
        );
    }
    let present = t.has("glue_jobs");
    let jobs = t.strs("glue_jobs");
    let glue_jobs = t.required("glue_jobs", jobs, present).and_then(|jobs| {
        if jobs.is_empty() {
            ctx.problem(&t.at("glue_jobs"), "name at least one Glue job");
        }
        let mut ok = !jobs.is_empty();
        for (at, job) in &jobs {
            if job.trim().is_empty() {
                ctx.problem(at, "must not be empty");
                ok = false;
            }
        }
        ok.then(|| jobs.iter().map(|(_, j)| j.to_string()).collect())
    });
    let warehouse = t
        .req_str("warehouse")
        .and_then(|w| ctx.ident(&t.at("warehouse"), w));
    let warehouse_size = t.str("warehouse_size").map(|s| {
        let size = normalise_size(s);
        if size.is_none() {
            ctx.problem(
                &t.at("warehouse_size"),
                format!("unknown size {s:?}; one of {}", SIZES.join(", ")),
            );
        }
        size
    });
    let max_concurrency = t.int("max_concurrency", 1..=40).unwrap_or(4) as u32;
    let timeout = t
        .int(
            "statement_timeout_seconds",
            1..=MAX_STATEMENT_TIMEOUT_SECONDS,
        )
        .unwrap_or(default_timeout);

    let iceberg_items = t.tables("iceberg_tables", MAX_ICEBERG_TABLES);
    let merge_items = t.tables("merges", MAX_MERGES);
    let check_items = t.tables("checks", MAX_CHECKS);
    let mart_items = t.tables("marts", MAX_MARTS);
    for list in [&merge_items, &check_items, &mart_items] {
        ctx.unique_names(
            list.iter()
                .filter_map(|m| Some((m.at("name"), m.peek_str("name")?))),
        );
    }
    let iceberg_at: Vec<_> = iceberg_items.iter().map(|i| i.at("table")).collect();
    let iceberg_tables: Vec<_> = iceberg_items.into_iter().map(iceberg::read).collect();
    // Steps name Iceberg tables by their dotted name (`DB.SCHEMA.TABLE`, quotes dropped).
    let mut seen = HashMap::new();
    for (at, table) in iceberg_at.iter().zip(&iceberg_tables) {
        let Some(table) = table else { continue };
        match seen.insert(table.table.plain(), &table.table) {
            Some(other) if other == &table.table => {
                ctx.problem(at, "this table is listed twice")
            }
            Some(other) => ctx.problem(
                at,
                format!(
                    "{} and {other} are different tables with the same dotted name {}, which the run uses to name its items; rename one",
                    table.table,
                    table.table.plain()
                ),
            ),
            None => {}
        }
    }
    // `depends_on` names merges of this pipeline.
    let merge_names: Vec<&str> = merge_items
        .iter()
        .filter_map(|m| m.peek_str("name"))
        .collect();
    for item in check_items.iter().chain(&mart_items) {
        let at = item.at("depends_on");
        for (i, name) in item.peek_strs("depends_on").into_iter().enumerate() {
            if !merge_names.contains(&name) {
                ctx.problem(&at.index(i), format!("no merge named {name:?}"));
            }
        }
    }
    let merges: Vec<_> = merge_items.into_iter().map(merge::read).collect();
    let mut known = KnownColumns::new();
    for m in merges.iter().flatten() {
        if let MergeSpec::Generated { target, .. } = &m.how {
            let cols = m.how.configured_columns().into_iter().cloned();
            known.entry(target.clone()).or_default().extend(cols);
        }
    }
    let checks: Vec<_> = check_items
        .into_iter()
        .map(|c| quality::read(c, &known))
        .collect();
    let marts_at = t.at("marts");
    let marts = marts::order(
        ctx,
        &marts_at,
        mart_items.into_iter().map(marts::read).collect(),
    );
    t.finish();
    Some(Pipeline {
        name: name.to_string(),
        glue_jobs: glue_jobs?,
        warehouse: warehouse?,
        warehouse_size: warehouse_size.map_or(Some(None), |s| s.map(Some))?,
        max_concurrency,
        statement_timeout: Duration::from_secs(timeout),
        iceberg_tables: iceberg_tables.into_iter().collect::<Option<_>>()?,
        merges: merges.into_iter().collect::<Option<_>>()?,
        checks: checks.into_iter().collect::<Option<_>>()?,
        marts: marts?,
    })
}
