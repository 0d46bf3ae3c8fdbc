//! Figures for the step Lambdas: each release binary started under the local Lambda Runtime API
//! (tests/aws/lambda_service.py), with cold start (process start to its first request for an
//! event), first and warm invocation latency against the Snowflake emulator and local AWS, peak
//! RSS (VmHWM), and stripped binary size.
//! Run with `bash tests/bench.sh` (builds the release binaries first).

use postetl_tests::FUNCTIONS;
use postetl_tests::world::World;
use serde_json::{Value, json};
use std::time::Instant;

fn payload(function: &str, run: &Value) -> Value {
    match function {
        "plan" => json!({"input": {"pipeline": "orders"}, "execution": run["execution"]}),
        "warehouse" => json!({"run": run, "action": "resume"}),
        "refresh-iceberg" => json!({"run": run, "item": "LAKE.RAW.ORDERS"}),
        "run-merge" => json!({"run": run, "item": "orders"}),
        _ => json!({"run": run}),
    }
}

#[tokio::main]
async fn main() {
    let world = World::with_release_lambdas(None).await;
    let lambda = world.aws.lambda_url().expect("the Lambda service runs");
    let http = reqwest::Client::new();
    println!(
        "{:<16} {:>10} {:>12} {:>11} {:>10} {:>11}",
        "function", "cold start", "first call", "warm call", "peak RSS", "binary"
    );
    for function in FUNCTIONS {
        let mut latencies = Vec::new();
        for run_key in ["bench-1", "bench-2"] {
            let run = serde_json::to_value(world.run(run_key)).unwrap();
            let url = lambda
                .join(&format!("2015-03-31/functions/{function}/invocations"))
                .unwrap();
            let started = Instant::now();
            let response = http
                .post(url)
                .json(&payload(function, &run))
                .send()
                .await
                .unwrap();
            let failed = response.headers().contains_key("x-amz-function-error");
            let body = response.text().await.unwrap();
            assert!(!failed, "{function}: {body}");
            latencies.push(started.elapsed().as_secs_f64() * 1e3);
        }
        let stats: Value = http
            .get(lambda.join("_local/functions").unwrap())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let s = &stats[*function];
        let size = std::fs::metadata(
            postetl_tests::repo_root()
                .join("target/release")
                .join(function),
        )
        .unwrap()
        .len();
        println!(
            "{:<16} {:>7.1} ms {:>9.1} ms {:>8.1} ms {:>7.1} MB {:>8.2} MB",
            function,
            s["cold_starts_ms"][0].as_f64().unwrap_or(f64::NAN),
            latencies[0],
            latencies[1],
            s["peak_rss_kb"].as_f64().unwrap_or(0.0) / 1024.0,
            size as f64 / (1024.0 * 1024.0)
        );
    }
}
