//! The plan step's Lambda: `plan::handle` under the Lambda runtime.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let glue = pipeline::glue::client().await;
    pipeline::serve(move |env, event| {
        let glue = glue.clone();
        async move { plan::handle(&env, Some(&glue), event).await }
    })
    .await
}
