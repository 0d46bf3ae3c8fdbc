//! The `postetl` binary as a user runs it: one clear line and a non-zero status on error.

use postetl_tests::LocalAws;
use postetl_tests::workflow::Workflow;
use std::process::{Command, Output};

fn postetl(args: &[&str], env: &[(&str, String)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_postetl"));
    command.args(args).current_dir(postetl_tests::repo_root());
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().unwrap()
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
    assert_eq!(out.status.code(), Some(1));
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
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).starts_with("postetl: reading no/such/event.json"));
}

#[tokio::test]
async fn replay_and_watch_a_mocked_execution() {
    let mocks = postetl_tests::repo_root().join("statemachine/mock-config.json");
    let aws = LocalAws::start_with(None, Some(&mocks));
    let workflow = Workflow::deploy(&aws).await;
    let env = [
        ("AWS_ENDPOINT_URL", aws.url().to_string()),
        ("AWS_REGION", "us-east-1".to_string()),
        ("AWS_ACCESS_KEY_ID", "test".to_string()),
        ("AWS_SECRET_ACCESS_KEY", "test".to_string()),
        (
            "POSTETL_STATE_MACHINE_ARN",
            format!("{}#HappyPath", workflow.arn),
        ),
    ];
    let out = postetl(
        &[
            "replay",
            "statemachine/examples/glue-succeeded.json",
            "--name",
            "cli-1",
            "--watch",
        ],
        &env,
    );
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    assert!(stdout.contains("✓ RunMerges"), "{stdout}");
    assert!(stdout.contains("status         SUCCEEDED"), "{stdout}");
    assert!(
        stdout.contains("checks         6 passed, 0 warned, 0 failed"),
        "{stdout}"
    );

    let failing = [(
        "POSTETL_STATE_MACHINE_ARN",
        format!("{}#MergeSqlError", workflow.arn),
    )];
    let env: Vec<_> = env[..4].iter().cloned().chain(failing).collect();
    let out = postetl(&["start", "orders", "--name", "cli-2", "--watch"], &env);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).contains("error          Snowflake.SqlError"));
    assert_eq!(text(&out.stderr).trim(), "postetl: execution ended FAILED");
}
