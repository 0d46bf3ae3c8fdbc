//! Static checks of statemachine/post-etl.asl.json: asl-validator on the filled definition, the
//! fields Step Functions Local accepts, timeouts and poll caps, and the error names of Retry, Catch
//! and the README table against the Rust error types (`StepError::classes`, the single source).

use pipeline::StepError;
use postetl_tests::repo_root;
use postetl_tests::workflow::{STATE_MACHINE, definition};
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::process::Command;

/// AWS's list for transient Lambda service errors ("Handle Lambda service exceptions", Step
/// Functions developer guide), plus TooManyRequests (the invoke limit). Not Lambda.Unknown: it
/// also reports function timeouts and out-of-memory, which a retry repeats (README, "Retries").
const LAMBDA_RETRIER: &[&str] = &[
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    "Lambda.ClientExecutionTimeoutException",
];

/// Names the state machine raises itself (Pass records and Fail states), not the Lambdas.
const WORKFLOW_ERRORS: &[&str] = &["DataQuality.Failed", "Workflow.PollLimitExceeded"];

fn asl() -> Value {
    serde_json::from_str(&definition(
        "arn:aws:sns:us-east-1:123456789012:postetl-alerts",
    ))
    .expect("the definition is JSON")
}

/// Every state, Map iterators included, with the Catch of the Map it runs in (if any).
fn states(asl: &Value) -> Vec<(String, Value, Option<Value>)> {
    fn walk(states: &Value, outer: Option<&Value>, out: &mut Vec<(String, Value, Option<Value>)>) {
        for (name, state) in states.as_object().unwrap() {
            out.push((name.clone(), state.clone(), outer.cloned()));
            if let Some(inner) = state.get("Iterator") {
                walk(&inner["States"], state.get("Catch"), out);
            }
        }
    }
    let mut out = Vec::new();
    walk(&asl["States"], None, &mut out);
    out
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

fn node() -> std::path::PathBuf {
    let node = repo_root().join("tests/sfn/node_modules/.bin/node");
    assert!(
        node.exists(),
        "{} is missing: run `bash tests/setup.sh`",
        node.display()
    );
    node
}

fn asl_validator(text: &str, name: &str) -> std::process::Output {
    let path = std::env::temp_dir().join(format!("postetl-{}-{name}.json", std::process::id()));
    std::fs::write(&path, text).unwrap();
    let out = Command::new(node())
        .arg(repo_root().join("tests/sfn/node_modules/asl-validator/dist/bin/asl-validator.js"))
        .arg("--json-path")
        .arg(&path)
        .output()
        .expect("run asl-validator");
    let _ = std::fs::remove_file(&path);
    out
}

#[test]
fn asl_validator_accepts_the_definition_with_its_substitutions_filled() {
    let filled = definition("arn:aws:sns:us-east-1:123456789012:postetl-alerts");
    assert!(!filled.contains("${"));
    let out = asl_validator(&filled, "definition");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // And it does see what cfn-lint misses: a Next to a state that is not there.
    let broken = filled.replace("\"Next\": \"WaitForMerge\"", "\"Next\": \"WaitForMerg\"");
    assert!(!asl_validator(&broken, "broken").status.success());
}

#[test]
fn only_fields_step_functions_local_accepts() {
    fn keys(v: &Value, out: &mut BTreeSet<String>) {
        match v {
            Value::Object(o) => o.iter().for_each(|(k, v)| {
                out.insert(k.clone());
                keys(v, out);
            }),
            Value::Array(a) => a.iter().for_each(|v| keys(v, out)),
            _ => {}
        }
    }
    let asl = asl();
    let mut fields = BTreeSet::new();
    keys(&asl, &mut fields);
    // AWS's inline Map page: Step Functions Local does not support ItemProcessor (use Iterator);
    // its jar rejects ItemSelector (use Parameters). The others are newer than it, or JSONata.
    for field in [
        "ItemProcessor",
        "ItemSelector",
        "ItemReader",
        "ItemBatcher",
        "ResultWriter",
        "QueryLanguage",
        "Arguments",
        "Assign",
        "Output",
    ] {
        assert!(!fields.contains(field), "{field} in the definition");
    }
    for (name, state, _) in states(&asl) {
        if state["Type"] == "Map" {
            assert!(
                state.get("Iterator").is_some() && state.get("Parameters").is_some(),
                "{name}"
            );
        }
        // Equal to leaving it out (AWS), but aws-local-stepfunctions writes a key named "$".
        assert_ne!(state.get("ResultPath"), Some(&Value::from("$")), "{name}");
    }
}

#[test]
fn the_state_names_others_rely_on_stay() {
    let asl = asl();
    for name in [
        "Plan",
        "ResumeWarehouse",
        "RefreshIcebergTables",
        "RunMerges",
        "CheckDataQuality",
        "RefreshMarts",
        "SuspendWarehouse",
        "SuspendAfterFailure",
        "NotifyFailure",
        "Failed",
        "Succeeded",
        "Superseded",
        "NothingChanged",
    ] {
        assert!(asl["States"].get(name).is_some(), "{name}");
    }
    // The warehouse Lambda finds out itself what this run resumed or resized (SHAPES.md); the
    // state machine adds only what the ledger's rows need: when the run started, what failed, what
    // a change-aware run skipped.
    for (name, cancel) in [("SuspendWarehouse", false), ("SuspendAfterFailure", true)] {
        let mut want = serde_json::json!({"run.$": "$.plan.run", "action": "suspend",
            "cancelRunning": cancel, "runStarted.$": "$$.Execution.StartTime",
            "skipped.$": "$.plan.skipped", "changedSince.$": "$.plan.changedSince"});
        if cancel {
            want["failure.$"] = serde_json::json!("$.failure");
        }
        assert_eq!(asl["States"][name]["Parameters"]["Payload"], want, "{name}");
    }
    let mocks: Value = serde_json::from_str(
        &std::fs::read_to_string(repo_root().join("statemachine/mock-config.json")).unwrap(),
    )
    .unwrap();
    assert!(mocks["StateMachines"].get(STATE_MACHINE).is_some());
}

#[test]
fn bounded_in_time_every_task_and_every_poll_loop() {
    let asl = asl();
    assert_eq!(
        asl["TimeoutSeconds"], 14_400,
        "the default of run_timeout_minutes"
    );
    let all = states(&asl);
    let by_name: HashMap<&str, &Value> = all.iter().map(|(n, s, _)| (n.as_str(), s)).collect();
    for (name, state, _) in &all {
        if state["Type"] == "Task" {
            let t = state["TimeoutSeconds"].as_u64().unwrap_or(0);
            // Above the function's own timeout (at most 15 min), so that the Lambda ends first.
            assert!((60..=960).contains(&t), "{name}: TimeoutSeconds {t}");
        }
        if state["Type"] == "Wait" {
            // Every way into a Wait counts a poll, and the Choice before it compares the count
            // with the plan's limit before it lets the loop go round.
            let counting: Vec<&str> = all
                .iter()
                .filter(|(_, s, _)| s["Next"] == name.as_str())
                .map(|(n, _, _)| n.as_str())
                .collect();
            assert!(!counting.is_empty(), "{name}");
            for count in counting {
                let pass = by_name[count];
                assert_eq!(pass["Type"], "Pass", "{count} leads to {name}");
                assert!(
                    pass["Parameters"].to_string().contains("States.MathAdd"),
                    "{count} counts"
                );
                let guards: Vec<&Value> = all
                    .iter()
                    .filter(|(_, s, _)| s["Type"] == "Choice")
                    .flat_map(|(_, s, _)| s["Choices"].as_array().unwrap().iter())
                    .collect();
                let index = guards.iter().position(|c| c["Next"] == count).unwrap();
                assert!(
                    index > 0
                        && guards[index - 1]
                            .to_string()
                            .contains("NumericGreaterThanEqualsPath"),
                    "the rule before {count} checks the limit"
                );
            }
        }
    }
}

#[test]
fn retry_and_catch_lists_follow_the_rust_error_types() {
    let classes = StepError::classes();
    let transient: BTreeSet<String> = classes
        .iter()
        .filter(|(_, t)| *t)
        .map(|(n, _)| n.to_string())
        .collect();
    assert!(transient.contains("Snowflake.Throttled") && transient.len() >= 5);
    let lambda: BTreeSet<String> = LAMBDA_RETRIER.iter().map(|s| s.to_string()).collect();
    let asl = asl();
    let mut lambda_tasks = 0;
    for (name, state, outer_catch) in states(&asl) {
        if state["Type"] != "Task" || state["Resource"] != "arn:aws:states:::lambda:invoke" {
            continue;
        }
        lambda_tasks += 1;
        let retriers = state["Retry"].as_array().expect("Retry");
        let lists: Vec<BTreeSet<String>> = retriers
            .iter()
            .map(|r| strings(&r["ErrorEquals"]).into_iter().collect())
            .collect();
        assert!(lists.contains(&lambda), "{name}: {lists:?}");
        let retried: BTreeSet<String> = lists.iter().flatten().cloned().collect();
        let expected: BTreeSet<String> = transient.union(&lambda).cloned().collect();
        assert_eq!(
            retried, expected,
            "{name} retries exactly the transient names"
        );
        for r in retriers {
            assert!(r["MaxAttempts"].as_u64().unwrap() <= 6, "{name}");
            assert_eq!(r["JitterStrategy"], "FULL", "{name}");
        }
        // Everything else is caught: by the state, or by the Map it runs in.
        let catch = state.get("Catch").cloned().or(outer_catch);
        let caught: Vec<String> = catch
            .as_ref()
            .and_then(Value::as_array)
            .map(|c| c.iter().flat_map(|c| strings(&c["ErrorEquals"])).collect())
            .unwrap_or_default();
        assert!(caught.contains(&"States.ALL".to_string()), "{name}");
    }
    assert_eq!(lambda_tasks, 10);
    // The names the workflow raises itself are the ones it writes.
    let text = asl.to_string();
    for name in WORKFLOW_ERRORS {
        assert!(text.contains(&format!("\"{name}\"")), "{name}");
    }
}

/// The README's error table: every name exactly once, `Retry` exactly for the transient ones.
#[test]
fn the_readme_error_table_follows_the_rust_error_types() {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let table = readme
        .split("### Error names")
        .nth(1)
        .expect("an `### Error names` section");
    let mut rows: HashMap<String, String> = HashMap::new();
    for line in table.lines().skip_while(|l| !l.starts_with('|')) {
        if !line.starts_with('|') {
            break;
        }
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        let class = cells.last().unwrap().to_string();
        for name in cells[0].split('`').skip(1).step_by(2) {
            assert!(
                rows.insert(name.to_string(), class.clone()).is_none(),
                "{name} twice in the README table"
            );
        }
    }
    let mut expected: Vec<(String, &str)> = StepError::classes()
        .into_iter()
        .map(|(n, t)| (n.to_string(), if t { "Retry" } else { "Catch" }))
        .collect();
    expected.extend(LAMBDA_RETRIER.iter().map(|n| (n.to_string(), "Retry")));
    expected.push(("Lambda.Unknown".to_string(), "Catch"));
    expected.extend(
        WORKFLOW_ERRORS
            .iter()
            .map(|n| (n.to_string(), "ends the run")),
    );
    for (name, class) in &expected {
        let row = rows
            .get(name)
            .unwrap_or_else(|| panic!("{name} is not in the README table"));
        assert!(
            row.starts_with(class),
            "{name}: README says {row:?}, want {class}"
        );
    }
    let known: BTreeSet<&str> = expected.iter().map(|(n, _)| n.as_str()).collect();
    for name in rows.keys() {
        assert!(
            known.contains(name.as_str()),
            "{name} in the README table is raised by nothing"
        );
    }
}

/// Every error name a Retry or Catch of the definition matches (but the service's own, `States.*`
/// and `Lambda.*`) is one a step raises (`pipeline::error_names`); and a name a Retry lists is one
/// `StepError::is_transient` calls transient, so a Retry never repeats what cannot pass.
#[test]
fn every_name_the_definition_matches_is_raised_and_retried_only_when_transient() {
    let names = pipeline::error_names();
    let catalogue = StepError::catalogue();
    let asl = asl();
    let mut matched = 0;
    for (state_name, state, _) in states(&asl) {
        for (field, retry) in [("Retry", true), ("Catch", false)] {
            let lists = state[field].as_array().cloned().unwrap_or_default();
            for name in lists.iter().flat_map(|r| strings(&r["ErrorEquals"])) {
                if name.starts_with("States.") || name.starts_with("Lambda.") {
                    continue;
                }
                matched += 1;
                assert!(
                    names.contains(&name.as_str()),
                    "{state_name}: {field} matches {name}, which no step raises (pipeline::error_names)"
                );
                if retry {
                    for e in catalogue.iter().filter(|e| e.name() == name) {
                        assert!(
                            e.is_transient(),
                            "{state_name} retries {name}, which StepError::is_transient says is not transient ({e:?})"
                        );
                    }
                }
            }
        }
    }
    assert!(matched > 0, "the definition retries no step error by name");
}

/// Every state of the definition, Map iterators included.
fn state_names() -> BTreeSet<String> {
    states(&asl())
        .into_iter()
        .map(|(name, _, _)| name)
        .collect()
}

/// The string literals of Rust source (escapes left as written; raw strings `r#"..."#` too), test
/// modules cut off (from `#[cfg(test)]`), each with the code just before it.
fn literals(source: &str) -> Vec<(String, String)> {
    let code = source.split("#[cfg(test)]").next().unwrap();
    let bytes = code.as_bytes();
    let mut out = Vec::new();
    let (mut i, mut code_from) = (0, 0);
    while i < bytes.len() {
        match bytes[i] {
            // A char literal '"' is no string.
            b'\'' if bytes.get(i + 1) == Some(&b'"') && bytes.get(i + 2) == Some(&b'\'') => i += 3,
            b'"' => {
                let hashes = code[..i].len() - code[..i].trim_end_matches('#').len();
                let raw = code[..i - hashes].ends_with('r');
                let close = format!("\"{}", "#".repeat(hashes));
                let mut j = i + 1;
                let end = loop {
                    if j >= bytes.len() {
                        break bytes.len();
                    }
                    if !raw && bytes[j] == b'\\' {
                        j += 2;
                        continue;
                    }
                    if bytes[j..].starts_with(close.as_bytes()) {
                        break j;
                    }
                    j += 1;
                };
                let text = |from: usize, to: usize| {
                    String::from_utf8_lossy(&bytes[from.min(to)..to]).into_owned()
                };
                out.push((text(code_from, i), text(i + 1, end.min(bytes.len()))));
                i = end + close.len();
                code_from = i.min(bytes.len());
            }
            _ => i += 1,
        }
    }
    out
}

fn rust_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The state names the tools and the tests rely on are the definition's: `pipeline::states` (the
/// CLI and finalize use only those), the states `mocked.rs` and `replay.rs` name, and the states
/// each case of `mock-config.json` mocks.
#[test]
fn the_state_names_the_tools_and_tests_use_are_in_the_definition() {
    let names = state_names();
    for name in pipeline::states::RELIED_ON {
        assert!(
            names.contains(*name),
            "pipeline::states: {name} is not a state of the definition"
        );
    }

    // The CLI and finalize spell no state name out: they use pipeline::states. (A suffix such as
    // an event type's `Succeeded` is not a state.)
    let mut files = Vec::new();
    rust_files(&repo_root().join("functions/cli/src"), &mut files);
    rust_files(&repo_root().join("functions/finalize/src"), &mut files);
    for file in &files {
        let source = std::fs::read_to_string(file).unwrap();
        for (before, literal) in literals(&source) {
            let suffix_test = before.ends_with("ends_with(") || before.ends_with("starts_with(");
            assert!(
                !names.contains(&literal) || suffix_test,
                "{}: the state name {literal:?} spelled out: declare it in pipeline::states",
                file.display()
            );
        }
    }

    // The mocked cases: each mocks states of the definition, with responses the file has.
    let mocks: Value = serde_json::from_str(
        &std::fs::read_to_string(repo_root().join("statemachine/mock-config.json")).unwrap(),
    )
    .unwrap();
    let cases = mocks["StateMachines"][STATE_MACHINE]["TestCases"]
        .as_object()
        .expect("TestCases");
    let responses = mocks["MockedResponses"]
        .as_object()
        .expect("MockedResponses");
    for (case, states) in cases {
        for (state, response) in states.as_object().unwrap() {
            assert!(
                names.contains(state),
                "mock-config.json {case}: no state {state}"
            );
            let response = response.as_str().unwrap();
            assert!(
                responses.contains_key(response),
                "mock-config.json {case}: {state} answers {response}, which MockedResponses lacks"
            );
        }
    }

    // The tests that run the definition: every name that looks like a state's (CamelCase) is one,
    // or a mocked case or response, or one of the other words below.
    const NOT_STATES: &[&str] = &[
        "StateMachines",
        "TestCases",
        "MockedResponses",
        "Return",
        "Payload",
        "GetWebIdentityToken",
        "MapIterationStarted",
        "TaskFailed",
        "TaskScheduled",
        "TaskStateEntered",
    ];
    for test in ["mocked.rs", "replay.rs"] {
        let source = std::fs::read_to_string(repo_root().join("tests/tests").join(test)).unwrap();
        for (_, literal) in literals(&source) {
            let word = literal.trim_end_matches('?');
            let camel = word.len() > 1
                && word.starts_with(|c: char| c.is_ascii_uppercase())
                && word.chars().all(|c| c.is_ascii_alphanumeric())
                && word.chars().any(|c| c.is_ascii_lowercase());
            if !camel {
                continue;
            }
            assert!(
                names.contains(&literal)
                    || cases.contains_key(&literal)
                    || responses.contains_key(&literal)
                    || NOT_STATES.contains(&literal.as_str()),
                "tests/tests/{test}: {literal:?} is not a state of the definition (nor a mocked case or response)"
            );
        }
    }
}

/// The keys the CLI and finalize read back from the state are where the definition writes them:
/// Plan's result, the Map states' items under it, and every failure record (`Record*` states).
#[test]
fn the_state_paths_the_tools_read_are_the_definitions() {
    use pipeline::states::{FAILURE_KEY, PLAN_KEY, REFRESH_ICEBERG_TABLES, RUN_MERGES};
    let asl = asl();
    let states = asl["States"].as_object().unwrap();
    let plan_path = format!("$.{PLAN_KEY}");
    assert_eq!(
        states[pipeline::states::PLAN]["ResultPath"],
        plan_path.as_str()
    );
    assert_eq!(
        states[REFRESH_ICEBERG_TABLES]["ItemsPath"],
        format!("{plan_path}.icebergTables").as_str()
    );
    assert_eq!(
        states[RUN_MERGES]["ItemsPath"],
        format!("{plan_path}.merges").as_str()
    );
    let records: Vec<&String> = states
        .keys()
        .filter(|name| name.starts_with("Record"))
        .collect();
    assert!(records.len() >= 9, "{records:?}");
    for name in records {
        assert_eq!(
            states[name]["ResultPath"],
            format!("$.{FAILURE_KEY}").as_str(),
            "{name}"
        );
    }
}
