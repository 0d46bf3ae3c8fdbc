//! The plan step's Lambda: `plan::handle` under the Lambda runtime.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let config = aws_config::load_from_env().await;
    let aws = plan::Aws {
        glue: Some(aws_sdk_glue::Client::new(&config)),
        sfn: Some(aws_sdk_sfn::Client::new(&config)),
    };
    pipeline::serve(move |env, event| {
        let aws = aws.clone();
        async move { plan::handle(&env, &aws, event).await }
    })
    .await
}
