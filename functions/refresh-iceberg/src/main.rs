//! The refresh-iceberg step's Lambda: `refresh_iceberg::handle` under the Lambda runtime.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let glue = pipeline::glue::client().await;
    pipeline::serve(move |env, event| {
        let glue = glue.clone();
        async move { refresh_iceberg::handle(&env, &glue, event).await }
    })
    .await
}
