//! The main job, locally: a Glue completion event replayed through the real workflow. The real
//! state machine definition runs on local Step Functions (moto's ASL interpreter), its Lambda
//! tasks run the real function binaries, which read their Snowflake secret from local Secrets
//! Manager, ask local Glue for the Iceberg metadata, and run SQL on the Snowflake SQL API
//! emulator. Run with `bash tests/demo.sh`; everything stops when it ends. With `--keyless` the
//! Lambdas hold no secret: they send the STS `GetWebIdentityToken` JWT AWS signs for their role.

use postetl_cli::text::wrap;
use postetl_tests::workflow::{Workflow, definition, glue_event};
use postetl_tests::world::{LAMBDA_ROLE, LambdaAuth, World};
use std::time::{Duration, Instant};

const USAGE: &str = "\
usage: bash tests/demo.sh [--keyless]

Replays a Glue completion event through the real workflow, locally: the state
machine on local Step Functions, the real Lambda binaries, local Glue, Secrets
Manager and SNS, and the Snowflake SQL API emulator. Prints each step and a
summary; everything it starts stops when it ends (Ctrl-C included).

  --keyless   the Lambdas hold no secret: workload identity as their IAM role
  -h, --help  this text";

/// Prints `text` wrapped to 80 columns, continuation lines indented by `indent`.
fn say(text: &str, indent: usize) {
    for line in wrap(text, indent) {
        println!("{line}");
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let auth = match std::env::args().nth(1).as_deref() {
        None => LambdaAuth::Secret,
        Some("--keyless") => LambdaAuth::Keyless,
        Some("-h" | "--help") => {
            println!("{USAGE}");
            return Ok(());
        }
        Some(other) => {
            eprintln!("{USAGE}");
            return Err(format!("unknown argument {other:?}").into());
        }
    };
    let started = Instant::now();
    let log = postetl_tests::repo_root().join("target/demo-lambdas.log");
    let _ = std::fs::remove_file(&log);
    say(
        "postetl demo: Glue job orders-to-iceberg finished; bring Snowflake up to date\n",
        0,
    );
    say(
        "[setup] Snowflake emulator, local AWS (Glue, Secrets Manager, SNS, Step Functions), \
         Lambda binaries",
        8,
    );
    let world = World::with_lambdas_using(auth, Some(log.clone())).await;
    let workflow = Workflow::deploy(&world.aws).await;
    match auth {
        LambdaAuth::KeylessSignedRequest => {
            return Err("the demo runs keyless with the web identity token only".into());
        }
        LambdaAuth::Secret => say(
            "[setup] the Lambdas read a key pair from the Secrets Manager secret \
             postetl/snowflake",
            8,
        ),
        LambdaAuth::Keyless => {
            let issuer = world
                .emulator
                .enable_outbound_federation("123456789012")
                .await;
            world
                .emulator
                .trust_aws_role("XY12345", "SVC_POSTETL", LAMBDA_ROLE, Some(&issuer))
                .await;
            say(
                &format!(
                    "[setup] keyless: the Lambdas run as {LAMBDA_ROLE}, hold no secret and ask \
                     STS for a web identity token; Snowflake user SVC_POSTETL trusts that role \
                     from issuer {issuer}"
                ),
                8,
            );
        }
    }
    say(
        "[setup] Glue wrote a new snapshot of LAKE.RAW.ORDERS: 4 rows, order 2 twice (PAID, \
         then SHIPPED)",
        8,
    );
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
    world
        .glue_writes_customers(
            2,
            &[
                (100, "Ada", "GB"),
                (101, "Linus", "FI"),
                (102, "Grace", "US"),
            ],
        )
        .await;

    // The job run the event names exists in local Glue, as it would on AWS: the plan step reads
    // it (GetJobRun) for the run's record.
    let job_run = glue_job_run(&world.glue).await?;
    let event = glue_event(&job_run);
    let execution = workflow.start("demo-glue-run", &event).await;
    say(
        &format!(
            "[run] replaying statemachine/examples/glue-succeeded.json (job run {job_run}) as \
             execution {execution}\n"
        ),
        6,
    );
    let mut out = std::io::stdout();
    let options = postetl_cli::Options {
        limit: Duration::from_secs(300),
        live: std::io::IsTerminal::is_terminal(&out),
        ..Default::default()
    };
    let summary = postetl_cli::watch(
        &workflow.sfn,
        &execution,
        postetl_cli::Definition::parse(&definition(&workflow.topic_arn)),
        &mut out,
        &options,
    )
    .await?;
    postetl_cli::print_summary(&summary, &mut out)?;
    // The report from the history, at the config's prices. Not from the run ledger: reading a
    // table needs the warehouse, and the demo leaves it suspended (`postetl report` reads it).
    let config = pipeline::Config::load(&world.config_path)?;
    let report =
        postetl_cli::report::fetch(&workflow.sfn, &execution, None, &config.prices).await?;
    report.cost.print(&mut out)?;
    let report_path = postetl_tests::repo_root().join("target/demo-report.html");
    std::fs::write(&report_path, report.html())?;

    let e = &world.emulator;
    let wh = e.warehouses().await[0].clone();
    println!("\n[snowflake emulator]");
    println!(
        "  ANALYTICS.CORE.ORDERS       {} rows; order 2 is {}",
        e.sql("SELECT COUNT(*) FROM ANALYTICS.CORE.ORDERS").await[0][0],
        e.sql("SELECT STATUS FROM ANALYTICS.CORE.ORDERS WHERE ORDER_ID = 2")
            .await[0][0]
            .as_str()
            .unwrap_or("?")
    );
    println!(
        "  ANALYTICS.AUDIT.DQ_RESULTS  {} rows",
        e.sql("SELECT COUNT(*) FROM ANALYTICS.AUDIT.DQ_RESULTS")
            .await[0][0]
    );
    println!(
        "  ANALYTICS.MARTS             DAILY_REVENUE {} days, CUSTOMER_VALUE {} customers",
        e.sql("SELECT COUNT(*) FROM ANALYTICS.MARTS.DAILY_REVENUE")
            .await[0][0],
        e.sql("SELECT COUNT(*) FROM ANALYTICS.MARTS.CUSTOMER_VALUE")
            .await[0][0]
    );
    println!(
        "  {:<27} now {}, ran {:.1} s, billed {:.0} s",
        format!("warehouse {}", wh["name"].as_str().unwrap_or("?")),
        wh["state"].as_str().unwrap_or("?"),
        wh["running_seconds"].as_f64().unwrap_or(0.0),
        wh["billed_seconds"].as_f64().unwrap_or(0.0)
    );
    let log_entries = e.log().await;
    println!(
        "  statements run              {}",
        log_entries["executions"].as_array().map_or(0, Vec::len)
    );
    let mut token_types: Vec<&str> = log_entries["requests"]
        .as_array()
        .map(|r| r.iter().filter_map(|r| r["token_type"].as_str()).collect())
        .unwrap_or_default();
    token_types.sort();
    token_types.dedup();
    println!("  authenticated with          {}", token_types.join(", "));
    println!("\n[next] the run's report:  target/demo-report.html (open it in a browser)");
    println!("       the Lambdas' logs: target/demo-lambdas.log");
    println!("       the definition:     statemachine/post-etl.asl.json");
    println!("       the pipeline:       statemachine/pipelines.toml");
    println!("       try the CLI on it:  bash tests/local.sh up");
    println!("       every test:         bash tests/run-all.sh");
    println!(
        "\ndemo finished in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    if summary.status != "SUCCEEDED" {
        return Err(format!("the execution ended {}", summary.status).into());
    }
    Ok(())
}

/// Creates the Glue job and one run of it in local Glue; the run's id.
async fn glue_job_run(glue: &aws_sdk_glue::Client) -> Result<String, Box<dyn std::error::Error>> {
    let command = aws_sdk_glue::types::JobCommand::builder()
        .name("glueetl")
        .script_location("s3://postetl-lake/scripts/orders_to_iceberg.py")
        .build();
    glue.create_job()
        .name("orders-to-iceberg")
        .role("arn:aws:iam::123456789012:role/postetl-glue")
        .command(command)
        .send()
        .await?;
    let run = glue
        .start_job_run()
        .job_name("orders-to-iceberg")
        .send()
        .await?;
    Ok(run.job_run_id.ok_or("Glue gave the job run no id")?)
}
