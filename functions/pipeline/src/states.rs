//! The names of `statemachine/post-etl.asl.json`'s states that Rust code relies on, declared once:
//! `finalize` reads an execution's history by them and the CLI's report finds the plan and the
//! Map states' items by them. `tests/tests/definition.rs` fails when one is not in the definition,
//! and when the CLI or `finalize` spells a state name out instead of using these.

/// The first state: its output carries the plan (`$.plan`), and the run in it.
pub const PLAN: &str = "Plan";
/// Entered only when the run resumes the warehouse (clean-up is needed from there on).
pub const RESUME_WAREHOUSE: &str = "ResumeWarehouse";
/// The Map over `plan.icebergTables`.
pub const REFRESH_ICEBERG_TABLES: &str = "RefreshIcebergTables";
/// The Map over `plan.merges`.
pub const RUN_MERGES: &str = "RunMerges";
/// A newer run of the pipeline does this one's work: the run ends here, cleanly.
pub const SUPERSEDED: &str = "Superseded";
/// Passed on every failure path after the clean-up, right before the alert (a dry run's ends here).
pub const ALERT_UNLESS_DRY_RUN: &str = "AlertUnlessDryRun";
/// The failure path's alert: once it ran, the run was cleaned up and alerted on.
pub const NOTIFY_FAILURE: &str = "NotifyFailure";

/// Every state name above.
pub const RELIED_ON: &[&str] = &[
    PLAN,
    RESUME_WAREHOUSE,
    REFRESH_ICEBERG_TABLES,
    RUN_MERGES,
    SUPERSEDED,
    ALERT_UNLESS_DRY_RUN,
    NOTIFY_FAILURE,
];

/// Where the definition puts what the tools read back from the state (each a `ResultPath`):
/// the plan (Plan's result; the Map states read their items from it) and a failure's record
/// (every `RecordFailure*` state). `tests/tests/definition.rs` holds the definition to them.
pub const PLAN_KEY: &str = "plan";
pub const FAILURE_KEY: &str = "failure";
