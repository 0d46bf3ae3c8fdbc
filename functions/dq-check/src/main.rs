//! The dq-check step's Lambda: `dq_check::handle` under the Lambda runtime.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    pipeline::serve(|env, event| async move { dq_check::handle(&env, event).await }).await
}
