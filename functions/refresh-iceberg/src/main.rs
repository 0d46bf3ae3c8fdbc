//! The refresh-iceberg step's Lambda: `refresh_iceberg::handle` under the Lambda runtime.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    // One SDK configuration for Glue and the Snowflake secret.
    let aws = pipeline::AwsConfig::from_env();
    let glue = pipeline::glue::client(&aws).await;
    pipeline::serve_with(&aws, move |env, event| {
        let glue = glue.clone();
        async move { refresh_iceberg::handle(&env, &glue, event).await }
    })
    .await
}
