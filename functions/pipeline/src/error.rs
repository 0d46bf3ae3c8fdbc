//! What a step can fail with. `name()` is the Lambda `errorType` the state machine matches; Retry
//! on the transient names only (`StepError::is_transient`), never on input, config or SQL errors.

use crate::config::ConfigError;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum StepError {
    /// The input is not a Glue event, a manual input, or the step's own input shape.
    #[error("malformed input: {0}")]
    Malformed(String),
    #[error("no pipeline named {0:?} in the config")]
    UnknownPipeline(String),
    #[error("no pipeline is triggered by Glue job {0:?}")]
    UnknownJob(String),
    /// A Glue event whose run did not succeed: nothing to bring up to date.
    #[error("Glue job {job:?} run {run_id:?} ended {state}, not SUCCEEDED")]
    NotSucceeded {
        job: String,
        run_id: String,
        state: String,
    },
    /// The plan names a table, merge or mart that the config does not have (config changed mid-run?).
    #[error("pipeline {pipeline:?} has no {kind} named {name:?}")]
    UnknownItem {
        pipeline: String,
        kind: &'static str,
        name: String,
    },
    #[error(transparent)]
    Config(Arc<ConfigError>),
    #[error("environment: {0}")]
    Environment(String),
    /// A Glue API call failed in a way that may pass (throttling, 5xx, network).
    #[error("Glue unavailable: {0}")]
    GlueUnavailable(String),
    /// The Glue database or table does not exist, or has no Iceberg metadata location.
    #[error("Glue: {0}")]
    GlueNotFound(String),
    /// Glue refused the call (access denied, invalid input): retrying will not help.
    #[error("Glue: {0}")]
    GlueFailed(String),
    /// The table's metadata file is not under the configured external volume base location.
    #[error("metadata location {location:?} is not under the base location {base:?}")]
    OutsideBaseLocation { location: String, base: String },
    /// Listing or describing the state machine's executions failed in a way that may pass.
    #[error("Step Functions unavailable: {0}")]
    CoordinationUnavailable(String),
    /// An earlier run of the same pipeline kept running past the wait limit.
    #[error("waited more than {minutes} min for {behind} to finish")]
    WaitedTooLong { behind: String, minutes: u64 },
    /// A merge's source and target columns differ in a way its `on_schema_change` does not
    /// allow: the run stops before any MERGE. Every difference is listed.
    #[error("schema drift for merge {merge:?} ({source_table} into {target}, on_schema_change = {mode}): {}", differences.join("; "))]
    SchemaDrift {
        merge: String,
        source_table: String,
        target: String,
        mode: &'static str,
        differences: Vec<String>,
    },
    #[error(transparent)]
    Snowflake(#[from] snowflake::Error),
}

impl StepError {
    pub fn name(&self) -> &'static str {
        match self {
            StepError::Malformed(_) => "Input.Malformed",
            StepError::UnknownPipeline(_) => "Input.UnknownPipeline",
            StepError::UnknownJob(_) => "Input.UnknownJob",
            StepError::NotSucceeded { .. } => "Input.NotSucceeded",
            StepError::UnknownItem { .. } => "Input.UnknownItem",
            StepError::Config(_) => "Config.Invalid",
            StepError::Environment(_) => "Config.Environment",
            StepError::GlueUnavailable(_) => "Glue.Unavailable",
            StepError::GlueNotFound(_) => "Glue.NotFound",
            StepError::GlueFailed(_) => "Glue.Failed",
            StepError::OutsideBaseLocation { .. } => "Iceberg.OutsideBaseLocation",
            StepError::CoordinationUnavailable(_) => "Coordination.Unavailable",
            StepError::WaitedTooLong { .. } => "Coordination.WaitedTooLong",
            StepError::SchemaDrift { .. } => "Schema.Drift",
            StepError::Snowflake(e) => e.name(),
        }
    }

    pub fn is_transient(&self) -> bool {
        match self {
            StepError::GlueUnavailable(_) | StepError::CoordinationUnavailable(_) => true,
            StepError::Snowflake(e) => e.is_transient(),
            _ => false,
        }
    }
}

impl StepError {
    /// One value of each variant (and of each Snowflake error): what `name` and `is_transient`
    /// are read from for [`StepError::classes`] and [`error_names`], and what
    /// `tests/tests/definition.rs` asks whether a name the state machine retries is transient.
    pub fn catalogue() -> Vec<StepError> {
        let text = String::new;
        let config = crate::config::ConfigError {
            file: text(),
            problems: Vec::new(),
        };
        let mut all = vec![
            StepError::Malformed(text()),
            StepError::UnknownPipeline(text()),
            StepError::UnknownJob(text()),
            StepError::NotSucceeded {
                job: text(),
                run_id: text(),
                state: text(),
            },
            StepError::UnknownItem {
                pipeline: text(),
                kind: "",
                name: text(),
            },
            StepError::Config(Arc::new(config)),
            StepError::Environment(text()),
            StepError::GlueUnavailable(text()),
            StepError::GlueNotFound(text()),
            StepError::GlueFailed(text()),
            StepError::OutsideBaseLocation {
                location: text(),
                base: text(),
            },
            StepError::CoordinationUnavailable(text()),
            StepError::WaitedTooLong {
                behind: text(),
                minutes: 0,
            },
            StepError::SchemaDrift {
                merge: text(),
                source_table: text(),
                target: text(),
                mode: "",
                differences: Vec::new(),
            },
        ];
        // No wildcard: a new variant does not compile until it has a value above.
        for e in &all {
            match e {
                StepError::Malformed(_)
                | StepError::UnknownPipeline(_)
                | StepError::UnknownJob(_)
                | StepError::NotSucceeded { .. }
                | StepError::UnknownItem { .. }
                | StepError::Config(_)
                | StepError::Environment(_)
                | StepError::GlueUnavailable(_)
                | StepError::GlueNotFound(_)
                | StepError::GlueFailed(_)
                | StepError::OutsideBaseLocation { .. }
                | StepError::CoordinationUnavailable(_)
                | StepError::WaitedTooLong { .. }
                | StepError::SchemaDrift { .. }
                | StepError::Snowflake(_) => {}
            }
        }
        all.extend(
            snowflake::Error::catalogue()
                .into_iter()
                .map(StepError::Snowflake),
        );
        all
    }

    /// Every name a step can raise and whether it is transient (the state machine retries those,
    /// and catches the others), read from `name` and `is_transient` over
    /// [`StepError::catalogue`]: the single source the tests hold the state machine and the README
    /// to.
    pub fn classes() -> Vec<(&'static str, bool)> {
        Self::catalogue()
            .iter()
            .map(|e| (e.name(), e.is_transient()))
            .collect()
    }
}

/// Every name a step can raise, for the state machine's Retry/Catch and its tests
/// (`tests/tests/definition.rs`: every name the definition matches is one of these).
pub fn error_names() -> Vec<&'static str> {
    StepError::classes()
        .into_iter()
        .map(|(name, _)| name)
        .collect()
}

impl From<StepError> for lambda_runtime::Diagnostic {
    fn from(e: StepError) -> Self {
        tracing::error!(error_type = e.name(), error = %e, "step failed");
        lambda_runtime::Diagnostic {
            error_type: e.name().to_string(),
            error_message: e.to_string(),
        }
    }
}
