//! The finalize Lambda: `finalize::handle` under the Lambda runtime, for EventBridge's
//! "Step Functions Execution Status Change" events.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    pipeline::runtime::init_tracing();
    // One SDK configuration for Step Functions, SNS and the Snowflake secret.
    let sdk = pipeline::AwsConfig::from_env();
    let env = pipeline::Env::from_env(&sdk)?;
    let config = sdk.get().await;
    let topic_var = pipeline::env_vars::POSTETL_ALERT_TOPIC_ARN;
    let topic = std::env::var(topic_var)
        .map_err(|_| pipeline::StepError::Environment(format!("{topic_var} is not set")))?;
    let aws = finalize::Aws {
        sfn: aws_sdk_sfn::Client::new(config),
        sns: aws_sdk_sns::Client::new(config),
        topic,
    };
    let (env, aws) = (&env, &aws);
    // Boxed, as pipeline::serve does: nested in the runtime's layers the type is otherwise too deep.
    lambda_runtime::run(lambda_runtime::service_fn(move |event| {
        Box::pin(finalize::handle(env, aws, event))
    }))
    .await
}
