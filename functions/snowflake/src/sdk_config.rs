//! One AWS SDK configuration per process, loaded on first use and shared by every client built
//! from it (Secrets Manager for the secret, STS for workload identity, and whatever AWS clients a
//! Lambda's main builds beside them): one credentials chain, one region lookup.

use std::sync::Arc;
use tokio::sync::OnceCell;

/// A shared AWS SDK configuration: clones share one; loaded from the environment (the SDK's
/// standard settings, `AWS_ENDPOINT_URL` included) the first time a client needs it, unless
/// given ready.
#[derive(Clone, Default)]
pub struct AwsConfig(Arc<OnceCell<aws_config::SdkConfig>>);

impl AwsConfig {
    /// Loaded from the environment on first use. Make one per process and clone it.
    pub fn from_env() -> Self {
        Self::default()
    }

    /// The configuration, loading it the first time.
    pub async fn get(&self) -> &aws_config::SdkConfig {
        self.0.get_or_init(aws_config::load_from_env).await
    }
}

impl From<aws_config::SdkConfig> for AwsConfig {
    fn from(config: aws_config::SdkConfig) -> Self {
        Self(Arc::new(OnceCell::new_with(Some(config))))
    }
}

impl std::fmt::Debug for AwsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.initialized() {
            "AwsConfig(loaded)"
        } else {
            "AwsConfig(not loaded yet)"
        })
    }
}
