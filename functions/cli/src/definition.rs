//! What `watch` needs to know about the state machine definition: which top-level states are the
//! steps a data engineer thinks in, and which errors each Task state retries.

use serde_json::Value;
use std::collections::HashMap;

/// The role of a top-level state in the progress lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// A Task or Map: a step of the run, printed with its outcome.
    Step,
    /// Choice, Pass, Wait, and a Task only Wait states lead to (a poll loop's resume): part of the
    /// step before it.
    Continuation,
    /// A Pass that records a failure for the alert (`Record...`): the step before it failed.
    FailureRecord,
    /// Succeed or Fail.
    End,
}

#[derive(Debug, Default)]
pub struct Definition {
    top: HashMap<String, Role>,
    /// Per Task state (nested ones included), each Retry's ErrorEquals.
    retry: HashMap<String, Vec<Vec<String>>>,
}

impl Definition {
    /// Reads a definition; an unreadable one gives an empty description (every state a step).
    pub fn parse(text: &str) -> Self {
        let Ok(doc) = serde_json::from_str::<Value>(text) else {
            return Self::default();
        };
        let mut def = Self::default();
        let states = doc["States"].as_object().cloned().unwrap_or_default();
        // Who leads to each state: a Task reached only from Wait states resumes a poll loop.
        let mut from: HashMap<&str, Vec<&str>> = HashMap::new();
        for state in states.values() {
            let kind = state["Type"].as_str().unwrap_or_default();
            let choices = state["Choices"].as_array().into_iter().flatten();
            let catches = state["Catch"].as_array().into_iter().flatten();
            let nexts = [&state["Next"], &state["Default"]]
                .into_iter()
                .chain(choices.map(|c| &c["Next"]))
                .chain(catches.map(|c| &c["Next"]));
            for next in nexts.filter_map(Value::as_str) {
                from.entry(next).or_default().push(kind);
            }
        }
        let resumes = |name: &str| {
            from.get(name)
                .is_some_and(|kinds| kinds.iter().all(|k| *k == "Wait"))
        };
        for (name, state) in &states {
            let role = match state["Type"].as_str().unwrap_or_default() {
                "Succeed" | "Fail" => Role::End,
                "Pass" if name.starts_with("Record") => Role::FailureRecord,
                "Task" | "Map" | "Parallel" if !resumes(name) => Role::Step,
                _ => Role::Continuation,
            };
            def.top.insert(name.clone(), role);
        }
        collect_retries(&doc, &mut def.retry);
        def
    }

    /// The role of a state; `None` for a state inside a Map (or one the definition lacks).
    pub fn role(&self, state: &str) -> Option<Role> {
        if self.top.is_empty() {
            return Some(Role::Step);
        }
        self.top.get(state).copied()
    }

    /// Whether the state's Retry covers `error` (as Step Functions matches: by name, or
    /// `States.ALL`, or `States.TaskFailed` for any error but a timeout).
    pub fn retries(&self, state: &str, error: &str) -> bool {
        self.retry.get(state).is_some_and(|retriers| {
            retriers.iter().flatten().any(|e| {
                e == error
                    || e == "States.ALL"
                    || (e == "States.TaskFailed" && error != "States.Timeout")
            })
        })
    }
}

fn collect_retries(node: &Value, out: &mut HashMap<String, Vec<Vec<String>>>) {
    let Some(states) = node["States"].as_object() else {
        return;
    };
    for (name, state) in states {
        if let Some(retry) = state["Retry"].as_array() {
            let lists = retry
                .iter()
                .map(|r| {
                    r["ErrorEquals"]
                        .as_array()
                        .map(|e| {
                            e.iter()
                                .filter_map(|e| e.as_str().map(String::from))
                                .collect()
                        })
                        .unwrap_or_default()
                })
                .collect();
            out.insert(name.clone(), lists);
        }
        for inner in [&state["Iterator"], &state["ItemProcessor"]] {
            collect_retries(inner, out);
        }
        for branch in state["Branches"].as_array().into_iter().flatten() {
            collect_retries(branch, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ours() -> Definition {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../statemachine/post-etl.asl.json");
        Definition::parse(&std::fs::read_to_string(path).unwrap())
    }

    #[test]
    fn steps_loops_and_failure_records() {
        let d = ours();
        for step in [
            "Plan",
            "ResumeWarehouse",
            "RunMerges",
            "RefreshMarts",
            "NotifyFailure",
        ] {
            assert_eq!(d.role(step), Some(Role::Step), "{step}");
        }
        for part in [
            "ResumeMarts",
            "WaitForMarts",
            "MartsFinished?",
            "Start",
            "QualityGate",
        ] {
            assert_eq!(d.role(part), Some(Role::Continuation), "{part}");
        }
        assert_eq!(d.role("RecordFailureMerge"), Some(Role::FailureRecord));
        assert_eq!(d.role("Failed"), Some(Role::End));
        assert_eq!(d.role("Merge"), None);
    }

    #[test]
    fn retried_errors_come_from_the_definition() {
        let d = ours();
        assert!(d.retries("Merge", "Snowflake.Throttled"));
        assert!(d.retries("Merge", "Lambda.ServiceException"));
        assert!(!d.retries("Merge", "Snowflake.SqlError"));
        assert!(!d.retries("Merge", "Lambda.Unknown"));
        assert!(d.retries("NotifyFailure", "SNS.Anything"));
    }
}
