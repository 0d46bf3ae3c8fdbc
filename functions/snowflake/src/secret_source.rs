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
pub const SESSION_TOKEN_VAR: &str = "AWS_SESSION_TOKEN";
/// The extension's port when its layer is installed and the variable is not set.
pub const EXTENSION_DEFAULT_PORT: u16 = 2773;

/// The AWS Parameters and Secrets Lambda Extension as a function reaches it: its port, and the
/// session token it authenticates callers with. Read at the binary's edge (see
/// `pipeline::runtime::credentials_from_env`); this library reads no environment.
#[derive(Clone)]
pub struct Extension {
    pub port: u16,
    pub session_token: SecretString,
}

impl Extension {
    /// From the environment's values, as a Lambda's bootstrap finds them: the port variable if set,
    /// else the default port when the layer is installed (`/opt/extensions`); `None` without both.
    pub fn from_values(port: Option<&str>, session_token: Option<String>) -> Option<Self> {
        let port = port
            .and_then(|p| p.parse().ok())
            .or_else(|| extension_installed().then_some(EXTENSION_DEFAULT_PORT))?;
        Some(Self {
            port,
            session_token: SecretString::new(session_token.unwrap_or_default()),
        })
    }
}

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
                .field("extension_port", &s.extension.as_ref().map(|e| e.port))
                .finish(),
        }
    }
}

pub struct AwsSecret {
    secret_id: String,
    extension: Option<Extension>,
    sdk_config: AwsConfig,
    sdk: OnceCell<aws_sdk_secretsmanager::Client>,
}

impl SecretSource {
    /// A Secrets Manager secret, read through the extension when there is one (the API stays
    /// the fallback when nothing listens there), else through the API with the process's shared
    /// SDK configuration (its endpoint follows the SDK's settings, `AWS_ENDPOINT_URL` included).
    pub fn aws_with(
        secret_id: impl Into<String>,
        sdk_config: AwsConfig,
        extension: Option<Extension>,
    ) -> Self {
        Self::Aws(AwsSecret {
            secret_id: secret_id.into(),
            extension,
            sdk_config,
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
        if let Some(extension) = &self.extension {
            match self.via_extension(http, extension).await {
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
        extension: &Extension,
    ) -> Result<SecretString, Fallback> {
        let answer = http
            .get(format!(
                "http://localhost:{}/secretsmanager/get",
                extension.port
            ))
            .query(&[("secretId", &self.secret_id)])
            // The extension authenticates callers with the function's session token.
            .header(
                "X-Aws-Parameters-Secrets-Token",
                extension.session_token.expose(),
            )
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
