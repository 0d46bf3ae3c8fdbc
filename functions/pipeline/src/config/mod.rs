//! The pipeline config: one TOML file that says, per pipeline, which Glue jobs trigger it and what
//! to do in Snowflake. Loading validates everything and reports every problem at once, each with
//! its path in the file (`pipelines.orders.checks[1].column`).
//!
//! One module per concern: `settings`, `pipeline`, `iceberg`, `merge`, `quality` (one module per
//! rule type), `marts`; `read` and `validate` hold what they share, `sql` the SQL checks. Each
//! concern's `*File` types describe the file for the JSON Schema; the reader fills the validated
//! model directly so that it can report every problem, not only serde's first.

mod iceberg;
mod marts;
mod merge;
mod pipeline;
mod problem;
mod quality;
mod read;
mod scope;
mod settings;
mod sql;
mod validate;

pub use iceberg::{CatalogKind, IcebergTable, IcebergTableFile, MAX_ICEBERG_TABLES};
pub use marts::{MAX_MARTS, Mart, MartAction, MartFile};
pub use merge::{
    GeneratedMergeFile, MAX_MERGES, Merge, MergeFile, MergeSpec, OnSchemaChange, SqlMergeFile,
};
pub use pipeline::{Pipeline, PipelineFile, normalise_size};
pub use problem::{ConfigError, Problem};
pub use quality::{
    AcceptedValuesFile, Check, CheckFile, CustomSqlFile, FreshnessFile, MAX_CHECKS, NotNullFile,
    RowCountFile, Rule, Severity, UniqueFile,
};
pub use scope::Scope;
pub use settings::{MAX_STATEMENT_TIMEOUT_SECONDS, Prices, PricesFile, SettingsFile};
pub use sql::count_failing_rows;

use problem::{At, syntax_problem};
use read::Table;
use schemars::JsonSchema;
use serde::Deserialize;
use snowflake::ObjectName;
use sql::SqlCheck;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::Duration;
use validate::Ctx;

/// The whole file, as written (for the JSON Schema).
#[derive(Deserialize, JsonSchema, Debug)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// Settings shared by every pipeline.
    #[serde(default)]
    pub settings: SettingsFile,
    /// Pipelines by name (lowercase letters, digits, `_` and `-`).
    #[schemars(extend("propertyNames" = { "pattern": "^[a-z0-9_-]+$" }, "minProperties" = 1))]
    pub pipelines: BTreeMap<String, PipelineFile>,
}

#[derive(Debug)]
pub struct Config {
    pub audit_table: ObjectName,
    /// `settings.ledger_table`: the run ledger the steps write (see [`crate::ledger`]).
    pub ledger_table: ObjectName,
    /// `[settings.prices]`: what a run's cost is figured with.
    pub prices: Prices,
    pub poll_seconds: u64,
    pub max_wait: Duration,
    /// `settings.run_timeout_minutes`: the longest a run may take (the state machine's TimeoutSeconds).
    pub run_timeout: Duration,
    pub pipelines: BTreeMap<String, Pipeline>,
}

impl Config {
    /// Reads and validates a config file, its SQL checked with a parser; SQL files are read
    /// relative to it. What `postetl validate`, `cdk synth` and the tests use.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        Self::load_with(path, &sql::Parser)
    }

    /// Reads a deployed config, as the Lambdas do: validated like [`Config::load`] except that its
    /// SQL is taken as text, because `cdk synth` ran `postetl validate` on this very file. The
    /// parser then stays out of the Lambda binaries (it would be the largest part of each).
    pub fn load_deployed(path: &Path) -> Result<Self, ConfigError> {
        Self::load_with(path, &sql::TextOnly)
    }

    fn load_with(path: &Path, sql_check: &'static dyn SqlCheck) -> Result<Self, ConfigError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: file.clone(),
            problems: vec![Problem {
                path: "(file)".into(),
                message: format!("cannot read: {e}"),
            }],
        })?;
        Self::parse_with(
            &text,
            path.parent().unwrap_or(Path::new(".")),
            &file,
            sql_check,
        )
    }

    /// Validates config text; `base_dir` is where relative SQL files are looked up.
    pub fn parse(text: &str, base_dir: &Path, file: &str) -> Result<Self, ConfigError> {
        Self::parse_with(text, base_dir, file, &sql::Parser)
    }

    fn parse_with(
        text: &str,
        base_dir: &Path,
        file: &str,
        sql_check: &'static dyn SqlCheck,
    ) -> Result<Self, ConfigError> {
        let fail = |problems| ConfigError {
            file: file.to_string(),
            problems,
        };
        let value: toml::Value =
            toml::from_str(text).map_err(|e| fail(vec![syntax_problem(text, &e)]))?;
        let ctx = Ctx::new(base_dir, sql_check);
        let config = read(Table::new(&ctx, At::root(), Some(&value)));
        let problems = ctx.into_problems();
        match config {
            Some(config) if problems.is_empty() => Ok(config),
            _ => Err(fail(problems)),
        }
    }

    pub fn pipeline(&self, name: &str) -> Option<&Pipeline> {
        self.pipelines.get(name)
    }

    /// The pipeline a Glue job triggers.
    pub fn pipeline_for_job(&self, job: &str) -> Option<&Pipeline> {
        self.pipelines
            .values()
            .find(|p| p.glue_jobs.iter().any(|j| j == job))
    }

    /// The JSON Schema of the file, for editors (`#:schema` in taplo / Even Better TOML).
    pub fn json_schema() -> serde_json::Value {
        serde_json::to_value(schemars::schema_for!(ConfigFile)).expect("a schema serialises")
    }
}

fn read(mut t: Table<'_>) -> Option<Config> {
    let ctx = t.ctx;
    let settings = settings::read(t.sub("settings"));
    let pipelines_at = t.at("pipelines");
    let entries = t.entries("pipelines");
    if entries.is_empty() {
        ctx.problem(&pipelines_at, "no pipeline is defined");
    }
    let mut job_owner: HashMap<String, &str> = HashMap::new();
    let mut pipelines = BTreeMap::new();
    let mut ok = true;
    for (name, p) in entries {
        let jobs_at = p.at("glue_jobs");
        for (i, job) in p.peek_strs("glue_jobs").into_iter().enumerate() {
            if let Some(other) = job_owner.insert(job.to_string(), name) {
                ctx.problem(
                    &jobs_at.index(i),
                    format!("Glue job {job:?} already triggers pipeline {other:?}"),
                );
            }
        }
        match pipeline::read(name, p, settings.statement_timeout_seconds) {
            Some(pipeline) => {
                pipelines.insert(name.to_string(), pipeline);
            }
            None => ok = false,
        }
    }
    t.finish();
    ok.then_some(())?;
    Some(Config {
        audit_table: settings.audit_table?,
        ledger_table: settings.ledger_table?,
        prices: settings.prices,
        poll_seconds: settings.poll_seconds,
        max_wait: settings.max_wait,
        run_timeout: settings.run_timeout,
        pipelines,
    })
}
