//! `postetl report`: one run in one self-contained HTML file (or JSON): a timeline picture from
//! the execution history, the warehouse's resumed-to-suspended band, the statements from the run
//! ledger, and what the run cost.

pub mod cost;
mod html;
pub mod ledger;
pub mod timeline;

use aws_sdk_sfn::types::HistoryEvent;
use pipeline::config::Prices;
use serde::Serialize;
use serde_json::Value;
pub use timeline::{Event, Timeline};

/// Everything the report shows; `--format json` prints it as it is.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub execution: String,
    pub status: String,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub pipeline: Option<String>,
    pub run_key: Option<String>,
    pub dry_run: bool,
    /// Why the run did nothing, when it was superseded by a newer one.
    pub superseded_by: Option<String>,
    /// The pipeline's last successful run this one compared Glue's metadata locations with.
    pub changed_since: Option<String>,
    /// No Iceberg table changed since then: the run ended before the warehouse.
    pub unchanged: bool,
    /// What the run left out as unchanged since then.
    pub skipped: pipeline::steps::Skipped,
    /// Schema drift the merges' `on_schema_change` followed (drift it did not allow is the error).
    pub schema_drift: Vec<pipeline::steps::SchemaDrift>,
    pub timeline: Timeline,
    pub warehouse: Option<WarehouseBand>,
    /// The run ledger's rows for this execution; None when it was not read (and why, in `notes`).
    pub statements: Option<Vec<ledger::LedgerRow>>,
    pub cost: cost::Cost,
    pub notes: Vec<String>,
}

/// The warehouse's time within the run, in seconds from the execution's start.
#[derive(Clone, Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct WarehouseBand {
    pub name: String,
    pub size: Option<String>,
    /// This run resumed it (else it was running already, and stays so).
    pub resumed_by_run: bool,
    pub from: f64,
    pub to: f64,
}

/// The parts of an execution's description the report needs.
#[derive(Clone, Debug, Default)]
pub struct Described {
    pub execution: String,
    pub status: String,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub input: Option<String>,
}

/// A history event from Step Functions in the timeline's terms.
pub fn event_of(e: &HistoryEvent) -> Event {
    let mut event = Event {
        id: e.id(),
        previous: e.previous_event_id(),
        at: e.timestamp().as_secs_f64(),
        kind: e.r#type().as_str().to_string(),
        ..Event::default()
    };
    if let Some(d) = e.state_entered_event_details() {
        event.name = Some(d.name().to_string());
        event.data = d.input().map(String::from);
    } else if let Some(d) = e.state_exited_event_details() {
        event.name = Some(d.name().to_string());
        event.data = d.output().map(String::from);
    } else if let Some(d) = e.map_iteration_started_event_details() {
        (event.name, event.index) = (d.name().map(String::from), Some(i64::from(d.index())));
    } else if let Some(d) = e.map_iteration_succeeded_event_details() {
        (event.name, event.index) = (d.name().map(String::from), Some(i64::from(d.index())));
    } else if let Some(d) = e.map_iteration_failed_event_details() {
        (event.name, event.index) = (d.name().map(String::from), Some(i64::from(d.index())));
    } else if let Some(d) = e.map_iteration_aborted_event_details() {
        (event.name, event.index) = (d.name().map(String::from), Some(i64::from(d.index())));
    } else if let Some(d) = e.task_scheduled_event_details() {
        event.resource = Some(d.resource_type().to_string());
        event.data = Some(d.parameters().to_string());
    } else if let Some(d) = e.task_succeeded_event_details() {
        event.data = d.output().map(String::from);
    } else if let Some(d) = e.lambda_function_succeeded_event_details() {
        event.data = d.output().map(String::from);
    } else if let Some(d) = e.task_failed_event_details() {
        (event.error, event.cause) = (d.error().map(String::from), d.cause().map(String::from));
    } else if let Some(d) = e.lambda_function_failed_event_details() {
        (event.error, event.cause) = (d.error().map(String::from), d.cause().map(String::from));
    } else if let Some(d) = e.task_timed_out_event_details() {
        (event.error, event.cause) = (d.error().map(String::from), d.cause().map(String::from));
    } else if let Some(d) = e.execution_failed_event_details() {
        (event.error, event.cause) = (d.error().map(String::from), d.cause().map(String::from));
    } else if let Some(d) = e.execution_timed_out_event_details() {
        (event.error, event.cause) = (d.error().map(String::from), d.cause().map(String::from));
    } else if let Some(d) = e.execution_aborted_event_details() {
        (event.error, event.cause) = (d.error().map(String::from), d.cause().map(String::from));
    } else if let Some(d) = e.execution_started_event_details() {
        event.data = d.input().map(String::from);
    }
    event
}

/// The warehouse step's answers in the history: the resume's and the last suspend's, as the
/// Lambda returned them (`WarehouseResult`), with when they came.
/// An answer and when it came (seconds since the epoch).
type Answer = Option<(f64, Value)>;

fn warehouse_answers(events: &[Event]) -> (Answer, Answer) {
    let mut resume = None;
    let mut suspend = None;
    for e in events {
        if !e.kind.ends_with("Succeeded") || e.kind.starts_with("Execution") {
            continue;
        }
        let Some(v) = e
            .data
            .as_deref()
            .and_then(|d| serde_json::from_str::<Value>(d).ok())
        else {
            continue;
        };
        let answer = if v.get("Payload").is_some() {
            v["Payload"].clone()
        } else {
            v
        };
        match answer["action"].as_str() {
            Some("resume") => resume = Some((e.at, answer)),
            Some("suspend") => suspend = Some((e.at, answer)),
            _ => {}
        }
    }
    (resume, suspend)
}

/// Builds the report from the execution's description and history, the ledger's rows when read.
pub fn build(
    described: &Described,
    events: &[Event],
    statements: Result<Vec<ledger::LedgerRow>, String>,
    prices: &Prices,
) -> Report {
    let timeline = timeline::timeline(events);
    let mut notes = Vec::new();
    let input: Value = events
        .iter()
        .find(|e| e.kind == "ExecutionStarted")
        .and_then(|e| e.data.as_deref())
        .or(described.input.as_deref())
        .and_then(|d| serde_json::from_str(d).ok())
        .unwrap_or_default();
    // The run, from the Plan state's output.
    let plan: Value = events
        .iter()
        .find(|e| {
            e.kind.ends_with("StateExited") && e.name.as_deref() == Some(pipeline::states::PLAN)
        })
        .and_then(|e| e.data.as_deref())
        .and_then(|d| serde_json::from_str::<Value>(d).ok())
        .map(|v| v[pipeline::states::PLAN_KEY].clone())
        .unwrap_or_default();
    let run = &plan["run"];
    let superseded_by = (plan["gate"] == "superseded")
        .then(|| {
            plan["gateReason"]
                .as_str()
                .unwrap_or("a newer run")
                .to_string()
        })
        .or_else(|| {
            timeline
                .rows
                .iter()
                .any(|r| r.name == pipeline::states::SUPERSEDED)
                .then(|| {
                    plan["gateReason"]
                        .as_str()
                        .unwrap_or("a newer run")
                        .to_string()
                })
        });

    let schema_drift = events
        .iter()
        .filter(|e| e.kind == "TaskSucceeded")
        .filter_map(|e| serde_json::from_str::<Value>(e.data.as_deref()?).ok())
        .flat_map(|v| {
            serde_json::from_value::<Vec<pipeline::steps::SchemaDrift>>(
                v["Payload"]["schemaDrift"].clone(),
            )
            .unwrap_or_default()
        })
        .collect();
    let (resume, suspend) = warehouse_answers(events);
    let t0 = timeline.started_at;
    let warehouse = resume.as_ref().map(|(at, r)| WarehouseBand {
        name: r["warehouse"].as_str().unwrap_or_default().to_string(),
        size: r["size"].as_str().map(String::from),
        resumed_by_run: r["resumed"] == true,
        from: at - t0,
        to: suspend
            .as_ref()
            .map_or(timeline.duration, |(at, _)| at - t0),
    });
    let statements = match statements {
        Ok(rows) => Some(rows),
        Err(why) => {
            notes.push(format!("the run ledger was not read: {why}"));
            None
        }
    };
    // Warehouse seconds: Snowflake's own (the ledger's run row) when read, else the history's.
    let ledger_seconds = statements
        .iter()
        .flatten()
        .find(|r| r.step == "run")
        .and_then(|r| r.warehouse_seconds);
    let usage = cost::Usage {
        warehouse_size: warehouse.as_ref().and_then(|w| w.size.clone()),
        warehouse_seconds: warehouse
            .as_ref()
            .filter(|w| w.resumed_by_run)
            .map(|w| ledger_seconds.unwrap_or(w.to - w.from)),
        state_transitions: timeline.state_transitions,
        lambda_requests: timeline.lambda_requests,
        lambda_seconds: timeline.lambda_seconds,
    };
    Report {
        execution: described.execution.clone(),
        status: described.status.clone(),
        error: described.error.clone(),
        cause: described.cause.clone(),
        pipeline: run["pipeline"]
            .as_str()
            .or(input["pipeline"].as_str())
            .map(String::from),
        run_key: run["runKey"].as_str().map(String::from),
        dry_run: run["dryRun"] == true,
        superseded_by,
        changed_since: plan["changedSince"].as_str().map(String::from),
        unchanged: plan["gate"] == "unchanged",
        skipped: serde_json::from_value(plan["skipped"].clone()).unwrap_or_default(),
        schema_drift,
        timeline,
        warehouse,
        statements,
        cost: cost::cost(usage, prices),
        notes,
    }
}

impl Report {
    /// The self-contained HTML page.
    pub fn html(&self) -> String {
        html::page(self)
    }
}

/// Where the run ledger is read from: the client, the ledger table, and the warehouse to read with.
pub struct LedgerSource<'a> {
    pub client: &'a snowflake::Client,
    pub table: &'a snowflake::ObjectName,
    pub warehouse: &'a str,
}

/// Reads an execution's description and whole history (at most 25,000 events: 25 pages).
pub async fn read_execution(
    sfn: &aws_sdk_sfn::Client,
    execution: &str,
) -> Result<(Described, Vec<Event>), aws_sdk_sfn::Error> {
    let d = sfn
        .describe_execution()
        .execution_arn(execution)
        .send()
        .await?;
    let described = Described {
        execution: execution.to_string(),
        status: d.status.as_str().to_string(),
        error: d.error,
        cause: d.cause,
        input: d.input,
    };
    let events = crate::history::events(sfn, execution)
        .await?
        .iter()
        .map(event_of)
        .collect();
    Ok((described, events))
}

/// The report of `execution`, its statements from the ledger when `ledger` is given.
pub async fn fetch(
    sfn: &aws_sdk_sfn::Client,
    execution: &str,
    ledger: Option<LedgerSource<'_>>,
    prices: &Prices,
) -> Result<Report, aws_sdk_sfn::Error> {
    let (described, events) = read_execution(sfn, execution).await?;
    let statements = match ledger {
        None => Err("no Snowflake connection given".to_string()),
        Some(l) => ledger::rows(l.client, l.table, l.warehouse, execution)
            .await
            .map_err(|e| e.to_string()),
    };
    Ok(build(&described, &events, statements, prices))
}

/// Prints what the execution cost (from its history alone: no Snowflake query) as the summary's
/// last field.
pub async fn print_cost(
    sfn: &aws_sdk_sfn::Client,
    execution: &str,
    prices: &Prices,
    out: &mut impl std::io::Write,
) -> Result<(), aws_sdk_sfn::Error> {
    let report = fetch(sfn, execution, None, prices).await?;
    // Writing to stdout failing is not worth failing the command for.
    let _ = report.cost.print(out);
    Ok(())
}
