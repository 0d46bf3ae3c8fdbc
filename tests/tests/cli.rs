//! The `postetl` command line against the local world: the real state machine on local Step
//! Functions, the real Lambdas, local AWS and the Snowflake emulator.

use postetl_tests::workflow::{Workflow, glue_event};
use postetl_tests::world::World;
use std::time::Duration;

/// One statement as a comparable line: whitespace runs as one space, values known only at run
/// time as `'…'`.
fn normal(sql: &str) -> String {
    let one = sql.split_whitespace().collect::<Vec<_>>().join(" ");
    // Values known only at run time: the Iceberg metadata file, the warehouse size to restore.
    for (head, marker) in [
        ("ALTER ICEBERG TABLE", " REFRESH '"),
        ("ALTER WAREHOUSE", " SET WAREHOUSE_SIZE = '"),
    ] {
        if let Some(at) = one.find(marker).filter(|_| one.starts_with(head)) {
            return format!("{}{marker}…'", &one[..at]);
        }
    }
    one
}

/// The statements of a `postetl compile` script with the step each belongs to.
fn compiled(script: &str) -> Vec<(usize, String)> {
    let mut step = 0;
    let mut out = Vec::new();
    let mut current = String::new();
    for line in script.lines() {
        if let Some(rest) = line.strip_prefix("-- ") {
            if let Some((n, _)) = rest.split_once(". ")
                && let Ok(n) = n.parse()
            {
                step = n;
            }
            continue;
        }
        current.push_str(line);
        current.push('\n');
        if line.ends_with(';') {
            out.push((step, normal(current.trim_end().trim_end_matches(';'))));
            current.clear();
        }
    }
    out
}

#[tokio::test]
async fn compile_prints_what_a_run_sends_in_order() {
    let world = World::with_lambdas(None).await;
    let workflow = Workflow::deploy(&world.aws).await;
    world
        .glue_writes_orders(2, &[(1, 100, "SHIPPED", "10.00", 60)])
        .await;
    let execution = workflow
        .start("compile-vs-run", &glue_event("jr_compile"))
        .await;
    let finished = workflow.wait(&execution, Duration::from_secs(120)).await;
    assert_eq!(finished.status, "SUCCEEDED", "{finished:?}");

    let config = pipeline::Config::load(&world.config_path).unwrap();
    let script = postetl_cli::compile::script(&config, config.pipeline("orders").unwrap()).unwrap();
    let compiled = compiled(&script);
    let log = world.emulator.log().await;
    let mut step = 0;
    let mut sent = 0;
    let mut ledger = 0;
    assert!(script.contains(&format!("MERGE INTO {} records it", config.ledger_table)));
    for e in log["executions"].as_array().unwrap() {
        let sql = normal(e["statement"].as_str().unwrap());
        // The run ledger's writes: named in the script's header, not listed one by one.
        if e["query_tag"]
            .as_str()
            .is_some_and(|t| t.contains(r#""item":"ledger""#))
        {
            // Its table, or the schema made for it the first time.
            let table = config.ledger_table.to_string();
            let schema = table.rsplit_once('.').unwrap().0;
            assert!(sql.contains(&table) || sql.contains(schema), "{sql}");
            ledger += 1;
            continue;
        }
        // Setup by the test itself, and reads that follow a task run (named in the script).
        if sql.contains("TASK_HISTORY") || e["query_tag"].is_null() {
            continue;
        }
        sent += 1;
        // Parallel steps send in any order within the step; the steps come in the script's order.
        let found = compiled
            .iter()
            .filter(|(s, c)| *c == sql && *s >= step)
            .map(|(s, _)| *s)
            .min();
        let Some(s) = found else {
            panic!("sent but not in `postetl compile` (from step {step} on):\n{sql}\n\n{script}");
        };
        step = s;
    }
    assert!(
        sent >= 15,
        "only {sent} statements of the run were found in the log: {log}"
    );
    assert!(ledger >= 5, "{ledger} ledger writes");
}

/// The `postetl` binary (built by `cargo build --bins`) run from the repository root, with only
/// the AWS and Snowflake settings given.
fn postetl(args: &[&str], env: &[(&str, String)]) -> std::process::Output {
    let bin = postetl_tests::repo_root().join("target/debug/postetl");
    let mut command = std::process::Command::new(&bin);
    command.args(args).current_dir(postetl_tests::repo_root());
    for (k, _) in std::env::vars().filter(|(k, _)| {
        k.starts_with("AWS_") || k.starts_with("POSTETL_") || k.starts_with("SNOWFLAKE_")
    }) {
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

#[tokio::test]
async fn debug_says_what_is_wrong() {
    let world = World::start().await;
    let env = [
        ("AWS_ENDPOINT_URL", world.aws.url().to_string()),
        ("AWS_REGION", "us-east-1".to_string()),
        ("AWS_ACCESS_KEY_ID", "test".to_string()),
        ("AWS_SECRET_ACCESS_KEY", "test".to_string()),
        ("SNOWFLAKE_BASE_URL", world.emulator.url().to_string()),
    ];
    let config = world.config_path.display().to_string();
    let fingerprint = snowflake::PrivateKey::from_pem(&world.key.private_pem, None)
        .unwrap()
        .fingerprint()
        .to_string();

    let out = postetl(&["debug", "--config", &config], &env);
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(
        stdout.contains("✓ secret       postetl/snowflake: account"),
        "{stdout}"
    );
    assert!(stdout.contains(&fingerprint), "{stdout}");
    assert!(
        stdout.contains("✓ connection   authenticated, with role POSTETL"),
        "{stdout}"
    );
    assert!(
        stdout.contains("✓ warehouse    POSTETL_WH (orders): SUSPENDED"),
        "{stdout}"
    );
    assert!(stdout.contains("  - tables       not checked"), "{stdout}");
    assert!(stdout.lines().all(|l| l.chars().count() <= 80), "{stdout}");
    // Debug woke nothing.
    assert_eq!(world.emulator.warehouses().await[0]["state"], "SUSPENDED");

    let out = postetl(&["debug", "--config", &config, "--use-warehouse"], &env);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("✓ table        \"ANALYTICS\".\"CORE\".\"ORDERS\""),
        "{stdout}"
    );
    assert!(
        stdout.contains("✓ table        \"LAKE\".\"RAW\".\"ORDERS\""),
        "{stdout}"
    );

    // A table that is not there.
    world.emulator.sql("DROP TABLE ANALYTICS.CORE.ORDERS").await;
    let out = postetl(&["debug", "--config", &config, "--use-warehouse"], &env);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("✗ table        \"ANALYTICS\".\"CORE\".\"ORDERS\": "),
        "{stdout}"
    );
    assert!(
        stdout.contains("Object 'ORDERS' does not exist"),
        "{stdout}"
    );
    assert!(
        stdout.contains("the role needs SELECT, INSERT,"),
        "{stdout}"
    );
    assert_eq!(text(&out.stderr).trim(), "postetl: 1 check(s) failed");

    // A warehouse that is not there.
    let broken = world.config_path.parent().unwrap().join("broken.toml");
    let toml = std::fs::read_to_string(&world.config_path).unwrap();
    std::fs::write(&broken, toml.replace("POSTETL_WH", "NOPE_WH")).unwrap();
    let out = postetl(&["debug", "--config", broken.to_str().unwrap()], &env);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("✗ warehouse    NOPE_WH (orders) does not exist or role POSTETL"),
        "{stdout}"
    );
    assert!(
        stdout.contains("GRANT USAGE, OPERATE ON WAREHOUSE \"NOPE_WH\" TO ROLE POSTETL"),
        "{stdout}"
    );

    // Snowflake knows another key: the connection fails, and the fingerprint to compare is shown.
    let other = postetl_tests::TestKey::generate();
    world
        .emulator
        .set_keys("XY12345", "SVC_POSTETL", Some(&other.public_pem), None)
        .await;
    let out = postetl(&["debug", "--config", &config], &env);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains(&fingerprint), "{stdout}");
    assert!(
        stdout.contains("✗ connection   Snowflake.Unauthorized"),
        "{stdout}"
    );

    // No such secret.
    let out = postetl(
        &["debug", "--config", &config, "--secret-id", "nosuch"],
        &env,
    );
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("✗ secret       nosuch: GetSecretValue: ResourceNotFoundException"),
        "{stdout}"
    );
}

#[tokio::test]
async fn debug_checks_keyless_settings_and_the_trust() {
    use postetl_tests::world::{ACCOUNT, LAMBDA_ROLE};
    let world = World::start().await;
    let e = &world.emulator;
    let role = e.aws_role_credentials(LAMBDA_ROLE).await;
    let issuer = e.enable_outbound_federation("123456789012").await;
    let mut env: Vec<(&str, String)> = vec![
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_ENDPOINT_URL_STS", e.sts_url().to_string()),
        ("SNOWFLAKE_BASE_URL", e.url().to_string()),
        ("SNOWFLAKE_ACCOUNT", ACCOUNT.into()),
        ("SNOWFLAKE_ROLE", "POSTETL".into()),
        ("SNOWFLAKE_WAREHOUSE", "POSTETL_WH".into()),
        ("SNOWFLAKE_DATABASE", "ANALYTICS".into()),
    ];
    let config = world.config_path.display().to_string();
    let args = ["debug", "--keyless", "--config", &config];

    // A setting missing: named.
    let out = postetl(&args, &env);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("✗ keyless      environment: SNOWFLAKE_AUTH=workload_identity needs\n"),
        "{stdout}"
    );
    assert!(stdout.contains("SNOWFLAKE_SCHEMA set"), "{stdout}");

    env.push(("SNOWFLAKE_SCHEMA", "PUBLIC".into()));
    let creds = role.lambda_env();
    env.extend(creds.iter().map(|(k, v)| (k.as_str(), v.clone())));
    // No Snowflake user trusts the role yet: Snowflake's own words.
    let out = postetl(&args, &env);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("✓ keyless      account"), "{stdout}");
    assert!(
        stdout.contains("✗ connection   Snowflake.Unauthorized"),
        "{stdout}"
    );
    // Wrapped at 80 columns: compared with the line breaks taken out.
    let flat = stdout.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains("Unable to find an associated Snowflake user for the verified AWS Caller Identity with ARN 'arn:aws:iam::123456789012:role/postetl-steps'"),
        "{stdout}"
    );

    e.trust_aws_role("XY12345", "SVC_POSTETL", LAMBDA_ROLE, Some(&issuer))
        .await;
    let out = postetl(&args, &env);
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(
        stdout.contains("✓ connection   authenticated, with role POSTETL"),
        "{stdout}"
    );
    assert!(
        stdout.contains("✓ warehouse    POSTETL_WH (orders): SUSPENDED"),
        "{stdout}"
    );
}
