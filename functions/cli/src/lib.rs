//! The `postetl` command line's pieces, reusable by the local demo: console inputs, starting an
//! execution, and following one step by step.

pub mod report;

use aws_sdk_sfn::types::HistoryEvent;
use serde_json::{Value, json};
use std::collections::HashSet;
use std::io::Write;
use std::time::{Duration, Instant};

/// The console input for a pipeline, as the Step Functions console's "Start execution" takes it.
pub fn console_input(pipeline: &str, dry_run: bool, tables: &[String]) -> Value {
    let mut input = json!({"pipeline": pipeline});
    if dry_run {
        input["dryRun"] = json!(true);
    }
    if !tables.is_empty() {
        input["tables"] = json!(tables);
    }
    input
}

/// The top-level state names of the definition, so nested Map states print indented.
pub fn top_level_states(definition: &str) -> HashSet<String> {
    serde_json::from_str::<Value>(definition)
        .ok()
        .and_then(|d| d["States"].as_object().map(|s| s.keys().cloned().collect()))
        .unwrap_or_default()
}

/// How an execution ended, with the figures a data engineer looks at first.
#[derive(Debug)]
pub struct Summary {
    pub status: String,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub output: Option<Value>,
    pub transitions: usize,
    pub elapsed: Duration,
}

/// Follows an execution, printing each top-level step as it finishes, until it ends or `limit`.
pub async fn watch(
    sfn: &aws_sdk_sfn::Client,
    execution: &str,
    top_level: &HashSet<String>,
    out: &mut impl Write,
    limit: Duration,
) -> anyhow::Result<Summary> {
    let started = Instant::now();
    let mut seen = 0usize;
    let mut transitions = 0usize;
    let mut entered: std::collections::HashMap<String, f64> = Default::default();
    let mut iterations = 0usize;
    loop {
        let described = sfn
            .describe_execution()
            .execution_arn(execution)
            .send()
            .await?;
        let events = history(sfn, execution).await?;
        for event in &events[seen.min(events.len())..] {
            transitions += usize::from(event.state_entered_event_details().is_some());
            report(event, top_level, &mut entered, &mut iterations, out)?;
        }
        seen = events.len();
        if described.status != aws_sdk_sfn::types::ExecutionStatus::Running {
            return Ok(Summary {
                status: described.status.as_str().to_string(),
                error: described.error,
                cause: described.cause,
                output: described.output.and_then(|o| serde_json::from_str(&o).ok()),
                transitions,
                elapsed: started.elapsed(),
            });
        }
        anyhow::ensure!(
            started.elapsed() < limit,
            "{execution} still running after {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn history(sfn: &aws_sdk_sfn::Client, execution: &str) -> anyhow::Result<Vec<HistoryEvent>> {
    let mut events = Vec::new();
    let mut token = None;
    loop {
        let page = sfn
            .get_execution_history()
            .execution_arn(execution)
            .max_results(1000)
            .set_next_token(token)
            .send()
            .await?;
        events.extend(page.events);
        token = page.next_token;
        if token.is_none() {
            return Ok(events);
        }
    }
}

fn seconds(event: &HistoryEvent) -> f64 {
    event.timestamp().as_secs_f64()
}

fn report(
    event: &HistoryEvent,
    top_level: &HashSet<String>,
    entered: &mut std::collections::HashMap<String, f64>,
    iterations: &mut usize,
    out: &mut impl Write,
) -> std::io::Result<()> {
    if let Some(d) = event.state_entered_event_details() {
        entered.insert(d.name().to_string(), seconds(event));
        if d.name().starts_with("Record") {
            writeln!(out, "  ✗ failure recorded, suspending and alerting")?;
        }
    } else if let Some(d) = event.state_exited_event_details() {
        let name = d.name();
        let nested = !top_level.is_empty() && !top_level.contains(name);
        // Bookkeeping states (poll counters, the failure record) are not steps of the run.
        let bookkeeping = name.ends_with('?')
            || name.starts_with("Record")
            || name.starts_with("Count")
            || name == "Start";
        if nested || bookkeeping {
            return Ok(());
        }
        let took = entered.get(name).map_or(0.0, |t| seconds(event) - t);
        let detail = match (name, *iterations) {
            (_, 0) => String::new(),
            (_, n) => format!("  ({n} items)"),
        };
        *iterations = 0;
        writeln!(out, "  ✓ {name:<24} {took:>6.1} s{detail}")?;
    } else if event.map_iteration_succeeded_event_details().is_some() {
        *iterations += 1;
    } else if let Some(d) = event.task_failed_event_details() {
        writeln!(
            out,
            "  ! task failed: {} (retried if transient)",
            d.error().unwrap_or("?")
        )?;
    }
    out.flush()
}

/// The final lines: status, rows merged, checks, marts, or the error.
pub fn print_summary(summary: &Summary, out: &mut impl Write) -> std::io::Result<()> {
    writeln!(out)?;
    writeln!(out, "  status         {}", summary.status)?;
    if let Some(output) = &summary.output {
        let merges = output["merges"].as_array().cloned().unwrap_or_default();
        let sum = |field: &str| {
            merges
                .iter()
                .map(|m| m[field].as_u64().unwrap_or(0))
                .sum::<u64>()
        };
        writeln!(
            out,
            "  rows merged    {} inserted, {} updated, {} deleted ({} merges)",
            sum("rowsInserted"),
            sum("rowsUpdated"),
            sum("rowsDeleted"),
            merges.len()
        )?;
        // Each refresh iteration leaves whether it ran its REFRESH (false: a dry run logged it).
        let refresh = output["refresh"].as_array().cloned().unwrap_or_default();
        let refreshed = refresh.iter().filter(|r| **r == json!(true)).count();
        writeln!(
            out,
            "  tables         {refreshed} refreshed{}",
            match refresh.len() - refreshed {
                0 => String::new(),
                n => format!(", {n} logged only (dry run)"),
            }
        )?;
        let q = &output["quality"]["result"];
        writeln!(
            out,
            "  checks         {} passed, {} warned, {} failed",
            q["passed"], q["warned"], q["failed"]
        )?;
        let marts = output["marts"]["result"]["refreshed"]
            .as_array()
            .map_or(0, Vec::len);
        writeln!(out, "  marts          {marts} refreshed")?;
        writeln!(
            out,
            "  warehouse      {} {}",
            output["plan"]["warehouse"].as_str().unwrap_or("?"),
            if output["warehouse"]["resumed"] == json!(true) {
                "resumed and suspended by this run"
            } else {
                "left as found"
            }
        )?;
    }
    if let Some(error) = &summary.error {
        writeln!(out, "  error          {error}")?;
        writeln!(
            out,
            "  cause          {}",
            summary.cause.as_deref().unwrap_or("")
        )?;
    }
    writeln!(out, "  transitions    {}", summary.transitions)?;
    writeln!(
        out,
        "  wall time      {:.1} s",
        summary.elapsed.as_secs_f64()
    )
}
