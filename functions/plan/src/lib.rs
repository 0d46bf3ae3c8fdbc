//! Turns the execution input ([`pipeline::input::ExecutionInput`]: the EventBridge `Glue Job State
//! Change` event, or a console input) into a run plan.

mod changes;
mod gate;

use lambda_runtime::LambdaEvent;
use pipeline::config::Pipeline;
use pipeline::input::ExecutionInput;
use pipeline::steps::{Gate, Plan, PlanRequest, PollLimits, Run, Skipped, Trigger};
use pipeline::{Deployed, StepError};
use std::time::Duration;

/// The AWS clients planning uses; each is optional so that handler tests can leave one out.
#[derive(Clone, Default)]
pub struct Aws {
    pub glue: Option<aws_sdk_glue::Client>,
    pub sfn: Option<aws_sdk_sfn::Client>,
}

pub async fn handle(
    deployed: &Deployed,
    aws: &Aws,
    event: LambdaEvent<PlanRequest>,
) -> Result<Plan, StepError> {
    let glue = aws.glue.as_ref();
    let PlanRequest { input, execution } = event.payload;
    let config = deployed.config()?;
    let (pipeline, run, trigger, tables, force) = match ExecutionInput::parse(&input)? {
        ExecutionInput::Glue(detail) => {
            let pipeline = config
                .pipeline_for_job(&detail.job_name)
                .ok_or_else(|| StepError::UnknownJob(detail.job_name.clone()))?;
            if detail.state != "SUCCEEDED" {
                return Err(StepError::NotSucceeded {
                    job: detail.job_name,
                    run_id: detail.job_run_id,
                    state: detail.state,
                });
            }
            let job_run = match glue {
                Some(glue) => {
                    match pipeline::glue::job_run(glue, &detail.job_name, &detail.job_run_id).await
                    {
                        Ok(run) => Some(run),
                        Err(e) => {
                            // The record is informative; a Glue hiccup must not hold the run back.
                            tracing::warn!(error = %e, "GetJobRun failed; planning without it");
                            None
                        }
                    }
                }
                None => None,
            };
            let run = Run {
                pipeline: pipeline.name.clone(),
                run_key: format!("glue:{}:{}", detail.job_name, detail.job_run_id),
                execution: execution.clone(),
                dry_run: false,
                tables: None,
            };
            let trigger = Trigger::Glue {
                job_name: detail.job_name,
                job_run_id: detail.job_run_id,
                event_time: detail.time,
                job_run,
            };
            (pipeline, run, trigger, None, false)
        }
        ExecutionInput::Manual(manual) => {
            let pipeline = config
                .pipeline(&manual.pipeline)
                .ok_or_else(|| StepError::UnknownPipeline(manual.pipeline.clone()))?;
            let execution_name = execution.rsplit(':').next().unwrap_or(&execution);
            let run = Run {
                pipeline: pipeline.name.clone(),
                run_key: manual
                    .run_key
                    .unwrap_or_else(|| format!("manual:{execution_name}")),
                execution: execution.clone(),
                dry_run: manual.dry_run,
                tables: manual.tables.clone(),
            };
            (pipeline, run, Trigger::Manual, manual.tables, manual.force)
        }
    };
    let mut plan = plan(
        pipeline,
        run,
        trigger,
        tables.as_deref(),
        config.poll_seconds,
        config.max_wait,
    )?;
    // Dry runs change no data: they neither wait for other runs nor hold them up.
    if let (Some(sfn), false) = (&aws.sfn, plan.run.dry_run) {
        match gate::check(sfn, config, &execution, &plan.run.pipeline, config.max_wait).await? {
            gate::Gate::Proceed => {}
            gate::Gate::Wait { behind } => {
                (plan.gate, plan.gate_reason) = (Gate::Wait, Some(behind))
            }
            gate::Gate::Superseded { by } => {
                (plan.gate, plan.gate_reason) = (Gate::Superseded, Some(by))
            }
        }
    }
    // Only a run that goes ahead now works out what changed (a waiting one plans again later).
    if plan.gate == Gate::Proceed {
        narrow_to_changes(&mut plan, pipeline, aws, &execution, force).await?;
    }
    tracing::info!(pipeline = %plan.run.pipeline, run_key = %plan.run.run_key, tables = plan.iceberg_tables.len(),
        merges = plan.merges.len(), checks = plan.checks, marts = plan.marts.len(), dry_run = plan.run.dry_run,
        gate = ?plan.gate, reason = ?plan.gate_reason, skipped_tables = plan.skipped.iceberg_tables.len(),
        changed_since = ?plan.changed_since, "planned");
    Ok(plan)
}

fn plan(
    pipeline: &Pipeline,
    run: Run,
    trigger: Trigger,
    tables: Option<&[String]>,
    poll_seconds: u64,
    max_wait: Duration,
) -> Result<Plan, StepError> {
    // A manual start naming tables covers what depends on them (the steps work it out alike).
    let scope = pipeline
        .scope(tables)
        .map_err(|name| StepError::UnknownItem {
            pipeline: pipeline.name.clone(),
            kind: "Iceberg table",
            name,
        })?;
    let iceberg: Vec<String> = scope
        .iceberg_tables
        .iter()
        .map(|t| t.table.plain())
        .collect();
    let limits = poll_limits(pipeline, iceberg.len(), poll_seconds, max_wait);
    Ok(Plan {
        merges: scope.merges.iter().map(|m| m.name.clone()).collect(),
        run,
        trigger,
        warehouse: pipeline.warehouse.as_str().to_string(),
        warehouse_size: pipeline.warehouse_size.clone(),
        iceberg_tables: iceberg,
        max_concurrency: pipeline.max_concurrency,
        checks: scope.checks.len(),
        marts: scope.marts.iter().map(|m| m.name.clone()).collect(),
        poll_seconds,
        limits,
        gate: Gate::Proceed,
        gate_reason: None,
        changed_since: None,
        skipped: Skipped::default(),
        sources: Default::default(),
    })
}

/// Narrows a run to the Iceberg tables whose Glue metadata location moved since the pipeline's
/// last successful run (see [`changes`]), and records the locations this run leaves for the next.
/// Forced, without a baseline, or without the AWS clients, every table counts as changed.
async fn narrow_to_changes(
    plan: &mut Plan,
    pipeline: &Pipeline,
    aws: &Aws,
    execution: &str,
    force: bool,
) -> Result<(), StepError> {
    let Some(glue) = &aws.glue else {
        return Ok(());
    };
    let unknown = |name| StepError::UnknownItem {
        pipeline: pipeline.name.clone(),
        kind: "Iceberg table",
        name,
    };
    let requested = pipeline
        .scope(plan.run.tables.as_deref())
        .map_err(unknown)?;
    let current = changes::current_locations(glue, &requested.iceberg_tables).await;
    let baseline = match (&aws.sfn, force, gate::state_machine_of(execution)) {
        (Some(sfn), false, Some(machine)) => {
            changes::last_success(sfn, &machine, &pipeline.name).await?
        }
        _ => None,
    };

    // What Snowflake is up to if this run succeeds: the baseline's locations for what it leaves
    // alone, Glue's current ones for what it refreshes.
    let mut sources = baseline
        .as_ref()
        .map(|b| b.sources.clone())
        .unwrap_or_default();
    sources.retain(|t, _| {
        pipeline
            .iceberg_tables
            .iter()
            .any(|i| &i.table.plain() == t)
    });
    for table in &requested.iceberg_tables {
        let name = table.table.plain();
        match current.get(&name) {
            Some(Some(at)) => sources.insert(name, at.clone()),
            _ => sources.remove(&name),
        };
    }
    plan.sources = sources;

    let Some(baseline) = baseline else {
        return Ok(());
    };
    plan.changed_since = Some(baseline.execution.clone());
    let changed: Vec<String> = requested
        .iceberg_tables
        .iter()
        .map(|t| t.table.plain())
        .filter(|t| match current.get(t) {
            Some(Some(at)) => baseline.sources.get(t) != Some(at),
            _ => true,
        })
        .collect();
    if changed.len() == requested.iceberg_tables.len() {
        return Ok(());
    }
    let kept = pipeline.scope(Some(&changed)).map_err(unknown)?;
    let left_out = |all: Vec<String>, kept: &[String]| -> Vec<String> {
        all.into_iter().filter(|n| !kept.contains(n)).collect()
    };
    plan.iceberg_tables = kept
        .iceberg_tables
        .iter()
        .map(|t| t.table.plain())
        .collect();
    plan.merges = kept.merges.iter().map(|m| m.name.clone()).collect();
    plan.marts = kept.marts.iter().map(|m| m.name.clone()).collect();
    plan.checks = kept.checks.len();
    let kept_checks: Vec<String> = kept.checks.iter().map(|c| c.name.clone()).collect();
    plan.skipped = Skipped {
        iceberg_tables: left_out(
            requested
                .iceberg_tables
                .iter()
                .map(|t| t.table.plain())
                .collect(),
            &plan.iceberg_tables,
        ),
        merges: left_out(
            requested.merges.iter().map(|m| m.name.clone()).collect(),
            &plan.merges,
        ),
        checks: left_out(
            requested.checks.iter().map(|c| c.name.clone()).collect(),
            &kept_checks,
        ),
        marts: left_out(
            requested.marts.iter().map(|m| m.name.clone()).collect(),
            &plan.marts,
        ),
    };
    if changed.is_empty() {
        plan.gate = Gate::Unchanged;
        plan.gate_reason = Some(baseline.execution);
    }
    plan.run.tables = Some(changed);
    Ok(())
}

/// The poll caps: no loop needs to go round more often than its own bound allows (the gate's
/// wait limit, a statement's timeout per MERGE, one timeout per mart), and all of them together
/// stay within the execution's history limit.
pub fn poll_limits(
    pipeline: &Pipeline,
    tables: usize,
    poll_seconds: u64,
    max_wait: Duration,
) -> PollLimits {
    let polls_over = |d: Duration| d.as_secs().div_ceil(poll_seconds.max(1)) + 1;
    let per_statement = polls_over(pipeline.statement_timeout);
    PollLimits::within_history(
        tables as u64,
        pipeline.merges.len() as u64,
        polls_over(max_wait),
        per_statement,
        per_statement.saturating_mul(pipeline.marts.len().max(1) as u64),
    )
}
