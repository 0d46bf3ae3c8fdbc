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
    for e in log["executions"].as_array().unwrap() {
        let sql = normal(e["statement"].as_str().unwrap());
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
}
