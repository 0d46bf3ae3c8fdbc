//! Where the secret's JSON comes from (seed 004): the AWS Parameters and Secrets Lambda Extension on
//! localhost when it is there, else the Secrets Manager API. Callers cache; this module only fetches.

use crate::AwsConfig;
use crate::error::{Error, Result};
use crate::snowflake_secret::SecretString;
use serde::Deserialize;
use std::fmt;
use std::time::Duration;
use tokio::sync::OnceCell;

/// The port of the AWS Parameters and Secrets Lambda Extension (set by its layer, or by hand).
pub const EXTENSION_PORT_VAR: &str = "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT";
/// The function's session token, which the extension authenticates callers with (set by Lambda).
const SESSION_TOKEN_VAR: &str = "AWS_SESSION_TOKEN";
const EXTENSION_DEFAULT_PORT: u16 = 2773;

/// A source of the secret's JSON text.
pub enum SecretSource {
    /// The JSON itself, for a local run that reads it from a file.
    Inline(SecretString),
    /// A Secrets Manager secret, by name or ARN.
    Aws(AwsSecret),
}

impl fmt::Debug for SecretSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretSource::Inline(_) => f.write_str("Inline([redacted])"),
            SecretSource::Aws(s) => f
                .debug_struct("Aws")
                .field("secret_id", &s.secret_id)
                .field("extension_port", &s.extension_port)
                .finish(),
        }
    }
}

pub struct AwsSecret {
    secret_id: String,
    extension_port: Option<u16>,
    sdk_config: AwsConfig,
    sdk: OnceCell<aws_sdk_secretsmanager::Client>,
}

impl SecretSource {
    /// A Secrets Manager secret, read through the extension when the environment says it is
    /// installed (`PARAMETERS_SECRETS_EXTENSION_HTTP_PORT` set, or the layer present in
    /// /opt/extensions), else through the API. The API endpoint follows the SDK's standard settings,
    /// `AWS_ENDPOINT_URL` included.
    pub fn aws(secret_id: impl Into<String>) -> Self {
        Self::aws_with(secret_id, AwsConfig::from_env())
    }

    /// Like [`SecretSource::aws`], with the process's shared SDK configuration for the API.
    pub fn aws_with(secret_id: impl Into<String>, sdk_config: AwsConfig) -> Self {
        let port = std::env::var(EXTENSION_PORT_VAR)
            .ok()
            .and_then(|p| p.parse().ok())
            .or_else(|| extension_installed().then_some(EXTENSION_DEFAULT_PORT));
        Self::Aws(AwsSecret {
            secret_id: secret_id.into(),
            extension_port: port,
            sdk_config,
            sdk: OnceCell::new(),
        })
    }

    /// A Secrets Manager secret read through the extension on a given port (the API stays the
    /// fallback when nothing listens there).
    pub fn aws_via_extension(secret_id: impl Into<String>, port: u16) -> Self {
        Self::Aws(AwsSecret {
            secret_id: secret_id.into(),
            extension_port: Some(port),
            sdk_config: AwsConfig::from_env(),
            sdk: OnceCell::new(),
        })
    }

    pub(crate) async fn fetch(&self, http: &reqwest::Client) -> Result<SecretString> {
        match self {
            SecretSource::Inline(json) => Ok(json.clone()),
            SecretSource::Aws(aws) => aws.fetch(http).await,
        }
    }
}

fn extension_installed() -> bool {
    std::fs::read_dir("/opt/extensions")
        .map(|dir| {
            dir.flatten().any(|e| {
                e.file_name()
                    .to_string_lossy()
                    .to_ascii_lowercase()
                    .contains("parametersandsecrets")
            })
        })
        .unwrap_or(false)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ExtensionAnswer {
    secret_string: Option<SecretString>,
}

impl AwsSecret {
    async fn fetch(&self, http: &reqwest::Client) -> Result<SecretString> {
        if let Some(port) = self.extension_port {
            match self.via_extension(http, port).await {
                Err(Fallback::ToApi(reason)) => {
                    tracing::warn!(%reason, "secrets extension not reachable; using the Secrets Manager API");
                }
                Err(Fallback::No(e)) => return Err(e),
                Ok(value) => return Ok(value),
            }
        }
        self.via_api().await
    }

    async fn via_extension(
        &self,
        http: &reqwest::Client,
        port: u16,
    ) -> Result<SecretString, Fallback> {
        // The extension authenticates callers with the function's session token.
        let token = std::env::var(SESSION_TOKEN_VAR).unwrap_or_default();
        let answer = http
            .get(format!("http://localhost:{port}/secretsmanager/get"))
            .query(&[("secretId", &self.secret_id)])
            .header("X-Aws-Parameters-Secrets-Token", token)
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .map_err(|e| Fallback::ToApi(without_url(e)))?;
        let status = answer.status();
        if !status.is_success() {
            return Err(Fallback::No(self.unavailable(format!(
                "the secrets extension answered HTTP {}",
                status.as_u16()
            ))));
        }
        let body: ExtensionAnswer = answer.json().await.map_err(|_| {
            Fallback::No(self.unavailable("the secrets extension answered malformed JSON"))
        })?;
        body.secret_string.ok_or_else(|| {
            Fallback::No(
                self.unavailable(
                    "the secret has no SecretString (binary secrets are not supported)",
                ),
            )
        })
    }

    async fn via_api(&self) -> Result<SecretString> {
        let client = self
            .sdk
            .get_or_init(|| async {
                aws_sdk_secretsmanager::Client::new(self.sdk_config.get().await)
            })
            .await;
        let out = client
            .get_secret_value()
            .secret_id(&self.secret_id)
            .send()
            .await
            .map_err(|e| {
                use aws_sdk_secretsmanager::error::ProvideErrorMetadata;
                let e = e.into_service_error();
                self.unavailable(format!(
                    "{}: {}",
                    e.code().unwrap_or("error"),
                    e.message().unwrap_or("no message")
                ))
            })?;
        out.secret_string.map(SecretString::new).ok_or_else(|| {
            self.unavailable("the secret has no SecretString (binary secrets are not supported)")
        })
    }

    fn unavailable(&self, reason: impl Into<String>) -> Error {
        Error::SecretUnavailable {
            secret_id: self.secret_id.clone(),
            reason: reason.into(),
        }
    }
}

enum Fallback {
    ToApi(String),
    No(Error),
}

fn without_url(e: reqwest::Error) -> String {
    e.without_url().to_string()
}
