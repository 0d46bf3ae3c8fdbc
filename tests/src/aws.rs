//! Local AWS (tests/aws/local_aws.py: moto) on a free loopback port, with SDK settings pointing at it.

use crate::process::ServerProcess;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use std::process::Command;
use url::Url;

pub struct LocalAws {
    process: ServerProcess,
}

impl LocalAws {
    pub fn start() -> Self {
        let root = crate::repo_root();
        let mut command = Command::new(crate::python());
        command.args([
            "tests/aws/local_aws.py",
            "--port",
            "0",
            "--exit-on-stdin-eof",
        ]);
        Self {
            process: ServerProcess::spawn("local AWS (moto)", command, &root, "LOCAL_AWS_LOG"),
        }
    }

    pub fn url(&self) -> Url {
        self.process.url.clone()
    }

    /// What a Lambda's `aws_config::load_from_env()` gives with `AWS_ENDPOINT_URL` set to this server.
    pub async fn sdk_config(&self) -> SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(self.url().as_str().trim_end_matches('/'))
            .credentials_provider(aws_sdk_glue::config::Credentials::new(
                "test", "test", None, None, "local",
            ))
            .load()
            .await
    }

    pub async fn glue(&self) -> aws_sdk_glue::Client {
        aws_sdk_glue::Client::new(&self.sdk_config().await)
    }
}
