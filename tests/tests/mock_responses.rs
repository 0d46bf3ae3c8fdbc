//! The mocked responses of statemachine/mock-config.json are the step contracts: each Lambda
//! state's mocked `Payload` deserialises into the type its function returns
//! (`pipeline::steps`), names no field the type lacks, and each mocked error is a name a step
//! raises or the Lambda service's. A contract change that the mocks miss fails here, not in a
//! mocked run that passes on stale data.

use pipeline::StepId;
use pipeline::steps::{
    MartsResult, MergeResult, Plan, QualityResult, RefreshResult, WarehouseResult,
};
use postetl_tests::repo_root;
use postetl_tests::workflow::STATE_MACHINE;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

fn read(path: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(repo_root().join(path)).unwrap()).unwrap()
}

/// Every Task state of the definition (Map iterators included) with its resource and, for a
/// Lambda, the step whose function it invokes.
fn tasks() -> BTreeMap<String, (String, Option<StepId>)> {
    fn walk(states: &Value, out: &mut BTreeMap<String, (String, Option<StepId>)>) {
        for (name, state) in states.as_object().unwrap() {
            if state["Type"] == "Task" {
                let function = state["Parameters"]["FunctionName"].as_str().unwrap_or("");
                let step = StepId::ALL.into_iter().find(|s| {
                    s.substitution()
                        .is_some_and(|k| function == format!("${{{k}}}"))
                });
                let resource = state["Resource"].as_str().unwrap().to_string();
                out.insert(name.clone(), (resource, step));
            }
            if let Some(inner) = state.get("Iterator") {
                walk(&inner["States"], out);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(&read("statemachine/post-etl.asl.json")["States"], &mut out);
    out
}

/// `mock` names nothing `typed` (the value read back and written again) lacks. A field the type
/// leaves out when empty (`skip_serializing_if`) may be mocked at its empty value.
fn names_only_known_fields(mock: &Value, typed: &Value, at: &str) -> Result<(), String> {
    match (mock, typed) {
        (Value::Object(m), Value::Object(t)) => {
            for (key, value) in m {
                match t.get(key) {
                    Some(typed) => names_only_known_fields(value, typed, &format!("{at}.{key}"))?,
                    None if matches!(value, Value::Null | Value::Bool(false)) => {}
                    None => return Err(format!("{at}.{key} is no field of the contract")),
                }
            }
            Ok(())
        }
        (Value::Array(m), Value::Array(t)) if m.len() == t.len() => m
            .iter()
            .zip(t)
            .enumerate()
            .try_for_each(|(i, (m, t))| names_only_known_fields(m, t, &format!("{at}[{i}]"))),
        _ => Ok(()),
    }
}

fn check<T: DeserializeOwned + Serialize>(payload: &Value) -> Result<(), String> {
    let typed: T = serde_json::from_value(payload.clone()).map_err(|e| e.to_string())?;
    let again = serde_json::to_value(&typed).unwrap();
    names_only_known_fields(payload, &again, "Payload")
}

/// What a step's function returns: its contract.
fn contract(step: StepId, payload: &Value) -> Result<(), String> {
    match step {
        StepId::Plan => check::<Plan>(payload),
        StepId::Warehouse => check::<WarehouseResult>(payload),
        StepId::RefreshIceberg => check::<RefreshResult>(payload),
        StepId::RunMerge => check::<MergeResult>(payload),
        StepId::DqCheck => check::<QualityResult>(payload),
        StepId::RefreshMarts => check::<MartsResult>(payload),
        StepId::Finalize => Err("finalize is not in the definition".into()),
    }
}

#[test]
fn every_mocked_response_is_a_step_contract() {
    let mocks = read("statemachine/mock-config.json");
    let tasks = tasks();
    let responses = mocks["MockedResponses"].as_object().unwrap();
    let cases = mocks["StateMachines"][STATE_MACHINE]["TestCases"]
        .as_object()
        .unwrap();
    // Which states each response answers for (a response may serve several).
    let mut used_by: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for states in cases.values() {
        for (state, response) in states.as_object().unwrap() {
            used_by
                .entry(response.as_str().unwrap())
                .or_default()
                .insert(state.as_str());
        }
    }
    let raised = pipeline::error_names();
    let (mut returns, mut throws) = (0, 0);
    for (name, attempts) in responses {
        let states = used_by
            .get(name.as_str())
            .unwrap_or_else(|| panic!("MockedResponses.{name} is used by no test case"));
        for (attempt, response) in attempts.as_object().unwrap() {
            let at = format!("MockedResponses.{name}.{attempt}");
            if let Some(thrown) = response.get("Throw") {
                throws += 1;
                let error = thrown["Error"].as_str().unwrap_or_default();
                assert!(
                    raised.contains(&error)
                        || error.starts_with("Lambda.")
                        || error.starts_with("States."),
                    "{at}: {error} is raised by no step (pipeline::error_names) nor by Lambda"
                );
                continue;
            }
            let returned = &response["Return"];
            for state in states {
                let (resource, step) = tasks
                    .get(*state)
                    .unwrap_or_else(|| panic!("{at} answers {state}, not a Task state"));
                match step {
                    Some(step) => {
                        returns += 1;
                        assert_eq!(returned["StatusCode"], 200, "{at}");
                        contract(*step, &returned["Payload"]).unwrap_or_else(|e| {
                            panic!("{at} for {state} is not the {step} step's contract: {e}")
                        });
                    }
                    // The alert: SNS Publish answers a message id.
                    None if resource.ends_with(":sns:publish") => {
                        assert!(returned["MessageId"].is_string(), "{at}: {returned}")
                    }
                    None => {
                        panic!("{at} answers {state} ({resource}), which this test does not know")
                    }
                }
            }
        }
    }
    assert!(
        returns >= 20 && throws >= 5,
        "{returns} returns, {throws} throws"
    );
}

#[test]
fn a_contract_change_the_mocks_miss_is_caught() {
    let merged = serde_json::json!({"merge": "orders", "status": "done", "resume": null,
        "rowsInserted": 3, "rowsUpdated": 1, "rowsDeleted": 0, "dryRunSql": null,
        "fromEarlierRun": false});
    assert_eq!(contract(StepId::RunMerge, &merged), Ok(()));
    let mut renamed = merged.clone();
    renamed["rowsMerged"] = renamed["rowsInserted"].take();
    renamed.as_object_mut().unwrap().remove("rowsInserted");
    assert!(contract(StepId::RunMerge, &renamed).is_err());
    let mut extra = merged.clone();
    extra["rowsCopied"] = 1.into();
    assert!(contract(StepId::RunMerge, &extra).is_err());
    assert!(contract(StepId::DqCheck, &merged).is_err());
}
