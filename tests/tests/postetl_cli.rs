//! The `postetl` binary as a user runs it: one clear message, a hint, and an exit code that says
//! what went wrong; `watch` telling how each step ended, on mocked executions.

use postetl_tests::LocalAws;
use postetl_tests::workflow::Workflow;
use std::process::{Command, Output};

/// Runs `postetl` (built by `cargo build --bins`) from the repository root with no AWS settings of
/// the caller's (no profile, no instance metadata) and `env` on top.
fn postetl(args: &[&str], env: &[(&str, String)]) -> Output {
    let bin = postetl_tests::repo_root().join("target/debug/postetl");
    let mut command = Command::new(&bin);
    command.args(args).current_dir(postetl_tests::repo_root());
    for (k, _) in
        std::env::vars().filter(|(k, _)| k.starts_with("AWS_") || k.starts_with("POSTETL_"))
    {
        command.env_remove(k);
    }
    command
        .env("AWS_CONFIG_FILE", "/nonexistent/postetl-test")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/postetl-test")
        .env("AWS_EC2_METADATA_DISABLED", "true");
    for (k, v) in env {
        command.env(k, v);
    }
    command
        .output()
        .unwrap_or_else(|e| panic!("{}: {e} (run `cargo build --bins` first)", bin.display()))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn validate_and_input() {
    let ok = postetl(&["validate"], &[]);
    assert!(ok.status.success(), "{}", text(&ok.stderr));
    assert!(text(&ok.stdout).contains("orders: jobs [\"orders-to-iceberg\"]"));

    let dir = std::env::temp_dir().join(format!("postetl-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "[pipelines.x]\nglue_jobs = []\nwarehouse = \"W;\"\n").unwrap();
    let out = postetl(&["validate", "--config", bad.to_str().unwrap()], &[]);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.starts_with("postetl: ") && err.contains("2 problem(s)"),
        "{err}"
    );
    assert!(
        err.contains("pipelines.x.glue_jobs") && err.contains("pipelines.x.warehouse"),
        "{err}"
    );

    let out = postetl(
        &[
            "input",
            "orders",
            "--dry-run",
            "--tables",
            "ORDERS,CUSTOMERS",
        ],
        &[],
    );
    let input: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        input,
        serde_json::json!({"pipeline": "orders", "dryRun": true, "tables": ["ORDERS", "CUSTOMERS"]})
    );

    let out = postetl(
        &["replay", "no/such/event.json", "--state-machine", "arn:x"],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).starts_with("postetl: reading no/such/event.json"));
}

#[test]
fn names_are_checked_before_anything_starts() {
    // No AWS endpoint at all: a name check that passed would fail later with exit code 3.
    let arn = (
        "POSTETL_STATE_MACHINE_ARN",
        "arn:aws:states:us-east-1:1:stateMachine:x".to_string(),
    );
    let out = postetl(&["start", "nosuch"], std::slice::from_ref(&arn));
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr).trim(),
        "postetl: no pipeline \"nosuch\" in statemachine/pipelines.toml (it has: orders)"
    );
    let out = postetl(&["input", "orders", "--tables", "ORDRES"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("has no Iceberg table \"ORDRES\""));
    let out = postetl(&["start", "orders", "--tables", "nope"], &[arn]);
    assert_eq!(out.status.code(), Some(2));
    // Usage errors are clap's, with code 2 as well.
    let out = postetl(&["start", "orders"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--state-machine <ARN>"),
        "{}",
        text(&out.stderr)
    );
    let help = text(&postetl(&["--help"], &[]).stdout);
    assert!(
        help.contains("Exit codes:") && help.contains("3  could not reach AWS"),
        "{help}"
    );
    for command in [
        "", "validate", "input", "start", "replay", "compile", "debug", "watch",
    ] {
        let args: Vec<&str> = [command, "--help"]
            .into_iter()
            .filter(|a| !a.is_empty())
            .collect();
        let help = text(&postetl(&args, &[("COLUMNS", "200".into())]).stdout);
        assert!(help.lines().all(|l| l.chars().count() <= 80), "{help}");
    }
    let help = text(&postetl(&["start", "--help"], &[]).stdout);
    let flat = help.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(flat.contains("[env: POSTETL_STATE_MACHINE_ARN=]"), "{help}");
}

#[test]
fn aws_errors_print_once_with_a_hint_and_exit_3() {
    // A port nothing listens on: bind one, note it, let it go.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let env = [
        ("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{port}")),
        ("AWS_REGION", "us-east-1".to_string()),
        ("AWS_ACCESS_KEY_ID", "test".to_string()),
        ("AWS_SECRET_ACCESS_KEY", "test".to_string()),
        (
            "POSTETL_STATE_MACHINE_ARN",
            "arn:aws:states:us-east-1:123456789012:stateMachine:x".to_string(),
        ),
    ];
    let out = postetl(&["start", "orders"], &env);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.starts_with("postetl: StartExecution: "), "{err}");
    assert_eq!(err.matches("postetl:").count(), 1, "{err}");
    assert!(
        err.contains(&format!(
            "hint: could not reach Step Functions; AWS_ENDPOINT_URL is http://127.0.0.1:{port}"
        )),
        "{err}"
    );

    // No credentials anywhere.
    let out = postetl(
        &["start", "orders"],
        &[env[0].clone(), env[1].clone(), env[4].clone()],
    );
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("hint: set AWS_PROFILE"), "{err}");

    // No region.
    let out = postetl(&["watch", "arn:x"], &[]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("hint: set AWS_REGION"), "{err}");
}

#[tokio::test]
async fn replay_and_watch_mocked_executions() {
    let mocks = postetl_tests::repo_root().join("statemachine/mock-config.json");
    let aws = LocalAws::start_with(None, Some(&mocks));
    let workflow = Workflow::deploy(&aws).await;
    let env = |case: &str| {
        vec![
            ("AWS_ENDPOINT_URL", aws.url().to_string()),
            ("AWS_REGION", "us-east-1".to_string()),
            ("AWS_ACCESS_KEY_ID", "test".to_string()),
            ("AWS_SECRET_ACCESS_KEY", "test".to_string()),
            (
                "POSTETL_STATE_MACHINE_ARN",
                format!("{}#{case}", workflow.arn),
            ),
        ]
    };
    let out = postetl(
        &[
            "replay",
            "statemachine/examples/glue-succeeded.json",
            "--name",
            "cli-1",
            "--watch",
        ],
        &env("HappyPath"),
    );
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    assert!(stdout.contains("✓ RunMerges"), "{stdout}");
    assert!(stdout.contains("(2 merges)"), "{stdout}");
    assert!(stdout.contains("status         SUCCEEDED"), "{stdout}");
    assert!(stdout.contains("rows merged    5 inserted"), "{stdout}");
    assert!(
        stdout.contains("checks         6 passed, 0 warned, 0 failed"),
        "{stdout}"
    );
    assert!(
        stdout.contains("(the execution, start to stop)"),
        "{stdout}"
    );
    assert!(stdout.lines().all(|l| l.chars().count() <= 80), "{stdout}");

    // A SQL error: the step is marked failed with the error, never retried, in words. The mock
    // fails both merges; the Map runs them at once, so either may be the one that ends the step.
    let out = postetl(&["start", "orders", "--watch"], &env("MergeSqlError"));
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("✗ RunMerges"), "{stdout}");
    assert!(!stdout.contains("✓ RunMerges"), "{stdout}");
    assert!(
        ["orders", "customers"]
            .iter()
            .any(|merge| stdout.contains(&format!(
                "Merge {merge}: Snowflake.SqlError, failed, not retried (the definition\n"
            )))
            && stdout.contains("        never retries it)\n"),
        "{stdout}"
    );
    assert!(stdout.contains("invalid identifier 'STATUS'"), "{stdout}");
    // Counted against the two merges the Map was given, whether or not the other left an event.
    assert!(
        stdout.contains("failed)") && stdout.contains(" of 2 merges failed)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("error          Snowflake.SqlError (in RunMerges)"),
        "{stdout}"
    );
    assert!(!stdout.contains("retried if transient"), "{stdout}");
    assert_eq!(text(&out.stderr).trim(), "postetl: execution ended FAILED");
    assert!(
        stdout
            .lines()
            .next()
            .unwrap()
            .starts_with("arn:aws:states:us-east-1:123456789012:execution:post-etl:orders-")
    );

    // Throttled twice, then done: said so, and the step succeeded.
    let out = postetl(
        &["start", "orders", "--watch"],
        &env("MergeThrottledThenSucceeds"),
    );
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("✓ RunMerges"), "{stdout}");
    // The mock throttles the Merge state's first two calls, whichever iteration draws them: with
    // full jitter a retry may come before the other merge's first call, so count retries in all.
    let retries = stdout
        .matches("Snowflake.Throttled, retried once, then succeeded")
        .count()
        + 2 * stdout
            .matches("Snowflake.Throttled, retried 2 times, then succeeded")
            .count();
    assert_eq!(retries, 2, "{stdout}");

    // The quality gate: the cause names the rule.
    let out = postetl(&["start", "orders", "--watch"], &env("QualityStop"));
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("✗ CheckDataQuality"), "{stdout}");
    assert!(
        stdout.contains("rule orders_amount_not_null (error): 1 rows with AMOUNT NULL"),
        "{stdout}"
    );
    assert!(
        stdout.contains("checks         5 passed, 0 warned, 1 failed"),
        "{stdout}"
    );
}

/// Mocked cases made here from the project's mock file: a merge Snowflake answered from an earlier
/// run (`fromEarlierRun`), and a dry run whose steps log their statements.
fn labelled_cases() -> serde_json::Value {
    let path = postetl_tests::repo_root().join("statemachine/mock-config.json");
    let mut mocks: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let r = &mut mocks["MockedResponses"];
    let mut earlier = r["Merged"].clone();
    earlier["0"]["Return"]["Payload"]["fromEarlierRun"] = true.into();
    r["MergedOneEarlier"] = earlier;
    let mut plan = r["PlanOk"].clone();
    plan["0"]["Return"]["Payload"]["run"]["dryRun"] = true.into();
    r["PlanDry"] = plan;
    let mut merged = r["Merged"].clone();
    for (n, sql) in [
        ("0", "MERGE INTO ORDERS_DRY"),
        ("1", "MERGE INTO CUSTOMERS_DRY"),
    ] {
        let p = &mut merged[n]["Return"]["Payload"];
        p["dryRunSql"] = sql.into();
        p["rowsInserted"] = 0.into();
        p["rowsUpdated"] = 0.into();
    }
    r["MergedDry"] = merged;
    let mut refreshed = r["Refreshed"].clone();
    refreshed["0-1"]["Return"]["Payload"]["refreshed"] = false.into();
    refreshed["0-1"]["Return"]["Payload"]["statement"] = "ALTER ICEBERG TABLE T REFRESH".into();
    r["RefreshedDry"] = refreshed;
    let cases = &mut mocks["StateMachines"]["post-etl"]["TestCases"];
    let mut case = cases["HappyPath"].clone();
    case["Merge"] = "MergedOneEarlier".into();
    cases["EarlierRun"] = case.clone();
    case["Plan"] = "PlanDry".into();
    case["Merge"] = "MergedDry".into();
    case["RefreshIcebergTable"] = "RefreshedDry".into();
    cases["DryRun"] = case;
    mocks
}

#[tokio::test]
async fn earlier_answers_and_dry_runs_are_labelled() {
    let dir = std::env::temp_dir().join(format!("postetl-cli-mocks-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mocks = dir.join("mock-config.json");
    std::fs::write(&mocks, labelled_cases().to_string()).unwrap();
    let aws = LocalAws::start_with(None, Some(&mocks));
    let workflow = Workflow::deploy(&aws).await;
    let env = |case: &str| {
        vec![
            ("AWS_ENDPOINT_URL", aws.url().to_string()),
            ("AWS_REGION", "us-east-1".to_string()),
            ("AWS_ACCESS_KEY_ID", "test".to_string()),
            ("AWS_SECRET_ACCESS_KEY", "test".to_string()),
            (
                "POSTETL_STATE_MACHINE_ARN",
                format!("{}#{case}", workflow.arn),
            ),
        ]
    };
    let out = postetl(&["start", "orders", "--watch"], &env("EarlierRun"));
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    assert!(
        stdout.contains("✓ RunMerges")
            && stdout.contains("(2 merges, 1 answered by an earlier run)"),
        "{stdout}"
    );
    // The merge answered from before is not counted as this run's rows.
    assert!(
        stdout.contains("rows merged    2 inserted, 0 updated, 0 deleted (1 merges); 1 answered"),
        "{stdout}"
    );
    assert!(
        stdout.contains("earlier run, not counted: orders"),
        "{stdout}"
    );

    let out = postetl(&["start", "orders", "--dry-run", "--watch"], &env("DryRun"));
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("status         SUCCEEDED (dry run: statements logged, no data changed)"),
        "{stdout}"
    );
    assert!(!stdout.contains("rows merged"), "{stdout}");
    let sql = stdout
        .split_once("dry run: the statements a real run would send\n")
        .map(|(_, s)| s)
        .unwrap_or_else(|| panic!("no dry-run SQL in\n{stdout}"));
    for statement in [
        "ALTER ICEBERG TABLE T REFRESH",
        "MERGE INTO ORDERS_DRY",
        "MERGE INTO CUSTOMERS_DRY",
    ] {
        assert!(
            sql.contains(statement),
            "{statement} missing from\n{stdout}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn a_long_step_shows_a_live_line() {
    let mocks = postetl_tests::repo_root().join("statemachine/mock-config.json");
    let aws = LocalAws::start_with(None, Some(&mocks));
    let workflow = Workflow::deploy(&aws).await;
    let input = postetl_cli::console_input("orders", false, &[], false);
    let watch = |live: bool| {
        let workflow = &workflow;
        let input = &input;
        let definition = postetl_cli::Definition::parse(&postetl_tests::workflow::definition(
            &workflow.topic_arn,
        ));
        async move {
            let name = format!("live-{live}");
            let execution = workflow.start_case("LongMergeLoop", &name, input).await;
            let options = postetl_cli::Options {
                poll: std::time::Duration::from_millis(100),
                live,
                quiet_every: std::time::Duration::ZERO,
                ..Default::default()
            };
            let mut out = Vec::new();
            let summary =
                postetl_cli::watch(&workflow.sfn, &execution, definition, &mut out, &options)
                    .await
                    .unwrap();
            assert_eq!(summary.status, "SUCCEEDED");
            String::from_utf8(out).unwrap()
        }
    };
    // On a terminal: a line rewritten in place, cleared before the step's own line.
    let out = watch(true).await;
    assert!(out.contains("\r\u{1b}[2K  … RunMerges"), "{out:?}");
    assert!(out.contains("polls"), "{out:?}");
    assert!(out.contains("\r\u{1b}[2K  ✓ RunMerges"), "{out:?}");
    // Elsewhere: plain lines.
    let out = watch(false).await;
    assert!(!out.contains('\r'), "{out:?}");
    assert!(out.contains("  … RunMerges still running: "), "{out}");
    assert!(out.contains("✓ RunMerges"), "{out}");
}

#[tokio::test]
async fn retries_timeouts_and_poll_limits_in_words() {
    let mocks = postetl_tests::repo_root().join("statemachine/mock-config.json");
    let aws = LocalAws::start_with(None, Some(&mocks));
    let workflow = Workflow::deploy(&aws).await;
    let run = |case: &str| {
        let env = [
            ("AWS_ENDPOINT_URL", aws.url().to_string()),
            ("AWS_REGION", "us-east-1".to_string()),
            ("AWS_ACCESS_KEY_ID", "test".to_string()),
            ("AWS_SECRET_ACCESS_KEY", "test".to_string()),
            (
                "POSTETL_STATE_MACHINE_ARN",
                format!("{}#{case}", workflow.arn),
            ),
        ];
        let out = postetl(&["start", "orders", "--watch"], &env);
        let stdout = text(&out.stdout);
        (
            out.status.code(),
            stdout.split_whitespace().collect::<Vec<_>>().join(" "),
            stdout,
        )
    };
    // Lambda's own hiccup: retried as AWS recommends, then fine.
    let (code, flat, stdout) = run("LambdaServiceErrorRetried");
    assert_eq!(code, Some(0), "{stdout}");
    // The mock's first answer goes to whichever table's iteration asks first.
    assert!(flat.contains("! RefreshIcebergTable LAKE.RAW."), "{stdout}");
    assert!(
        flat.contains(": Lambda.ServiceException, retried once, then succeeded Lambda was unable to run the function"),
        "{stdout}"
    );
    // A function timeout: never retried by the definition, and said so.
    let (code, flat, stdout) = run("LambdaUnknownNotRetried");
    assert_eq!(code, Some(1), "{stdout}");
    assert!(flat.contains("✗ RefreshIcebergTables"), "{stdout}");
    assert!(
        flat.contains("Lambda.Unknown, failed, not retried (the definition never retries it) The function timed out after 300 seconds"),
        "{stdout}"
    );
    // A merge that never ends: the poll loop's limit, with the loops counted on the step.
    let (code, flat, stdout) = run("MergePollLimit");
    assert_eq!(code, Some(1), "{stdout}");
    assert!(flat.contains("✗ RunMerges"), "{stdout}");
    assert!(flat.contains("Workflow.PollLimitExceeded"), "{stdout}");
    assert!(flat.contains(" polls)"), "{stdout}");
}
