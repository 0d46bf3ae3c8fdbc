//! The warehouse step's Lambda: `warehouse::handle` under the Lambda runtime.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    pipeline::serve(|env, event| async move { warehouse::handle(&env, event).await }).await
}
