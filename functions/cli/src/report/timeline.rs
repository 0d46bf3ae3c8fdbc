//! An execution's history as a timeline: one row per top-level state (each time it was entered is
//! a segment) and one per Map iteration, with retries, waits and poll loops counted and failures
//! kept with their error. Pure: built from [`Event`]s, which are read from Step Functions.

use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;

/// The parts of a history event the timeline needs.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Event {
    pub id: i64,
    pub previous: i64,
    /// Seconds since the epoch.
    pub at: f64,
    /// The event type, as Step Functions names it (`TaskStateEntered`, `MapIterationStarted`...).
    pub kind: String,
    /// The state's name for entered/exited events, the Map's for iteration events.
    pub name: Option<String>,
    /// The iteration's index for iteration events.
    pub index: Option<i64>,
    /// Input (entered) or output (exited, task succeeded) JSON.
    pub data: Option<String>,
    pub error: Option<String>,
    pub cause: Option<String>,
    /// For TaskScheduled: the resource type (`lambda`, `sns`).
    pub resource: Option<String>,
}

/// One time a state ran, in seconds from the execution's start.
#[derive(Clone, Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Segment {
    pub start: f64,
    pub end: f64,
    /// succeeded, failed, running (never left: the execution ended inside it)
    pub status: &'static str,
    pub error: Option<String>,
    pub cause: Option<String>,
    /// Task attempts beyond the first of a state entry (the Retry field at work).
    pub retries: u32,
    /// Attempts within the state entered last.
    #[serde(skip)]
    attempts: u32,
    /// The last attempt failed (so the state did, unless a later attempt came).
    #[serde(skip)]
    last_failed: bool,
}

/// A row of the picture: a top-level state, or one item of a Map state.
#[derive(Clone, Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Row {
    pub name: String,
    /// task, map, wait, choice, pass, succeed, fail; `item` for a Map iteration.
    pub kind: &'static str,
    /// For an item: the Map state it belongs to.
    pub parent: Option<String>,
    pub segments: Vec<Segment>,
    /// Poll loops gone round (Wait states entered) inside this item or state.
    pub polls: u32,
}

impl Row {
    pub fn failed(&self) -> bool {
        self.segments.iter().any(|s| s.status == "failed")
    }
}

/// The timeline of one execution.
#[derive(Clone, Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Timeline {
    /// Seconds since the epoch of the first event.
    pub started_at: f64,
    /// Seconds from the first event to the last.
    pub duration: f64,
    pub rows: Vec<Row>,
    pub state_transitions: u32,
    pub lambda_requests: u32,
    /// Summed from each Lambda task's start to its end.
    pub lambda_seconds: f64,
}

fn kind_of(event_kind: &str) -> &'static str {
    match event_kind.trim_end_matches("StateEntered") {
        "Task" => "task",
        "Map" => "map",
        "Wait" => "wait",
        "Choice" => "choice",
        "Pass" => "pass",
        "Succeed" => "succeed",
        "Fail" => "fail",
        "Parallel" => "parallel",
        _ => "state",
    }
}

/// The items a Map state iterated over, by index: names from its input's list when it is one of
/// the plan's (`plan.icebergTables`, `plan.merges`), else `#index`.
fn item_names(map: &str, input: Option<&str>) -> Vec<String> {
    let input: Value = input
        .and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or_default();
    let list = match map {
        pipeline::states::REFRESH_ICEBERG_TABLES => {
            &input[pipeline::states::PLAN_KEY]["icebergTables"]
        }
        pipeline::states::RUN_MERGES => &input[pipeline::states::PLAN_KEY]["merges"],
        _ => &Value::Null,
    };
    list.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// Which iteration (Map state name, index) each event belongs to, by following `previous` links
/// back to a `MapIterationStarted` event (events of parallel iterations interleave in the history).
fn iteration_of(events: &[Event]) -> HashMap<i64, (String, i64)> {
    let by_id: HashMap<i64, &Event> = events.iter().map(|e| (e.id, e)).collect();
    let mut owner: HashMap<i64, Option<(String, i64)>> = HashMap::new();
    for e in events {
        let mut chain = Vec::new();
        let mut cursor = Some(e);
        let found = loop {
            let Some(c) = cursor else { break None };
            if c.kind == "MapIterationStarted" {
                break c.name.clone().zip(c.index);
            }
            // Past an iteration's end or a Map state's own events: not inside an iteration.
            if c.id != e.id
                && (c.kind.starts_with("MapIteration") || c.kind.starts_with("MapState"))
            {
                break None;
            }
            if let Some(known) = owner.get(&c.id) {
                break known.clone();
            }
            if chain.len() > 100_000 {
                break None;
            }
            chain.push(c.id);
            cursor = by_id.get(&c.previous).copied().filter(|p| p.id < c.id);
        };
        for id in chain {
            owner.insert(id, found.clone());
        }
    }
    owner
        .into_iter()
        .filter_map(|(id, o)| o.map(|o| (id, o)))
        .collect()
}

/// Builds the timeline from the whole history, in event order.
pub fn timeline(events: &[Event]) -> Timeline {
    let t0 = events.first().map_or(0.0, |e| e.at);
    let end = events.last().map_or(t0, |e| e.at);
    let owners = iteration_of(events);
    let mut b = Builder {
        t0,
        rows: Vec::new(),
        row_of: HashMap::new(),
        names: HashMap::new(),
        open: HashMap::new(),
        current: HashMap::new(),
        lambda: HashMap::new(),
        transitions: 0,
        requests: 0,
        lambda_seconds: 0.0,
    };
    for e in events {
        b.event(e, owners.get(&e.id).cloned());
    }
    let Builder {
        mut rows,
        open,
        transitions,
        requests,
        lambda_seconds,
        ..
    } = b;
    for (idx, seg) in open {
        rows[idx].segments[seg].end = end - t0;
    }
    for row in &mut rows {
        for seg in &mut row.segments {
            // An attempt that failed and was not retried failed its state (a Catch took it on).
            if seg.error.is_some() && seg.status != "failed" {
                seg.status = if seg.last_failed {
                    "failed"
                } else {
                    seg.status
                };
            }
        }
    }
    Timeline {
        started_at: t0,
        duration: end - t0,
        rows,
        state_transitions: transitions,
        lambda_requests: requests,
        lambda_seconds,
    }
}

type Owner = Option<(String, i64)>;

struct Builder {
    t0: f64,
    rows: Vec<Row>,
    row_of: HashMap<(Owner, String), usize>,
    names: HashMap<String, Vec<String>>,
    /// Row -> its segment still open.
    open: HashMap<usize, usize>,
    /// The row a task event of this owner is charged to (top level: the state entered last).
    current: HashMap<Owner, usize>,
    /// Per owner: when the Lambda task in flight started, if the task in flight is a Lambda.
    lambda: HashMap<Owner, Option<f64>>,
    transitions: u32,
    requests: u32,
    lambda_seconds: f64,
}

impl Builder {
    fn row(&mut self, owner: &Owner, name: &str, kind: &'static str) -> usize {
        let key = (
            owner.clone(),
            if owner.is_some() {
                String::new()
            } else {
                name.to_string()
            },
        );
        if let Some(&idx) = self.row_of.get(&key) {
            return idx;
        }
        let (name, parent) = match owner {
            Some((map, index)) => (
                self.names
                    .get(map)
                    .and_then(|n| usize::try_from(*index).ok().and_then(|i| n.get(i)))
                    .cloned()
                    .unwrap_or_else(|| format!("#{index}")),
                Some(map.clone()),
            ),
            None => (name.to_string(), None),
        };
        self.rows.push(Row {
            name,
            kind,
            parent,
            segments: Vec::new(),
            polls: 0,
        });
        self.row_of.insert(key, self.rows.len() - 1);
        self.rows.len() - 1
    }

    fn open_segment(&mut self, idx: usize, at: f64) {
        self.rows[idx].segments.push(Segment {
            start: at - self.t0,
            end: at - self.t0,
            status: "running",
            error: None,
            cause: None,
            retries: 0,
            attempts: 0,
            last_failed: false,
        });
        self.open.insert(idx, self.rows[idx].segments.len() - 1);
    }

    fn close_segment(&mut self, idx: usize, at: f64, status: &'static str) {
        if let Some(seg) = self.open.remove(&idx) {
            let s = &mut self.rows[idx].segments[seg];
            s.end = at - self.t0;
            s.status = if s.last_failed { "failed" } else { status };
        }
    }

    fn segment(&mut self, owner: &Owner) -> Option<&mut Segment> {
        let idx = *self.current.get(owner)?;
        self.rows[idx].segments.last_mut()
    }

    fn event(&mut self, e: &Event, owner: Owner) {
        let kind = e.kind.as_str();
        if kind.ends_with("StateEntered") {
            self.transitions += 1;
            let name = e.name.clone().unwrap_or_default();
            let state_kind = kind_of(kind);
            if state_kind == "map" {
                self.names
                    .insert(name.clone(), item_names(&name, e.data.as_deref()));
            }
            let idx = self.row(
                &owner,
                &name,
                if owner.is_some() { "item" } else { state_kind },
            );
            if state_kind == "wait" {
                self.rows[idx].polls += 1;
            }
            if owner.is_none() {
                self.open_segment(idx, e.at);
            } else if let Some(seg) = self.rows[idx].segments.last_mut() {
                // A new state inside the item (the next go round a poll loop): its first attempt
                // is not a retry.
                seg.attempts = 0;
            }
            self.current.insert(owner, idx);
        } else if kind.ends_with("StateExited") {
            if owner.is_none() {
                let idx = self.row(&None, e.name.as_deref().unwrap_or_default(), "state");
                self.close_segment(idx, e.at, "succeeded");
            }
        } else if kind == "MapIterationStarted" {
            let o = e.name.clone().zip(e.index);
            let idx = self.row(&o, "", "item");
            self.open_segment(idx, e.at);
            self.current.insert(o, idx);
        } else if kind.starts_with("MapIteration") {
            let o = e.name.clone().zip(e.index);
            let idx = self.row(&o, "", "item");
            let status = if kind == "MapIterationSucceeded" {
                "succeeded"
            } else {
                "failed"
            };
            self.close_segment(idx, e.at, status);
        } else if matches!(kind, "TaskScheduled" | "LambdaFunctionScheduled") {
            let lambda = kind.starts_with("Lambda") || e.resource.as_deref() == Some("lambda");
            self.requests += u32::from(lambda);
            self.lambda.insert(owner.clone(), lambda.then_some(e.at));
            if let Some(seg) = self.segment(&owner) {
                // A second attempt within one state entry is the Retry field at work.
                seg.attempts += 1;
                seg.retries += u32::from(seg.attempts > 1);
                seg.last_failed = false;
            }
        } else if matches!(kind, "TaskStarted" | "LambdaFunctionStarted") {
            if let Some(Some(_)) = self.lambda.get(&owner) {
                self.lambda.insert(owner, Some(e.at));
            }
        } else if matches!(
            kind,
            "TaskSucceeded"
                | "LambdaFunctionSucceeded"
                | "TaskFailed"
                | "LambdaFunctionFailed"
                | "TaskTimedOut"
                | "LambdaFunctionTimedOut"
                | "LambdaFunctionStartFailed"
                | "LambdaFunctionScheduleFailed"
                | "TaskSubmitFailed"
                | "TaskStartFailed"
        ) {
            if let Some(Some(started)) = self.lambda.remove(&owner) {
                self.lambda_seconds += (e.at - started).max(0.0);
            }
            if !kind.ends_with("Succeeded")
                && let Some(seg) = self.segment(&owner)
            {
                seg.last_failed = true;
                seg.error = e.error.clone();
                seg.cause = e.cause.clone();
            }
        } else if matches!(
            kind,
            "ExecutionFailed" | "ExecutionTimedOut" | "ExecutionAborted"
        ) && let Some(seg) = self.segment(&None)
            && seg.error.is_none()
        {
            {
                seg.last_failed = true;
                seg.error = e
                    .error
                    .clone()
                    .or_else(|| Some(kind.trim_start_matches("Execution").into()));
                seg.cause = e.cause.clone();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(id: i64, previous: i64, kind: &str, name: Option<&str>, index: Option<i64>) -> Event {
        Event {
            id,
            previous,
            at: id as f64,
            kind: kind.into(),
            name: name.map(String::from),
            index,
            resource: kind.eq("TaskScheduled").then(|| "lambda".into()),
            ..Event::default()
        }
    }

    #[test]
    fn a_retry_is_counted_and_a_poll_loop_is_not() {
        let input = r#"{"plan": {"merges": ["orders"]}}"#;
        let mut map = ev(2, 1, "MapStateEntered", Some("RunMerges"), None);
        map.data = Some(input.into());
        let events = vec![
            ev(1, 0, "ExecutionStarted", None, None),
            map,
            ev(3, 2, "MapIterationStarted", Some("RunMerges"), Some(0)),
            ev(4, 3, "TaskStateEntered", Some("Merge"), None),
            ev(5, 4, "TaskScheduled", None, None),
            ev(6, 5, "TaskFailed", None, None),
            ev(7, 6, "TaskScheduled", None, None),
            ev(8, 7, "TaskSucceeded", None, None),
            ev(9, 8, "TaskStateExited", Some("Merge"), None),
            ev(10, 9, "WaitStateEntered", Some("WaitForMerge"), None),
            ev(11, 10, "TaskStateEntered", Some("ResumeMerge"), None),
            ev(12, 11, "TaskScheduled", None, None),
            ev(13, 12, "TaskSucceeded", None, None),
            ev(14, 13, "MapIterationSucceeded", Some("RunMerges"), Some(0)),
            ev(15, 14, "MapStateExited", Some("RunMerges"), None),
            ev(16, 15, "ExecutionSucceeded", None, None),
        ];
        let t = timeline(&events);
        let orders = t.rows.iter().find(|r| r.name == "orders").unwrap();
        assert_eq!(orders.parent.as_deref(), Some("RunMerges"));
        assert_eq!(
            (orders.segments[0].retries, orders.polls),
            (1, 1),
            "{orders:?}"
        );
        assert_eq!(orders.segments[0].status, "succeeded");
        assert_eq!(t.lambda_requests, 3);
        let map = t.rows.iter().find(|r| r.name == "RunMerges").unwrap();
        assert_eq!((map.kind, map.segments[0].status), ("map", "succeeded"));
    }
}
