//! The refresh-marts step's Lambda: `refresh_marts::handle` under the Lambda runtime.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    pipeline::serve(|env, event| async move { refresh_marts::handle(&env, event).await }).await
}
