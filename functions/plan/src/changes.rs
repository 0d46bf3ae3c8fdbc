//! Change-aware runs: an Iceberg table whose current metadata location (Glue's
//! `metadata_location`) is the one the pipeline's last successful run brought Snowflake up to is
//! skipped, and with it whatever depends only on such tables (see [`pipeline::config::Scope`]).
//!
//! The last successful run's locations come from its Step Functions execution output
//! (`plan.sources`), not from the run ledger: the ledger is a Snowflake table, and a SELECT on it
//! resumes the warehouse (AUTO_RESUME), which a run with nothing to do must not. The ledger holds the
//! same locations (`METADATA_LOCATION`) for people and reports. A failed run never becomes the
//! baseline, so whatever it did not finish is done again by the next one.

use aws_sdk_sfn::types::ExecutionStatus;
use pipeline::StepError;
use pipeline::config::IcebergTable;
use serde_json::Value;
use std::collections::BTreeMap;
use tokio::task::JoinSet;

/// Newest successful executions looked at, and how many of them are described, at most.
const LISTED: i32 = 100;
const DESCRIBED: usize = 25;
/// Glue GetTable calls in flight at once.
const GLUE_CONCURRENCY: usize = 8;

/// The newest successful run of a pipeline that did its work, and the locations it left.
#[derive(Debug, PartialEq)]
pub struct Baseline {
    pub execution: String,
    /// Table (dotted name) to the metadata location Snowflake was brought up to.
    pub sources: BTreeMap<String, String>,
}

/// The baseline of `pipeline` among this state machine's executions; `None` when no successful
/// run is found within the newest [`LISTED`] (then every table counts as changed).
pub async fn last_success(
    sfn: &aws_sdk_sfn::Client,
    machine: &str,
    pipeline: &str,
) -> Result<Option<Baseline>, StepError> {
    let page =
        crate::gate::executions_page(sfn, machine, ExecutionStatus::Succeeded, Some(LISTED), None)
            .await?;
    // No state machine (invoked directly): no run to compare with.
    let Some(page) = page else {
        return Ok(None);
    };
    // Listed newest first (ListExecutions documents it).
    for listed in page.executions.iter().take(DESCRIBED) {
        let described = sfn
            .describe_execution()
            .execution_arn(&listed.execution_arn)
            .send()
            .await
            .map_err(crate::gate::unavailable)?;
        let output: Value = described
            .output
            .as_deref()
            .and_then(|o| serde_json::from_str(o).ok())
            .unwrap_or(Value::Null);
        match baseline_of(&output, pipeline) {
            Some(Found::Sources(sources)) => {
                return Ok(Some(Baseline {
                    execution: listed.execution_arn.clone(),
                    sources,
                }));
            }
            // The pipeline's newest run left no locations (a run of an earlier version).
            Some(Found::Nothing) => return Ok(None),
            None => {}
        }
    }
    Ok(None)
}

enum Found {
    Sources(BTreeMap<String, String>),
    Nothing,
}

/// What a successful execution's output says of `pipeline`: `None` when it is another pipeline's,
/// a dry run, or a run that did no work (superseded).
fn baseline_of(output: &Value, pipeline: &str) -> Option<Found> {
    let plan = &output["plan"];
    if plan["run"]["pipeline"].as_str() != Some(pipeline)
        || plan["run"]["dryRun"].as_bool() == Some(true)
        || !matches!(plan["gate"].as_str(), Some("proceed" | "unchanged"))
    {
        return None;
    }
    let Some(sources) = plan["sources"].as_object() else {
        return Some(Found::Nothing);
    };
    Some(Found::Sources(
        sources
            .iter()
            .filter_map(|(table, at)| Some((table.clone(), at.as_str()?.to_string())))
            .collect(),
    ))
}

/// Each table's current metadata location in Glue, `None` (or missing) where Glue did not say:
/// the table then counts as changed, and its refresh reports why.
pub async fn current_locations(
    glue: &aws_sdk_glue::Client,
    tables: &[&IcebergTable],
) -> BTreeMap<String, Option<String>> {
    let mut out = BTreeMap::new();
    let mut pending = tables.iter();
    let mut running = JoinSet::new();
    loop {
        while running.len() < GLUE_CONCURRENCY {
            let Some(table) = pending.next() else { break };
            let (glue, name) = (glue.clone(), table.table.plain());
            let (database, glue_table) = (table.glue_database.clone(), table.glue_table.clone());
            running.spawn(async move {
                let location =
                    pipeline::glue::metadata_location(&glue, &database, &glue_table).await;
                (name, location)
            });
        }
        let Some(done) = running.join_next().await else {
            break;
        };
        // A task that panicked leaves its table out: it counts as changed.
        let Ok((name, location)) = done else { continue };
        if let Err(e) = &location {
            tracing::warn!(table = %name, error = %e, "no metadata location from Glue; the table counts as changed");
        }
        out.insert(name, location.ok());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_a_successful_working_run_of_the_pipeline_is_a_baseline() {
        let output = |pipeline: &str, dry: bool, gate: &str| {
            json!({"plan": {"run": {"pipeline": pipeline, "dryRun": dry}, "gate": gate,
                "sources": {"LAKE.RAW.ORDERS": "s3://b/o/metadata/00001.metadata.json"}}})
        };
        let found = |v: &Value| match baseline_of(v, "orders") {
            Some(Found::Sources(s)) => Some(s.len()),
            Some(Found::Nothing) => Some(0),
            None => None,
        };
        assert_eq!(found(&output("orders", false, "proceed")), Some(1));
        assert_eq!(found(&output("orders", false, "unchanged")), Some(1));
        assert_eq!(found(&output("other", false, "proceed")), None);
        assert_eq!(found(&output("orders", true, "proceed")), None);
        assert_eq!(found(&output("orders", false, "superseded")), None);
        let old = json!({"plan": {"run": {"pipeline": "orders"}, "gate": "proceed"}});
        assert_eq!(found(&old), Some(0));
        assert_eq!(found(&Value::Null), None);
    }
}
