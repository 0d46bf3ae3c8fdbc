//! The local world, left running for trying the CLI by hand: the Snowflake emulator (with the
//! sample pipeline's objects), local AWS (Glue, Secrets Manager, SNS, Step Functions) with the
//! Lambda service running the real binaries, and the state machine deployed. Started and stopped
//! by `bash tests/local.sh up|down`; writes `env.sh` (AWS endpoint, state machine ARN, Snowflake
//! URL, `postetl` on PATH) into the folder given as its argument once everything is ready, then
//! runs until it is stopped. Its servers exit with it (their stdin closes).

use postetl_tests::workflow::Workflow;
use postetl_tests::world::World;
use std::path::PathBuf;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .ok_or("usage: local <state folder>")?,
    );
    std::fs::create_dir_all(&dir)?;
    let world = World::with_lambdas(Some(dir.join("lambdas.log"))).await;
    let workflow = Workflow::deploy(&world.aws).await;
    // A new snapshot from Glue, so that a run has rows to merge.
    world
        .glue_writes_orders(
            2,
            &[
                (1, 100, "NEW", "10.00", 600),
                (2, 101, "SHIPPED", "25.50", 60),
                (3, 100, "NEW", "99.90", 30),
            ],
        )
        .await;
    let root = postetl_tests::repo_root();
    let aws = world.aws.url().to_string();
    let env = format!(
        "# The local postetl stack (bash tests/local.sh up); `source` me.\n\
         export AWS_ENDPOINT_URL={aws}\n\
         export AWS_REGION=us-east-1\n\
         export AWS_ACCESS_KEY_ID=test\n\
         export AWS_SECRET_ACCESS_KEY=test\n\
         export POSTETL_STATE_MACHINE_ARN={arn}\n\
         export POSTETL_SECRET_ID=postetl/snowflake\n\
         export SNOWFLAKE_BASE_URL={snowflake}\n\
         export PATH=\"{bin}:$PATH\"\n",
        aws = aws.trim_end_matches('/'),
        arn = workflow.arn,
        snowflake = world.emulator.url().as_str().trim_end_matches('/'),
        bin = root.join("target/debug").display(),
    );
    // Written whole, then renamed: whoever waits for the file never reads half of it.
    let partial = dir.join("env.sh.partial");
    std::fs::write(&partial, &env)?;
    std::fs::rename(&partial, dir.join("env.sh"))?;
    println!("{env}");
    println!(
        "local stack up (pid {}); stop it with: bash tests/local.sh down",
        std::process::id()
    );
    // Until stopped (local.sh down sends SIGTERM); the servers exit when this process does.
    std::future::pending::<()>().await;
    Ok(())
}
