//! The `postetl` command line's pieces, reusable by the local demo: console inputs, names checked
//! against the config, and following an execution step by step.

pub mod compile;
pub mod debug;
pub mod definition;
pub mod failure;
mod history;
pub mod names;
mod summary;
pub mod text;
mod track;

pub use definition::Definition;
pub use summary::print_summary;
pub use track::{Facts, Merged};

pub mod report;

use serde_json::Value;
use std::io::Write;
use std::time::{Duration, Instant};

/// The console input for a pipeline, as the Step Functions console's "Start execution" takes it.
pub fn console_input(pipeline: &str, dry_run: bool, tables: &[String], force: bool) -> Value {
    pipeline::input::ManualInput {
        pipeline: pipeline.to_string(),
        dry_run,
        tables: (!tables.is_empty()).then(|| tables.to_vec()),
        run_key: None,
        force,
    }
    .to_json()
}

/// How an execution ended, with the figures a data engineer looks at first.
#[derive(Debug)]
pub struct Summary {
    pub status: String,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub output: Option<Value>,
    /// What the history says: transitions, rows, checks, dry-run SQL, the failed step.
    pub facts: Facts,
    /// The execution's own duration, start to stop as Step Functions recorded them.
    pub duration: Option<Duration>,
}

/// How `watch` follows an execution.
#[derive(Clone, Debug)]
pub struct Options {
    /// Between two looks at the history.
    pub poll: Duration,
    /// Give up after this long.
    pub limit: Duration,
    /// Rewrite a live line in place (a terminal); otherwise a plain line every `quiet_every`.
    pub live: bool,
    pub quiet_every: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            poll: Duration::from_millis(250),
            limit: Duration::from_secs(24 * 3600),
            live: false,
            quiet_every: Duration::from_secs(30),
        }
    }
}

/// Follows an execution, printing each step as it ends, until the execution ends or the limit.
pub async fn watch(
    sfn: &aws_sdk_sfn::Client,
    execution: &str,
    definition: Definition,
    out: &mut impl Write,
    options: &Options,
) -> Result<Summary, WatchError> {
    let started = Instant::now();
    let mut tracker = track::Tracker::new(definition);
    let mut seen = 0usize;
    let mut last_quiet = Instant::now();
    loop {
        let described = sfn
            .describe_execution()
            .execution_arn(execution)
            .send()
            .await
            .map_err(|e| WatchError::Aws(failure::Failure::aws("DescribeExecution", e)))?;
        let events = history(sfn, execution).await?;
        for event in &events[seen.min(events.len())..] {
            tracker.take(event, out)?;
        }
        seen = events.len();
        let now = chrono::Utc::now().timestamp_millis() as f64 / 1000.0;
        if described.status != aws_sdk_sfn::types::ExecutionStatus::Running {
            let stop = described.stop_date.map_or(now, |d| d.as_secs_f64());
            tracker.close(
                described.status.as_str(),
                described.error.as_deref(),
                stop,
                out,
            )?;
            let duration = described.stop_date.map(|s| {
                Duration::from_secs_f64(
                    (s.as_secs_f64() - described.start_date.as_secs_f64()).max(0.0),
                )
            });
            return Ok(Summary {
                status: described.status.as_str().to_string(),
                error: described.error,
                cause: described.cause,
                output: described.output.and_then(|o| serde_json::from_str(&o).ok()),
                facts: std::mem::take(&mut tracker.facts),
                duration,
            });
        }
        if started.elapsed() >= options.limit {
            return Err(WatchError::StillRunning(
                execution.to_string(),
                options.limit,
            ));
        }
        if options.live {
            tracker.live(now, out)?;
        } else if last_quiet.elapsed() >= options.quiet_every {
            last_quiet = Instant::now();
            if let Some(line) = tracker.still_running(now) {
                writeln!(out, "{}", text::truncate(&line, text::WIDTH))?;
            }
        }
        tokio::time::sleep(options.poll).await;
    }
}

/// Why following an execution stopped early.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error("{0}")]
    Aws(failure::Failure),
    #[error("{0} still running after {1:?}")]
    StillRunning(String, Duration),
    #[error("writing the progress: {0}")]
    Output(#[from] std::io::Error),
}

async fn history(
    sfn: &aws_sdk_sfn::Client,
    execution: &str,
) -> Result<Vec<aws_sdk_sfn::types::HistoryEvent>, WatchError> {
    history::events(sfn, execution)
        .await
        .map_err(|e| WatchError::Aws(failure::Failure::aws("GetExecutionHistory", e)))
}
