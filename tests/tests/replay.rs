//! Recorded Glue events replayed through the real state machine definition on local Step
//! Functions (moto's ASL interpreter), with the real Lambda binaries, local Glue and Secrets
//! Manager, and the Snowflake emulator. Driven only through the Step Functions API.

use postetl_tests::TestKey;
use postetl_tests::workflow::{Finished, Workflow};
use postetl_tests::world::{ACCOUNT, LAMBDA_ROLE, LambdaAuth, SECRET_ID, USER, World};
use serde_json::{Value, json};
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(180);

fn example(name: &str) -> Value {
    let path = postetl_tests::repo_root()
        .join("statemachine/examples")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

async fn world() -> (World, Workflow) {
    world_using(LambdaAuth::Secret).await
}

/// Replays the sample Glue event for another job run and waits for the execution to end.
async fn replay_run(workflow: &Workflow, name: &str, job_run_id: &str) -> Finished {
    let execution = workflow
        .start(name, &postetl_tests::workflow::glue_event(job_run_id))
        .await;
    workflow.wait(&execution, LIMIT).await
}

/// Glue writes a second snapshot of the orders: order 2 gone, order 3 new.
async fn glue_writes_second_snapshot(world: &World) {
    world
        .glue_writes_orders(
            2,
            &[(1, 100, "NEW", "10.00", 600), (3, 102, "NEW", "5.00", 30)],
        )
        .await;
}

async fn world_using(auth: LambdaAuth) -> (World, Workflow) {
    let log = std::env::temp_dir().join(format!("postetl-lambdas-{}.log", std::process::id()));
    let world = World::with_lambdas_using(auth, Some(log)).await;
    let workflow = Workflow::deploy(&world.aws).await;
    (world, workflow)
}

fn path_of(finished: &Finished) -> Vec<&str> {
    let interesting = [
        "Plan",
        "ResumeWarehouse",
        "RefreshIcebergTables",
        "RunMerges",
        "CheckDataQuality",
        "QualityGate",
        "RefreshMarts",
        "SuspendWarehouse",
        "SuspendAfterFailure",
        "NotifyFailure",
        "NothingChanged",
        "Failed",
        "Succeeded",
    ];
    finished
        .states
        .iter()
        .map(String::as_str)
        .filter(|s| interesting.contains(s))
        .collect()
}

#[tokio::test]
async fn a_glue_event_brings_snowflake_up_to_date_once() {
    let (world, workflow) = world().await;
    world
        .glue_writes_orders(
            2,
            &[
                (1, 100, "NEW", "10.00", 600),
                (2, 101, "PAID", "25.50", 120),
                (2, 101, "SHIPPED", "25.50", 60),
                (3, 100, "NEW", "99.90", 30),
            ],
        )
        .await;
    let event = example("glue-succeeded.json");
    let execution = workflow.start("glue-run-1", &event).await;
    let finished = workflow.wait(&execution, LIMIT).await;
    assert_eq!(finished.status, "SUCCEEDED", "{finished:?}");
    assert_eq!(
        path_of(&finished),
        [
            "Plan",
            "ResumeWarehouse",
            "RefreshIcebergTables",
            "RunMerges",
            "CheckDataQuality",
            "QualityGate",
            "RefreshMarts",
            "SuspendWarehouse",
            "Succeeded"
        ]
    );
    assert_eq!(finished.entered("RefreshIcebergTable"), 2);
    assert_eq!(finished.entered("Merge"), 2);

    let e = &world.emulator;
    assert_eq!(
        e.sql("SELECT COUNT(*) FROM ANALYTICS.CORE.ORDERS").await[0][0],
        3
    );
    assert_eq!(
        e.sql("SELECT STATUS FROM ANALYTICS.CORE.ORDERS WHERE ORDER_ID = 2")
            .await[0][0],
        "SHIPPED"
    );
    assert_eq!(
        e.sql("SELECT COUNT(*) FROM ANALYTICS.CORE.CUSTOMERS").await[0][0],
        2
    );
    assert_eq!(
        e.sql("SELECT COUNT(*) FROM ANALYTICS.AUDIT.DQ_RESULTS")
            .await[0][0],
        6
    );
    assert_eq!(
        e.sql("SELECT COUNT(*) FROM ANALYTICS.MARTS.CUSTOMER_VALUE")
            .await[0][0],
        2
    );
    let wh = e.warehouses().await[0].clone();
    assert_eq!(
        (
            wh["state"].as_str(),
            wh["size"].as_str(),
            wh["resume_count"].as_u64()
        ),
        (Some("SUSPENDED"), Some("X-Small"), Some(1))
    );
    let output = finished.output.unwrap();
    assert_eq!(output["quality"]["result"]["passed"], 6);
    assert_eq!(output["merges"][0]["rowsInserted"], 3);
    assert_eq!(output["merges"][0]["fromEarlierRun"], false);

    // The run ledger: one row per step item and one for the run, written by the steps.
    let ledger = |execution: &str| {
        format!(
            "SELECT STEP, COUNT(*), SUM(COALESCE(ROWS_INSERTED, 0)), MIN(STATUS), MAX(STATUS), \
             BOOL_OR(FROM_EARLIER_RUN) FROM ANALYTICS.AUDIT.RUN_LEDGER WHERE EXECUTION = '{execution}' \
             GROUP BY STEP ORDER BY STEP"
        )
    };
    let row = |step: &str, count: u64, inserted: u64, status: &str| {
        vec![
            json!(step),
            json!(count),
            json!(inserted),
            json!(status),
            json!(status),
            json!(false),
        ]
    };
    assert_eq!(
        e.sql(&ledger(&execution)).await,
        vec![
            row("dq-check", 6, 0, "done"),
            row("refresh-iceberg", 2, 0, "done"),
            row("refresh-marts", 3, 0, "done"),
            row("run", 1, 0, "succeeded"),
            row("run-merge", 2, 5, "done"),
        ]
    );
    let run_row = e
        .sql(&format!(
            "SELECT GLUE_JOB, GLUE_RUN_ID, WAREHOUSE_SECONDS, STARTED_AT <= ENDED_AT \
             FROM ANALYTICS.AUDIT.RUN_LEDGER WHERE EXECUTION = '{execution}' AND STEP = 'run'"
        ))
        .await;
    assert_eq!(run_row[0][0], json!("orders-to-iceberg"), "{run_row:?}");
    assert_eq!(run_row[0][1], event["detail"]["jobRunId"], "{run_row:?}");
    assert!(
        run_row[0][2].as_f64().is_some_and(|s| s > 0.0),
        "{run_row:?}"
    );
    assert_eq!(run_row[0][3], json!(true), "{run_row:?}");

    // EventBridge delivers the same event again. Glue has written nothing since, so the replay
    // ends before the warehouse: no RESUME, no statement, nothing twice.
    let again = workflow.start("glue-run-1-replayed", &event).await;
    let finished = workflow.wait(&again, LIMIT).await;
    assert_eq!(finished.status, "SUCCEEDED", "{finished:?}");
    assert_eq!(path_of(&finished), ["Plan", "NothingChanged"]);
    let plan = &finished.output.as_ref().unwrap()["plan"];
    assert_eq!(plan["changedSince"], json!(execution), "{plan}");
    assert_eq!(e.warehouses().await[0]["resume_count"], 1);

    // Run again by hand for the same job run (its run key), forced: every step runs, and every
    // data statement is answered from the first run's requests instead of running twice.
    let job_run = event["detail"]["jobRunId"].as_str().unwrap();
    let input = json!({"pipeline": "orders", "force": true,
        "runKey": format!("glue:orders-to-iceberg:{job_run}")});
    let again = workflow.start("glue-run-1-forced", &input).await;
    let finished = workflow.wait(&again, LIMIT).await;
    assert_eq!(finished.status, "SUCCEEDED", "{finished:?}");
    assert_eq!(finished.entered("RefreshIcebergTable"), 2);
    assert_eq!(
        e.executions_of("MERGE INTO").await,
        2,
        "one per merge, across both executions"
    );
    assert_eq!(
        e.sql("SELECT COUNT(*) FROM ANALYTICS.AUDIT.DQ_RESULTS")
            .await[0][0],
        6
    );
    // The forced run's merges were answered from the first run's requests, and say so.
    let output = finished.output.unwrap();
    assert_eq!(output["merges"][0]["fromEarlierRun"], true, "{output}");
    let replayed = e.sql(&ledger(&again)).await;
    let merges = replayed.iter().find(|r| r[0] == "run-merge").unwrap();
    assert_eq!(merges[5], json!(true), "{replayed:?}");
    // The forced run acts on the warehouse as it is now (fresh request ids for RESUME and SUSPEND):
    // it resumes it for its reads and suspends it again; every data statement answers from the first run.
    let wh = e.warehouses().await[0].clone();
    assert_eq!(
        (wh["state"].as_str(), wh["resume_count"].as_u64()),
        (Some("SUSPENDED"), Some(2))
    );
}

#[tokio::test]
async fn rejected_events_alert_and_fail_without_touching_snowflake() {
    let (world, workflow) = world().await;
    for (name, file, error) in [
        ("failed-run", "glue-failed.json", "Input.NotSucceeded"),
        ("timeout-run", "glue-timeout.json", "Input.NotSucceeded"),
        ("unknown-job", "glue-unknown-job.json", "Input.UnknownJob"),
    ] {
        let execution = workflow.start(name, &example(file)).await;
        let finished = workflow.wait(&execution, LIMIT).await;
        assert_eq!(finished.status, "FAILED");
        assert_eq!(finished.error.as_deref(), Some(error), "{finished:?}");
        assert_eq!(path_of(&finished), ["Plan", "NotifyFailure", "Failed"]);
    }
    let execution = workflow
        .start("console-typo", &json!({"pipeline": "ordres"}))
        .await;
    let finished = workflow.wait(&execution, LIMIT).await;
    assert_eq!(finished.error.as_deref(), Some("Input.UnknownPipeline"));
    assert_eq!(world.emulator.log().await["executions"], json!([]));
}

#[tokio::test]
async fn a_failed_quality_gate_stops_before_the_marts_and_suspends() {
    let (world, workflow) = world().await;
    // Glue wrote an order without an amount: the not_null rule (severity error) fails.
    world
        .glue_writes_orders(2, &[(1, 100, "NEW", "10.00", 600), (5, 101, "NEW", "", 5)])
        .await;
    let execution = workflow
        .start("bad-data", &example("glue-succeeded.json"))
        .await;
    let finished = workflow.wait(&execution, LIMIT).await;
    assert_eq!(finished.status, "FAILED");
    assert_eq!(finished.error.as_deref(), Some("DataQuality.Failed"));
    assert!(
        finished
            .cause
            .as_deref()
            .unwrap_or("")
            .contains("orders_amount_not_null"),
        "{finished:?}"
    );
    assert_eq!(
        path_of(&finished),
        [
            "Plan",
            "ResumeWarehouse",
            "RefreshIcebergTables",
            "RunMerges",
            "CheckDataQuality",
            "QualityGate",
            "SuspendAfterFailure",
            "NotifyFailure",
            "Failed"
        ]
    );
    let dynamic = world.emulator.admin_get("_emulator/dynamic_tables").await;
    assert_eq!(
        dynamic["dynamic_tables"][0]["refresh_count"], 1,
        "marts untouched"
    );
    assert_eq!(world.emulator.warehouses().await[0]["state"], "SUSPENDED");
}

#[tokio::test]
async fn a_dry_run_from_the_console_changes_nothing() {
    let (world, workflow) = world().await;
    // Yesterday's run left the modelled table in good shape; the dry run checks it as it is.
    world
        .emulator
        .sql("INSERT INTO ANALYTICS.CORE.ORDERS VALUES (1, 100, 'NEW', 10.00, CAST(NOW() AS TIMESTAMP) - INTERVAL 1 HOUR)")
        .await;
    let execution = workflow
        .start("dry", &example("console-orders-dry-run.json"))
        .await;
    let finished = workflow.wait(&execution, LIMIT).await;
    assert_eq!(finished.status, "SUCCEEDED", "{finished:?}");
    let e = &world.emulator;
    assert_eq!(e.executions_of("MERGE").await, 0);
    assert_eq!(e.executions_of("ALTER ICEBERG").await, 0);
    assert_eq!(e.executions_of("INSERT").await, 0, "no audit rows either");
    let wh = e.warehouses().await[0].clone();
    assert_eq!(
        (wh["state"].as_str(), wh["size"].as_str()),
        (Some("SUSPENDED"), Some("X-Small")),
        "resumed for the reads, then suspended"
    );
    // The statements a dry run logged are in the steps' results (console, history), not carried
    // in the state to the end.
    let results = task_results(&workflow, &execution).await;
    let merge = results
        .iter()
        .find(|r| r["Payload"]["merge"] == "orders")
        .expect("the orders merge's result");
    assert!(
        merge["Payload"]["dryRunSql"]
            .as_str()
            .unwrap()
            .starts_with("MERGE INTO")
    );
    let marts = results
        .iter()
        .find(|r| r["Payload"]["refreshed"].is_array())
        .expect("the marts' result");
    assert_eq!(marts["Payload"]["skipped"].as_array().unwrap().len(), 3);
    let output = finished.output.unwrap();
    assert!(!output.to_string().contains("MERGE INTO"), "{output}");
    assert_eq!(output["refresh"], json!([false]), "logged, not run");
}

#[tokio::test]
async fn a_dry_run_whose_checks_fail_is_cleaned_up_and_pages_no_one() {
    // A fresh stack: the modelled tables are empty, so the dry run's `error` rules fail.
    let (world, workflow) = world().await;
    let execution = workflow
        .start("dry-fresh", &example("console-orders-dry-run.json"))
        .await;
    let finished = workflow.wait(&execution, LIMIT).await;
    assert_eq!(finished.status, "FAILED", "{finished:?}");
    assert_eq!(finished.entered("SuspendAfterFailure"), 1, "cleaned up");
    assert_eq!(finished.entered("AlertUnlessDryRun"), 1);
    assert_eq!(
        finished.entered("NotifyFailure"),
        0,
        "no alert for a dry run"
    );
    let wh = world.emulator.warehouses().await[0].clone();
    assert_eq!(wh["state"], "SUSPENDED", "{wh}");
}

#[tokio::test]
async fn tables_narrow_the_whole_run_to_what_depends_on_them() {
    let (world, workflow) = world().await;
    let input = json!({"pipeline": "orders", "tables": ["CUSTOMERS"]});
    let execution = workflow.start("only-customers", &input).await;
    let finished = workflow.wait(&execution, LIMIT).await;
    assert_eq!(finished.status, "SUCCEEDED", "{finished:?}");
    let e = &world.emulator;
    assert_eq!(e.executions_of("ALTER ICEBERG TABLE").await, 1);
    assert_eq!(
        e.executions_of(r#"ALTER ICEBERG TABLE "LAKE"."RAW"."CUSTOMERS""#)
            .await,
        1
    );
    assert_eq!(
        e.executions_of("MERGE INTO ANALYTICS.CORE.CUSTOMERS").await,
        1
    );
    assert_eq!(
        e.executions_of(r#"MERGE INTO "ANALYTICS"."CORE"."ORDERS""#)
            .await,
        0
    );
    // No check: every table rule is on ORDERS, which this run does not write, and the custom rule
    // depends on the orders merge. Of the marts, only customer_value reads the customers.
    let output = finished.output.unwrap();
    assert_eq!(output["plan"]["checks"], 0, "{output}");
    assert_eq!(output["quality"]["result"]["passed"], 0, "{output}");
    assert_eq!(
        output["marts"]["result"]["refreshed"],
        json!(["customer_value"]),
        "{output}"
    );
}

/// The results of the execution's tasks, as the history records them.
async fn task_results(workflow: &Workflow, execution: &str) -> Vec<Value> {
    let history = workflow
        .sfn
        .get_execution_history()
        .execution_arn(execution)
        .max_results(1000)
        .send()
        .await
        .unwrap();
    history
        .events()
        .iter()
        .filter_map(|e| e.task_succeeded_event_details()?.output())
        .filter_map(|o| serde_json::from_str(o).ok())
        .collect()
}

async fn has_entered(workflow: &Workflow, execution: &str, state: &str) -> bool {
    let history = workflow
        .sfn
        .get_execution_history()
        .execution_arn(execution)
        .max_results(1000)
        .send()
        .await
        .unwrap();
    history.events().iter().any(|e| {
        e.state_entered_event_details()
            .is_some_and(|d| d.name() == state)
    })
}

#[tokio::test]
async fn runs_of_one_pipeline_queue_and_a_waiting_run_is_superseded_by_a_newer_one() {
    let (world, workflow) = world().await;
    // The first run's two MERGEs answer 6 s late, so it is surely still running while the others
    // plan, however loaded the machine is.
    world
        .emulator
        .inject([postetl_tests::Fault(json!({"on": "submit", "statement_contains": "MERGE", "action": "delay", "seconds": 6, "times": 2}))])
        .await;
    let first = workflow
        .start("run-a", &postetl_tests::workflow::glue_event("jr_a"))
        .await;
    let second = workflow
        .start("run-b", &postetl_tests::workflow::glue_event("jr_b"))
        .await;
    let mut waited = false;
    for _ in 0..100 {
        if has_entered(&workflow, &second, "WaitForPreviousRun").await {
            waited = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(waited, "the second run waits behind the first");
    // Forced: Glue wrote nothing since run-a, and a change-aware run would end as unchanged.
    let third = workflow
        .start("run-c", &json!({"pipeline": "orders", "force": true}))
        .await;

    let a = workflow.wait(&first, LIMIT).await;
    let b = workflow.wait(&second, LIMIT).await;
    let c = workflow.wait(&third, LIMIT).await;
    assert_eq!(
        (a.status.as_str(), b.status.as_str(), c.status.as_str()),
        ("SUCCEEDED", "SUCCEEDED", "SUCCEEDED")
    );
    assert_eq!(a.entered("WaitForPreviousRun"), 0);
    assert_eq!(b.entered("Superseded"), 1, "{:?}", b.states);
    assert_eq!(b.entered("RunMerges"), 0);
    assert!(c.entered("WaitForPreviousRun") >= 1);
    assert_eq!(c.entered("RunMerges"), 1);

    // The MERGEs of the two runs that did the work never overlapped.
    let log = world.emulator.log().await;
    let merges: Vec<&Value> = log["executions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["statement"].as_str().unwrap().starts_with("MERGE"))
        .filter(|e| {
            !e["query_tag"]
                .as_str()
                .unwrap()
                .contains(r#""item":"ledger""#)
        })
        .collect();
    let span = |run: &str| {
        let mine: Vec<&&Value> = merges
            .iter()
            .filter(|e| e["query_tag"].as_str().unwrap().contains(run))
            .collect();
        assert_eq!(mine.len(), 2, "{run}: {mine:?}");
        let start = mine
            .iter()
            .map(|e| e["started"].as_f64().unwrap())
            .fold(f64::MAX, f64::min);
        let end = mine
            .iter()
            .map(|e| e["ended"].as_f64().unwrap())
            .fold(0.0, f64::max);
        (start, end)
    };
    let (a_span, c_span) = (span(":run-a"), span(":run-c"));
    assert!(
        a_span.1 <= c_span.0,
        "run-a {a_span:?} and run-c {c_span:?} overlap"
    );

    // The superseded run's report says so; it wrote nothing to the ledger and cost no credits.
    let config = pipeline::Config::load(&world.config_path).unwrap();
    let ledger = postetl_cli::report::LedgerSource {
        client: &world.env.snowflake,
        table: &config.ledger_table,
        warehouse: "POSTETL_WH",
    };
    let report = postetl_cli::report::fetch(&workflow.sfn, &b.arn, Some(ledger), &config.prices)
        .await
        .unwrap();
    assert!(report.superseded_by.is_some(), "{report:?}");
    assert_eq!(report.statements, Some(vec![]));
    assert!(report.warehouse.is_none());
    assert_eq!(report.cost.credits, 0.0);
    assert!(report.html().contains("Superseded"));
}

#[tokio::test]
async fn warm_lambdas_pick_up_a_rotated_key_after_one_401() {
    let (world, workflow) = world().await;
    let e = &world.emulator;
    let finished = replay_run(&workflow, "before", "jr_before").await;
    assert_eq!(finished.status, "SUCCEEDED", "{finished:?}");
    assert!(e.rejected_requests().await.is_empty());

    // Rotation while the Lambdas are warm and hold JWTs of the old key: RSA_PUBLIC_KEY_2 gets the
    // new key, the secret moves to it, RSA_PUBLIC_KEY is unset.
    let new = TestKey::generate();
    e.set_keys(
        "XY12345",
        "SVC_POSTETL",
        Some(&world.key.public_pem),
        Some(&new.public_pem),
    )
    .await;
    aws_sdk_secretsmanager::Client::new(&world.aws.sdk_config().await)
        .put_secret_value()
        .secret_id(SECRET_ID)
        .secret_string(new.secret_json(ACCOUNT, USER, None).expose())
        .send()
        .await
        .unwrap();
    let slots = e
        .set_keys("XY12345", "SVC_POSTETL", None, Some(&new.public_pem))
        .await;
    glue_writes_second_snapshot(&world).await;
    let finished = replay_run(&workflow, "after", "jr_after").await;
    assert_eq!(finished.status, "SUCCEEDED", "{finished:?}");
    let rejected = e.rejected_requests().await;
    assert!(
        !rejected.is_empty(),
        "the warm Lambdas' old tokens were refused"
    );
    assert!(
        rejected.iter().all(|r| r["code"] == "390144"),
        "{rejected:?}"
    );
    assert_eq!(
        e.sql("SELECT COUNT(*) FROM ANALYTICS.CORE.ORDERS").await[0][0],
        3
    );

    // A botched rotation: the secret's key matches neither registered key. The run fails by name,
    // and the cause says which key was sent.
    // Glue writes again, so that the run has work to do (a run with nothing changed sends nothing).
    world
        .glue_writes_orders(3, &[(1, 100, "PAID", "10.00", 700)])
        .await;
    let stranger = TestKey::generate();
    e.set_keys("XY12345", "SVC_POSTETL", Some(&stranger.public_pem), None)
        .await;
    let finished = replay_run(&workflow, "botched", "jr_botched").await;
    assert_eq!(finished.status, "FAILED");
    assert_eq!(
        finished.error.as_deref(),
        Some("Snowflake.Unauthorized"),
        "{finished:?}"
    );
    let cause = finished.cause.clone().unwrap_or_default();
    let sent = slots["rsa_public_key_2_fp"].as_str().unwrap();
    assert!(
        cause.contains(sent) && cause.contains("RSA_PUBLIC_KEY_2_FP"),
        "{cause}"
    );
}

#[tokio::test]
async fn keyless_lambdas_run_once_snowflake_trusts_their_role_and_issuer() {
    keyless_run(LambdaAuth::Keyless).await;
}

#[tokio::test]
async fn keyless_signed_request_is_refused_unless_the_emulator_accepts_it_as_unverified() {
    keyless_run(LambdaAuth::KeylessSignedRequest).await;
}

/// Seed 001 with the real Lambdas: refused until the service user trusts their role, then a run
/// that authenticates every request with workload identity in the form `auth` names.
async fn keyless_run(auth: LambdaAuth) {
    let (world, workflow) = world_using(auth).await;
    let e = &world.emulator;
    let role = world.role.as_ref().unwrap();
    let (issuer, caller, form) = if auth == LambdaAuth::Keyless {
        let issuer = e.enable_outbound_federation("123456789012").await;
        (Some(issuer), LAMBDA_ROLE.to_string(), "jwt")
    } else {
        // Snowflake documents only the JWT for the SQL API, so the emulator refuses the signed
        // request as Snowflake would, until told to accept it as an unverified path.
        let finished = replay_run(&workflow, "undocumented", "jr_undocumented").await;
        assert_eq!(finished.status, "FAILED");
        assert_eq!(finished.error.as_deref(), Some("Snowflake.Unauthorized"));
        let cause = finished.cause.clone().unwrap_or_default();
        assert!(cause.contains("GetWebIdentityToken"), "{cause}");
        e.configure(json!({"accept_wif_signed_request": true}))
            .await;
        (None, role.assumed_role_arn.clone(), "signed_request")
    };

    // Part I: the role is verified, but no Snowflake user trusts it yet.
    let finished = replay_run(&workflow, "untrusted", "jr_untrusted").await;
    assert_eq!(finished.status, "FAILED");
    assert_eq!(
        finished.error.as_deref(),
        Some("Snowflake.Unauthorized"),
        "{finished:?}"
    );
    let expected = format!(
        "Unable to find an associated Snowflake user for the verified AWS Caller Identity with ARN '{caller}'"
    );
    let cause = finished.cause.clone().unwrap_or_default();
    assert!(cause.contains(&expected), "{cause}");
    assert_eq!(e.log().await["executions"], json!([]));

    // Part II: the service user trusts the role; the same Lambdas, still warm, now succeed.
    e.trust_aws_role("XY12345", "SVC_POSTETL", LAMBDA_ROLE, issuer.as_deref())
        .await;
    glue_writes_second_snapshot(&world).await;
    let finished = replay_run(&workflow, "trusted", "jr_trusted").await;
    assert_eq!(finished.status, "SUCCEEDED", "{finished:?}");
    // The first run merged nothing: the orders are the second snapshot's.
    assert_eq!(
        e.sql("SELECT COUNT(*) FROM ANALYTICS.CORE.ORDERS").await[0][0],
        2
    );
    let accepted = e.accepted_requests().await;
    assert!(accepted.len() > 5, "{accepted:?}");
    assert!(
        accepted
            .iter()
            .all(|r| r["token_type"] == "WORKLOAD_IDENTITY_FEDERATION" && r["wif_form"] == form),
        "{accepted:?}"
    );
}
