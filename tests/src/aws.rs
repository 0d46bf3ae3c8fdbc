//! Local AWS (tests/aws/local_aws.py: moto, and optionally the local Lambda service running the
//! real function binaries) on free loopback ports, with SDK settings pointing at it.

use crate::process::ServerProcess;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use std::path::{Path, PathBuf};
use std::process::Command;
use url::Url;

pub struct LocalAws {
    process: ServerProcess,
}

/// The function binaries the local Lambda service runs, by name: the state machine's steps, and
/// `finalize`, which EventBridge invokes when an execution ends outside the workflow.
pub const FUNCTIONS: &[&str] = &pipeline::STEP_IDS;

/// Options for the Lambda service: where the binaries are, and their environment.
pub struct Lambdas {
    pub bin_dir: PathBuf,
    pub env: Vec<(String, String)>,
    pub log: Option<PathBuf>,
    /// Each function's timeout (default 120 s); a statement outliving it less 5 s is handed back.
    pub timeout: Option<std::time::Duration>,
}

impl Lambdas {
    /// The workspace's debug binaries (built by `cargo build --bins`).
    pub fn debug_build(env: Vec<(String, String)>) -> Self {
        let bin_dir = crate::repo_root().join("target/debug");
        for f in FUNCTIONS {
            assert!(
                bin_dir.join(f).exists(),
                "{}/{f} is missing: run `cargo build --workspace --bins` first",
                bin_dir.display()
            );
        }
        Self {
            bin_dir,
            env,
            log: None,
            timeout: None,
        }
    }
}

impl Lambdas {
    /// The release binaries (built by `cargo build --release --bins`), for benchmarks.
    pub fn release_build(env: Vec<(String, String)>) -> Self {
        let bin_dir = crate::repo_root().join("target/release");
        for f in FUNCTIONS {
            assert!(
                bin_dir.join(f).exists(),
                "{}/{f} is missing: run `cargo build --release --bins` first",
                bin_dir.display()
            );
        }
        Self {
            bin_dir,
            env,
            log: None,
            timeout: None,
        }
    }
}

impl LocalAws {
    pub fn start() -> Self {
        Self::start_with(None, None)
    }

    /// With the Lambda service and, optionally, Step Functions Local's mocked test cases.
    pub fn start_with(lambdas: Option<&Lambdas>, mock_config: Option<&Path>) -> Self {
        let root = crate::repo_root();
        let mut command = Command::new(crate::python());
        command.args([
            "tests/aws/local_aws.py",
            "--port",
            "0",
            "--exit-on-stdin-eof",
        ]);
        if let Some(l) = lambdas {
            command.arg("--lambda-bin-dir").arg(&l.bin_dir);
            for (k, v) in &l.env {
                command.arg("--lambda-env").arg(format!("{k}={v}"));
            }
            if let Some(log) = &l.log {
                command.arg("--lambda-log").arg(log);
            }
            if let Some(t) = l.timeout {
                command
                    .arg("--lambda-timeout")
                    .arg(t.as_secs_f64().to_string());
            }
        }
        if let Some(mocks) = mock_config {
            command.arg("--mock-config").arg(mocks);
        }
        Self {
            process: ServerProcess::spawn("local AWS (moto)", command, &root, "LOCAL_AWS_LOG"),
        }
    }

    pub fn url(&self) -> Url {
        self.process.url.clone()
    }

    /// The Lambda service's URL, when started with one.
    pub fn lambda_url(&self) -> Option<Url> {
        self.process
            .announced
            .iter()
            .find(|(name, _)| name == "LAMBDA")
            .map(|(_, url)| url.clone())
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
