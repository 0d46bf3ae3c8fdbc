//! The contracts between the steps: what the state machine passes each Lambda and what each
//! returns. Field names are camelCase, as Step Functions JSONPath reads them.

use crate::config::Severity;
use serde::{Deserialize, Serialize};

/// Which run an invocation belongs to; the plan puts it in every item so each call stands alone.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Run {
    pub pipeline: String,
    /// Names the work, not the attempt: a Glue event's job run id (so a replayed event is the same
    /// run), or the execution for a manual start. Snowflake request ids derive from it.
    pub run_key: String,
    /// The Step Functions execution ARN.
    pub execution: String,
    #[serde(default)]
    pub dry_run: bool,
}

/// The plan step's input: the execution input as given, and the execution's ARN.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanRequest {
    pub input: serde_json::Value,
    pub execution: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum Trigger {
    #[serde(rename_all = "camelCase")]
    Glue {
        job_name: String,
        job_run_id: String,
        event_time: Option<String>,
        /// From Glue GetJobRun when it answered.
        job_run: Option<GlueJobRun>,
    },
    Manual,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct GlueJobRun {
    pub state: Option<String>,
    pub started_on: Option<String>,
    pub completed_on: Option<String>,
    pub execution_time_seconds: Option<i32>,
    pub attempt: Option<i32>,
}

/// What the state machine iterates.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    pub run: Run,
    pub trigger: Trigger,
    pub warehouse: String,
    pub warehouse_size: Option<String>,
    pub iceberg_tables: Vec<Item>,
    pub merges: Vec<Item>,
    pub max_concurrency: u32,
    pub checks: usize,
    pub marts: Vec<String>,
    /// Seconds the state machine waits before resuming a statement handed back.
    pub poll_seconds: u64,
    /// Whether this run may go ahead now (one run per pipeline at a time).
    pub gate: Gate,
    /// Which execution this run waits behind or was superseded by.
    pub gate_reason: Option<String>,
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub enum Gate {
    Proceed,
    /// An older run of the pipeline is still running: wait and plan again.
    Wait,
    /// Waiting, and a newer run is already queued: end cleanly, it will do the work.
    Superseded,
}

/// One table or merge of a run; `handle` is set when resuming a statement handed back earlier.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Item {
    pub run: Run,
    pub item: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handle: Option<String>,
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub enum WarehouseAction {
    Resume,
    Suspend,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WarehouseRequest {
    pub run: Run,
    pub action: WarehouseAction,
    /// For suspend on the failure path: first cancel this execution's statements still running.
    /// Whether this run resumed or resized the warehouse the step finds out itself (see the
    /// warehouse crate), so a lost answer or a crash cannot make it forget.
    #[serde(default)]
    pub cancel_running: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct WarehouseResult {
    pub warehouse: String,
    pub action: WarehouseAction,
    /// Resume: this run started the warehouse (so it should suspend it).
    pub resumed: bool,
    /// Suspend: this call suspended it.
    pub suspended: bool,
    /// Resume with a run size: the size before, to restore at the end.
    pub previous_size: Option<String>,
    /// Statements that were logged but not run (dry run).
    pub skipped: Vec<String>,
    /// Query ids of this execution's statements cancelled before suspending.
    #[serde(default)]
    pub cancelled: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RefreshResult {
    pub table: String,
    /// The metadata file refreshed to (object store), relative to the base location.
    pub metadata_file: Option<String>,
    pub refreshed: bool,
    pub statement: String,
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub enum Status {
    Done,
    /// A statement outlived the invocation; call again with `handle`.
    Running,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MergeResult {
    pub merge: String,
    pub status: Status,
    /// Present while running: the input to resume with.
    pub resume: Option<Item>,
    pub rows_inserted: u64,
    pub rows_updated: u64,
    pub rows_deleted: u64,
    pub dry_run_sql: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RunRequest {
    pub run: Run,
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub enum Outcome {
    Pass,
    Warn,
    Fail,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Warn => "warn",
            Outcome::Fail => "fail",
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RuleResult {
    pub rule: String,
    pub severity: Severity,
    pub outcome: Outcome,
    /// The figure measured: failing rows, row count, or age in minutes.
    pub observed: Option<i64>,
    pub message: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct QualityResult {
    pub passed: usize,
    pub warned: usize,
    pub failed: usize,
    /// True when an `error` rule failed: the state machine stops before the marts.
    pub stop: bool,
    pub failures: Vec<RuleResult>,
    pub audit_rows: usize,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MartsRequest {
    pub run: Run,
    /// Resuming: the position of the mart whose statement was handed back.
    #[serde(default)]
    pub next: usize,
    #[serde(default)]
    pub handle: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MartsResult {
    pub status: Status,
    pub refreshed: Vec<String>,
    /// Present while running: the input to resume with.
    pub resume: Option<serde_json::Value>,
    pub skipped: Vec<String>,
}
