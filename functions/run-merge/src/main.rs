//! The run-merge step's Lambda: `run_merge::handle` under the Lambda runtime.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    pipeline::serve(|env, event| async move { run_merge::handle(&env, event).await }).await
}
