//! The plan step's Lambda: `plan::handle` under the Lambda runtime.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let sdk = pipeline::AwsConfig::from_env();
    let config = sdk.get().await;
    let aws = plan::Aws {
        glue: Some(aws_sdk_glue::Client::new(config)),
        sfn: Some(aws_sdk_sfn::Client::new(config)),
    };
    // Planning never calls Snowflake: no Snowflake setting is needed to start.
    pipeline::serve_config(move |deployed, event| {
        let aws = aws.clone();
        async move { plan::handle(&deployed, &aws, event).await }
    })
    .await
}
