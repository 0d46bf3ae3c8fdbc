//! Reads an execution's history event by event and turns it into progress lines a data engineer
//! can trust: each step with its outcome and items, each failed or retried task with its error,
//! how often it ran and why, in words; and the figures of the summary (rows, checks, dry-run SQL,
//! work Snowflake answered from an earlier run).

use crate::definition::{Definition, Role};
use crate::text::{cause_in_words, wrap};
use aws_sdk_sfn::types::{HistoryEvent, HistoryEventType as T};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::io::Write;

/// One entry into a Task state (a Map iteration's task, or a poll loop's resume): its attempts.
#[derive(Debug, Default)]
struct Entry {
    state: String,
    item: Option<String>,
    attempts: usize,
    /// (error, cause) of each failed attempt.
    failures: Vec<(String, String)>,
    succeeded: bool,
}

/// A top-level step being followed.
#[derive(Debug, Default)]
struct Step {
    name: String,
    started: f64,
    ended: Option<f64>,
    iterations: usize,
    failed_iterations: usize,
    /// Items the step's Map was given (`MapStateStarted`): when one fails, the others are stopped
    /// and may leave no event of their own.
    items: usize,
    polls: usize,
    earlier: usize,
    noun: Option<&'static str>,
    entries: Vec<i64>,
}

/// A merge's figures as its last answer gave them.
#[derive(Clone, Debug, Default)]
pub struct Merged {
    pub inserted: u64,
    pub updated: u64,
    pub deleted: u64,
    /// Snowflake answered it from an earlier request with the same request id: no rows were
    /// changed by this run.
    pub from_earlier_run: bool,
}

/// What the history says, for the summary.
#[derive(Debug, Default)]
pub struct Facts {
    pub transitions: usize,
    pub dry_run: bool,
    /// Statements a dry run logged instead of running, in the order the steps answered.
    pub dry_run_sql: Vec<String>,
    pub merges: BTreeMap<String, Merged>,
    pub tables_refreshed: usize,
    pub tables_from_earlier_run: usize,
    pub quality: Option<Value>,
    pub marts: Vec<String>,
    /// Schema drift the merges' `on_schema_change` followed: one line per merge.
    pub schema_drift: Vec<String>,
    pub warehouse: Option<String>,
    pub resumed: Option<bool>,
    /// The step the failure path recorded, with its error.
    pub failed_step: Option<(String, String)>,
}

pub struct Tracker {
    def: Definition,
    /// previous event id and, for a `*StateEntered` event, the state's name.
    chain: HashMap<i64, (i64, Option<String>)>,
    entries: HashMap<i64, Entry>,
    current: Option<Step>,
    live_shown: bool,
    pub facts: Facts,
}

fn secs(event: &HistoryEvent) -> f64 {
    event.timestamp().as_secs_f64()
}

impl Tracker {
    pub fn new(def: Definition) -> Self {
        Tracker {
            def,
            chain: HashMap::new(),
            entries: HashMap::new(),
            current: None,
            live_shown: false,
            facts: Facts::default(),
        }
    }

    /// The `*StateEntered` event an event descends from (a task's attempts chain back to it).
    fn entered_of(&self, mut id: i64) -> Option<i64> {
        for _ in 0..10_000 {
            let (prev, name) = self.chain.get(&id)?;
            if name.is_some() {
                return Some(id);
            }
            id = *prev;
        }
        None
    }

    fn entry_of(&mut self, event: &HistoryEvent) -> Option<&mut Entry> {
        let entered = self.entered_of(event.previous_event_id())?;
        self.entries.get_mut(&entered)
    }

    /// Takes one event, in history order; writes the lines it completes.
    pub fn take(&mut self, event: &HistoryEvent, out: &mut impl Write) -> std::io::Result<()> {
        let entered_name = event
            .state_entered_event_details()
            .map(|d| d.name().to_string());
        self.chain.insert(
            event.id(),
            (event.previous_event_id(), entered_name.clone()),
        );
        if let Some(name) = entered_name {
            self.facts.transitions += 1;
            return self.entered(event, name, out);
        }
        match event.r#type() {
            T::TaskScheduled => {
                let item = event
                    .task_scheduled_event_details()
                    .and_then(|d| serde_json::from_str::<Value>(d.parameters()).ok())
                    .and_then(|p| p["Payload"]["item"].as_str().map(String::from));
                if let Some(entry) = self.entry_of(event) {
                    entry.attempts += 1;
                    if entry.item.is_none() {
                        entry.item = item;
                    }
                }
            }
            T::TaskFailed
            | T::LambdaFunctionFailed
            | T::TaskTimedOut
            | T::LambdaFunctionTimedOut => {
                let (error, cause) = failure_of(event);
                if let Some(entry) = self.entry_of(event) {
                    entry.failures.push((error, cause));
                }
            }
            T::TaskSucceeded => {
                let output = event
                    .task_succeeded_event_details()
                    .and_then(|d| d.output())
                    .and_then(|o| serde_json::from_str::<Value>(o).ok())
                    .unwrap_or_default();
                let payload = if output["Payload"].is_object() {
                    output["Payload"].clone()
                } else {
                    output
                };
                if let Some(entry) = self.entry_of(event) {
                    entry.succeeded = true;
                }
                self.answer(&payload);
            }
            T::MapStateStarted => {
                let length = event
                    .map_state_started_event_details()
                    .map_or(0, |d| d.length().max(0) as usize);
                if let Some(step) = &mut self.current {
                    step.items += length;
                }
            }
            T::MapIterationSucceeded => {
                if let Some(step) = &mut self.current {
                    step.iterations += 1;
                }
            }
            T::MapIterationFailed | T::MapIterationAborted => {
                if let Some(step) = &mut self.current {
                    step.iterations += 1;
                    step.failed_iterations += 1;
                }
            }
            _ => {}
        }
        if let Some(d) = event.state_exited_event_details() {
            match self.def.role(d.name()) {
                Some(Role::FailureRecord) => {
                    let output: Value = d
                        .output()
                        .and_then(|o| serde_json::from_str(o).ok())
                        .unwrap_or_default();
                    let failure = &output[pipeline::states::FAILURE_KEY];
                    let error = failure["error"].as_str().unwrap_or("?").to_string();
                    let cause = failure["cause"].as_str().unwrap_or_default().to_string();
                    if let Some(step) = failure["step"].as_str() {
                        self.facts.failed_step = Some((step.to_string(), error.clone()));
                    }
                    self.finish(Some((error, cause)), secs(event), out)?;
                }
                Some(Role::Step) => {
                    if let Some(step) = self.current.as_mut().filter(|s| s.name == d.name()) {
                        step.ended = Some(secs(event));
                    }
                }
                Some(Role::Continuation) => {
                    if let Some(step) = &mut self.current {
                        step.ended = Some(secs(event));
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn entered(
        &mut self,
        event: &HistoryEvent,
        name: String,
        out: &mut impl Write,
    ) -> std::io::Result<()> {
        let is_task = *event.r#type() == T::TaskStateEntered;
        if is_task {
            self.entries.insert(
                event.id(),
                Entry {
                    state: name.clone(),
                    ..Entry::default()
                },
            );
            if let Some(step) = &mut self.current {
                step.entries.push(event.id());
            }
        }
        if let (T::WaitStateEntered, Some(step)) = (event.r#type(), &mut self.current) {
            step.polls += 1;
        }
        match self.def.role(&name) {
            Some(Role::Step) => {
                self.finish(None, secs(event), out)?;
                self.current = Some(Step {
                    name,
                    started: secs(event),
                    entries: if is_task {
                        vec![event.id()]
                    } else {
                        Vec::new()
                    },
                    ..Step::default()
                });
            }
            Some(Role::End) => self.finish(None, secs(event), out)?,
            _ => {}
        }
        Ok(())
    }

    /// A step's answer: the figures the summary shows.
    fn answer(&mut self, p: &Value) {
        let earlier = p["fromEarlierRun"] == Value::Bool(true);
        let step = self.current.as_mut();
        if let Some(run) = p.get("run").filter(|_| p.get("limits").is_some()) {
            self.facts.dry_run = run["dryRun"] == Value::Bool(true);
        } else if let Some(merge) = p["merge"].as_str() {
            if let Some(s) = step {
                s.noun = Some("merges");
                s.earlier += usize::from(earlier);
            }
            if let Some(sql) = p["dryRunSql"].as_str() {
                self.facts.dry_run_sql.push(sql.to_string());
            }
            if p["status"] != "running" {
                let n = |f: &str| p[f].as_u64().unwrap_or(0);
                self.facts.merges.insert(
                    merge.to_string(),
                    Merged {
                        inserted: n("rowsInserted"),
                        updated: n("rowsUpdated"),
                        deleted: n("rowsDeleted"),
                        from_earlier_run: earlier,
                    },
                );
            }
        } else if p["table"].is_string() && p["refreshed"].is_boolean() {
            if let Some(s) = step {
                s.noun = Some("tables");
                s.earlier += usize::from(earlier);
            }
            if p["refreshed"] == Value::Bool(true) {
                self.facts.tables_refreshed += 1;
                self.facts.tables_from_earlier_run += usize::from(earlier);
            } else if let Some(sql) = p["statement"].as_str() {
                self.facts.dry_run_sql.push(sql.to_string());
            }
            for drift in p["schemaDrift"].as_array().into_iter().flatten() {
                self.schema_drift(drift);
            }
        } else if p.get("passed").is_some() && p.get("failed").is_some() {
            self.facts.quality = Some(p.clone());
        } else if let Some(marts) = p["refreshed"].as_array() {
            for m in marts.iter().filter_map(Value::as_str) {
                if !self.facts.marts.iter().any(|x| x == m) {
                    self.facts.marts.push(m.to_string());
                }
            }
            self.skipped(p);
        } else if p.get("action").is_some() {
            if let Some(w) = p["warehouse"].as_str() {
                self.facts.warehouse = Some(w.to_string());
            }
            if p["action"] == "resume" {
                self.facts.resumed = p["resumed"].as_bool();
            }
            self.skipped(p);
        }
    }

    fn schema_drift(&mut self, d: &Value) {
        let texts = |key: &str| -> Vec<&str> {
            d[key]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect()
        };
        let statements = texts("statements");
        let done = match (statements.len(), d["applied"] == Value::Bool(true)) {
            (0, _) => "target left as it is".to_string(),
            (n, true) => format!("{n} ALTER TABLE run"),
            (n, false) => {
                let sql = statements.iter().map(|s| s.to_string());
                self.facts.dry_run_sql.extend(sql);
                format!("{n} ALTER TABLE not run (dry run)")
            }
        };
        self.facts.schema_drift.push(format!(
            "{} ({}): {}; {done}",
            d["merge"].as_str().unwrap_or("?"),
            d["onSchemaChange"].as_str().unwrap_or("?"),
            texts("differences").join("; ")
        ));
    }

    fn skipped(&mut self, p: &Value) {
        for sql in p["skipped"].as_array().into_iter().flatten() {
            if let Some(sql) = sql.as_str() {
                self.facts.dry_run_sql.push(sql.to_string());
            }
        }
    }

    /// Ends the current step: a check mark, or a cross with the error when `failed`; then the
    /// tasks inside it that failed or were retried.
    fn finish(
        &mut self,
        failed: Option<(String, String)>,
        at: f64,
        out: &mut impl Write,
    ) -> std::io::Result<()> {
        let Some(step) = self.current.take() else {
            return Ok(());
        };
        self.clear_live(out)?;
        let took = step.ended.unwrap_or(at) - step.started;
        let lower = step.name.to_lowercase();
        let noun = step.noun.unwrap_or(if lower.contains("merge") {
            "merges"
        } else if lower.contains("table") {
            "tables"
        } else {
            "items"
        });
        let mut detail = Vec::new();
        match (step.iterations, step.failed_iterations) {
            (0, _) => {}
            (n, 0) => detail.push(format!("{n} {noun}")),
            (n, f) => detail.push(format!("{f} of {} {noun} failed", n.max(step.items))),
        }
        if step.earlier > 0 {
            detail.push(format!("{} answered by an earlier run", step.earlier));
        }
        if step.polls > 0 {
            detail.push(format!("{} polls", step.polls));
        }
        let detail = if detail.is_empty() {
            String::new()
        } else {
            format!("  ({})", detail.join(", "))
        };
        let (mark, error) = match &failed {
            Some((error, _)) => ("✗", format!("  {error}")),
            None => ("✓", String::new()),
        };
        let line = format!("  {mark} {:<22} {took:>6.1} s{error}{detail}", step.name);
        for l in wrap(&line, 6) {
            writeln!(out, "{l}")?;
        }
        let mut told = false;
        for id in &step.entries {
            let Some(entry) = self.entries.remove(id) else {
                continue;
            };
            let Some((error, cause)) = entry.failures.last() else {
                continue;
            };
            told = true;
            let what = match &entry.item {
                Some(item) => format!("{} {item}", entry.state),
                None => entry.state.clone(),
            };
            let retries = entry.attempts.saturating_sub(1);
            let how = if entry.succeeded {
                format!("retried {}, then succeeded", times(entry.failures.len()))
            } else if retries > 0 {
                format!("retried {}, then failed", times(retries))
            } else if self.def.retries(&entry.state, error) {
                "failed, not retried".to_string()
            } else {
                "failed, not retried (the definition never retries it)".to_string()
            };
            let mark = if entry.succeeded { "!" } else { "✗" };
            for l in wrap(&format!("      {mark} {what}: {error}, {how}"), 8) {
                writeln!(out, "{l}")?;
            }
            let words = cause_in_words(cause);
            if !words.is_empty() {
                for l in wrap(&format!("        {words}"), 8) {
                    writeln!(out, "{l}")?;
                }
            }
        }
        if let (Some((_, cause)), false) = (&failed, told) {
            let words = cause_in_words(cause);
            if !words.is_empty() {
                for l in wrap(&format!("      {words}"), 6) {
                    writeln!(out, "{l}")?;
                }
            }
        }
        out.flush()
    }

    /// At the end of the execution: the step still open ends with the execution's status.
    pub fn close(
        &mut self,
        status: &str,
        error: Option<&str>,
        at: f64,
        out: &mut impl Write,
    ) -> std::io::Result<()> {
        let failed =
            (status != "SUCCEEDED").then(|| (error.unwrap_or(status).to_string(), String::new()));
        let failed = failed.filter(|_| self.current.as_ref().is_some_and(|s| s.ended.is_none()));
        self.finish(failed, at, out)
    }

    /// The step running now, its time so far and its poll loops, on one line rewritten in place.
    pub fn live(&mut self, now: f64, out: &mut impl Write) -> std::io::Result<()> {
        let Some(step) = &self.current else {
            return Ok(());
        };
        let line = format!(
            "  … {:<22} {:>6.0} s, {} polls, {} items done",
            step.name,
            (now - step.started).max(0.0),
            step.polls,
            step.iterations
        );
        write!(out, "\r\x1b[2K{}", crate::text::truncate(&line, 79))?;
        self.live_shown = true;
        out.flush()
    }

    /// The same for output that is not a terminal: a plain line now and then.
    pub fn still_running(&self, now: f64) -> Option<String> {
        let step = self.current.as_ref()?;
        Some(format!(
            "  … {} still running: {:.0} s, {} polls, {} items done",
            step.name,
            (now - step.started).max(0.0),
            step.polls,
            step.iterations
        ))
    }

    fn clear_live(&mut self, out: &mut impl Write) -> std::io::Result<()> {
        if std::mem::take(&mut self.live_shown) {
            write!(out, "\r\x1b[2K")?;
        }
        Ok(())
    }
}

fn times(n: usize) -> String {
    match n {
        1 => "once".to_string(),
        n => format!("{n} times"),
    }
}

fn failure_of(event: &HistoryEvent) -> (String, String) {
    let pair = |e: Option<&str>, c: Option<&str>| {
        (
            e.unwrap_or("?").to_string(),
            c.unwrap_or_default().to_string(),
        )
    };
    if let Some(d) = event.task_failed_event_details() {
        pair(d.error(), d.cause())
    } else if let Some(d) = event.lambda_function_failed_event_details() {
        pair(d.error(), d.cause())
    } else if let Some(d) = event.task_timed_out_event_details() {
        pair(d.error().or(Some("States.Timeout")), d.cause())
    } else if let Some(d) = event.lambda_function_timed_out_event_details() {
        pair(d.error().or(Some("States.Timeout")), d.cause())
    } else {
        pair(None, None)
    }
}
