//! The contracts between the steps: what the state machine passes each Lambda and what each
//! returns. Field names are camelCase, as Step Functions JSONPath reads them.

use crate::config::Severity;
use serde::{Deserialize, Serialize};

/// Which run an invocation belongs to; the state machine puts it in every item's input so each
/// call stands alone.
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
    /// The Iceberg tables the run covers, and with them what depends on them (see
    /// [`crate::config::Scope`]): a manual start's `tables`, narrowed by the plan to those that
    /// changed since the last successful run; absent, the whole pipeline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tables: Option<Vec<String>>,
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

/// What the state machine iterates. The lists hold names only: the Map states build each
/// iteration's input (an [`Item`]) from the name and `run`, so the run object is not repeated per
/// item in the state (256 KiB per state on Step Functions).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    pub run: Run,
    pub trigger: Trigger,
    pub warehouse: String,
    pub warehouse_size: Option<String>,
    /// Full names of the Iceberg tables to refresh.
    pub iceberg_tables: Vec<String>,
    /// Names of the merges to run.
    pub merges: Vec<String>,
    pub max_concurrency: u32,
    pub checks: usize,
    pub marts: Vec<String>,
    /// Seconds the state machine waits before resuming a statement handed back.
    pub poll_seconds: u64,
    /// How many times each poll loop of the state machine may go round.
    pub limits: PollLimits,
    /// Whether this run may go ahead now (one run per pipeline at a time).
    pub gate: Gate,
    /// Which execution this run waits behind or was superseded by, or since when nothing changed.
    pub gate_reason: Option<String>,
    /// The last successful run of the pipeline whose metadata locations this run compared with;
    /// absent when none was found or the run was forced (then every table counts as changed).
    #[serde(default)]
    pub changed_since: Option<String>,
    /// What the run leaves out because nothing it depends on changed since then.
    #[serde(default)]
    pub skipped: Skipped,
    /// Table to the Glue metadata location Snowflake is up to once this run succeeds: the next
    /// run's baseline (read back from this execution's output). At most about 75 KiB for the
    /// largest pipeline (500 tables), well within the 256 KiB state limit.
    #[serde(default)]
    pub sources: std::collections::BTreeMap<String, String>,
}

/// The parts of a pipeline a change-aware run skips, by name.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Skipped {
    pub iceberg_tables: Vec<String>,
    pub merges: Vec<String>,
    pub checks: Vec<String>,
    pub marts: Vec<String>,
}

impl Skipped {
    pub fn is_empty(&self) -> bool {
        self.iceberg_tables.is_empty()
            && self.merges.is_empty()
            && self.checks.is_empty()
            && self.marts.is_empty()
    }
}

/// Caps on the state machine's poll loops; past one, the run fails with
/// `Workflow.PollLimitExceeded` through the failure path. Each poll adds about
/// [`EVENTS_PER_POLL`] history events, and an execution may have at most [`HISTORY_EVENT_LIMIT`].
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct PollLimits {
    /// Waits behind an older run of the pipeline (the gate loop).
    pub gate_polls: u64,
    /// Resumes of one MERGE handed back (per Map iteration).
    pub merge_polls: u64,
    /// Resumes of the marts step.
    pub mart_polls: u64,
}

/// Step Functions' hard limit on an execution's history (Map iterations inline count in it).
pub const HISTORY_EVENT_LIMIT: u64 = 25_000;
/// One go round a poll loop: Choice, counting Pass, Wait (2 events each) and the Lambda task
/// (entered, scheduled, started, succeeded, exited).
pub const EVENTS_PER_POLL: u64 = 11;
/// Events of a run without the per-item and poll events: the top-level states, the failure path.
pub const EVENTS_FIXED: u64 = 100;
/// One refresh iteration: iteration started/succeeded and the task's five.
pub const EVENTS_PER_TABLE: u64 = 7;
/// One merge iteration that is not polled: the refresh's seven, the Choice and the closing Pass.
pub const EVENTS_PER_MERGE: u64 = 11;
/// Kept free for retries (three events each) and whatever the estimate above misses.
pub const EVENTS_SPARE: u64 = 1_000;

impl PollLimits {
    /// The caps for a run: each loop gets what its own bound needs (`*_needed`: the wait limit or
    /// statement timeout over the poll interval), but never so much that every loop at its cap
    /// would pass the history limit. The gate and the marts may take a quarter of the free events
    /// each; the merges share the rest. Each loop may go round at least once.
    pub fn within_history(
        tables: u64,
        merges: u64,
        gate_needed: u64,
        merge_needed: u64,
        mart_needed: u64,
    ) -> PollLimits {
        let used =
            EVENTS_FIXED + EVENTS_SPARE + EVENTS_PER_TABLE * tables + EVENTS_PER_MERGE * merges;
        let free = HISTORY_EVENT_LIMIT.saturating_sub(used) / EVENTS_PER_POLL;
        let gate_polls = gate_needed.min(free / 4).max(1);
        let mart_polls = mart_needed.min(free / 4).max(1);
        let left = free.saturating_sub(gate_polls + mart_polls);
        let merge_polls = merge_needed.min(left / merges.max(1)).max(1);
        PollLimits {
            gate_polls,
            merge_polls,
            mart_polls,
        }
    }

    /// History events of a run in which every loop goes round its cap, retries aside.
    pub fn worst_case_events(&self, tables: u64, merges: u64) -> u64 {
        EVENTS_FIXED
            + EVENTS_PER_TABLE * tables
            + EVENTS_PER_MERGE * merges
            + EVENTS_PER_POLL * (self.gate_polls + self.mart_polls + self.merge_polls * merges)
    }
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub enum Gate {
    Proceed,
    /// An older run of the pipeline is still running: wait and plan again.
    Wait,
    /// Waiting, and a newer run is already queued: end cleanly, it will do the work.
    Superseded,
    /// No Iceberg table changed since the last successful run: end without resuming the warehouse.
    Unchanged,
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
    /// Suspend on the failure path: the failure being handled (`$.failure`), for the ledger.
    #[serde(default)]
    pub failure: Option<Failure>,
    /// Suspend: when the execution started (`$$.Execution.StartTime`), for the ledger's run row.
    #[serde(default)]
    pub run_started: Option<String>,
    /// Suspend: what the plan skipped as unchanged (`$.plan.skipped`), for the ledger's rows.
    #[serde(default)]
    pub skipped: Skipped,
    /// Suspend: the run those items were unchanged since (`$.plan.changedSince`).
    #[serde(default)]
    pub changed_since: Option<String>,
}

/// A failure the state machine recorded (`$.failure`): the state that failed and its error name.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Failure {
    pub step: String,
    pub error: String,
    #[serde(default)]
    pub cause: Option<String>,
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
    /// Resume: the size the warehouse runs at for this run (for the run's cost).
    #[serde(default)]
    pub size: Option<String>,
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
    /// Snowflake answered from an earlier request with the same request id (a replayed event):
    /// this run did not do the work.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub from_earlier_run: bool,
    /// The merges reading this table whose target's columns differ from the table's new ones,
    /// and what their `on_schema_change` made of it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub schema_drift: Vec<SchemaDrift>,
}

/// Schema drift a merge's `on_schema_change` allowed (drift it does not allow fails the run).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SchemaDrift {
    pub merge: String,
    pub on_schema_change: String,
    pub differences: Vec<String>,
    /// The ALTER TABLE statements that followed it (a dry run lists them without running them).
    pub statements: Vec<String>,
    pub applied: bool,
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
    /// Snowflake answered from an earlier request with the same request id (a replayed event):
    /// the row counts are that earlier run's, not this one's. Always present: the state machine
    /// selects it.
    #[serde(default)]
    pub from_earlier_run: bool,
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

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
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
    pub resume: Option<MartsRequest>,
    pub skipped: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_widest_pipeline_polled_to_every_cap_stays_within_the_history_limit() {
        // The widths validate accepts at most, with loops that would each like to go round for hours.
        for (tables, merges) in [(500, 500), (500, 0), (0, 500), (1, 1), (0, 0)] {
            let limits = PollLimits::within_history(tables, merges, 10_000, 10_000, 10_000);
            let events = limits.worst_case_events(tables, merges);
            assert!(
                events + EVENTS_SPARE <= HISTORY_EVENT_LIMIT,
                "{tables} tables, {merges} merges: {limits:?} gives {events} events"
            );
            assert!(limits.gate_polls >= 1 && limits.merge_polls >= 1 && limits.mart_polls >= 1);
        }
    }

    #[test]
    fn a_narrow_pipeline_gets_what_its_timeouts_need() {
        let limits = PollLimits::within_history(2, 2, 121, 61, 183);
        assert_eq!(
            limits,
            PollLimits {
                gate_polls: 121,
                merge_polls: 61,
                mart_polls: 183
            }
        );
    }
}
