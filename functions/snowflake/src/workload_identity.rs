//! Keyless authentication (seed 001): the AWS role the process runs as is its Snowflake identity,
//! so there is nothing to store or rotate.
//!
//! The default credential is the one Snowflake documents for its SQL API ("Authenticating to the
//! server", workload identity federation; Snowflake release note 2026-05-12, "JWT-based
//! authentication for AWS Workload Identity Federation"): a JWT from STS `GetWebIdentityToken`
//! (audience snowflakecomputing.com, ES384), signed by AWS for the function's role, sent as
//! `Authorization: Bearer WIF.AWS.<jwt>` with
//! `X-Snowflake-Authorization-Token-Type: WORKLOAD_IDENTITY_FEDERATION`. Snowflake verifies it
//! against the AWS account's issuer and finds the service user whose `WORKLOAD_IDENTITY` names the
//! role and that `ISSUER`. It needs IAM outbound identity federation enabled on the account and
//! `sts:GetWebIdentityToken` on the role. Airflow's SQL API hook and the drivers'
//! `SNOWFLAKE_ENABLE_AWS_WIF_OUTBOUND_TOKEN` / `workloadIdentityAwsUseOutboundToken` send the same.
//!
//! The other form, an STS `GetCallerIdentity` request signed with SigV4 and carrying
//! `X-Snowflake-Audience`, is what the drivers send to their login endpoint
//! (`/session/v1/login-request`, `AUTHENTICATOR = WORKLOAD_IDENTITY`); Snowflake does not document
//! it for `/api/v2/statements`. It is kept only as an explicit opt-in
//! (`SNOWFLAKE_ENABLE_AWS_WIF_OUTBOUND_TOKEN=false`) and logs a warning each time it is signed.

use crate::AwsConfig;
use crate::error::{Error, Result};
use crate::snowflake_secret::SecretString;
use aws_credential_types::Credentials;
use aws_credential_types::provider::ProvideCredentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4::SigningParams;
use base64::Engine;
use std::fmt;
use std::time::{Duration, SystemTime};

/// The audience Snowflake requires in the signed request.
pub const SNOWFLAKE_AUDIENCE: &str = "snowflakecomputing.com";

/// STS accepts a signed request for 15 minutes after its `X-Amz-Date`.
const SIGNATURE_VALIDITY: Duration = Duration::from_secs(15 * 60);

/// STS issues outbound tokens for 60 s to 1 h; 15 minutes keeps a stolen one short-lived while
/// a warm function signs about every ten minutes.
const OUTBOUND_TOKEN_SECONDS: i32 = 15 * 60;

/// The AWS identity that signs attestations: its credentials and region.
pub struct AwsWorkloadIdentity {
    sdk: AwsConfig,
    form: AttestationForm,
}

/// Which credential proves the AWS identity to Snowflake.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AttestationForm {
    /// The JWT from STS `GetWebIdentityToken` (outbound identity federation): the form Snowflake
    /// documents for the SQL API.
    #[default]
    OutboundToken,
    /// A SigV4-signed STS `GetCallerIdentity` request (no permission, no account setting). Not
    /// documented by Snowflake for the SQL API: an explicit opt-in only.
    SignedRequest,
}

impl fmt::Debug for AwsWorkloadIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AwsWorkloadIdentity")
    }
}

/// A signed attestation and the time after which Snowflake can no longer verify it.
pub(crate) struct Attestation {
    pub token: SecretString,
    pub expires_at: SystemTime,
    pub region: String,
}

impl AwsWorkloadIdentity {
    /// The identity the SDK's standard chain finds, loaded on first use (on Lambda: the function's
    /// execution role and `AWS_REGION`).
    pub fn from_env() -> Self {
        Self::with_aws_config(AwsConfig::from_env())
    }

    /// The identity of an SDK configuration's credentials provider, region and (for the outbound
    /// token) STS endpoint.
    pub fn with_config(config: aws_config::SdkConfig) -> Self {
        Self::with_aws_config(config.into())
    }

    /// The identity of the process's shared SDK configuration (see [`AwsConfig`]).
    pub fn with_aws_config(sdk: AwsConfig) -> Self {
        Self {
            sdk,
            form: AttestationForm::default(),
        }
    }

    /// Proves the identity with `form` instead of the outbound token.
    pub fn form(mut self, form: AttestationForm) -> Self {
        self.form = form;
        self
    }

    /// Which form proves the identity.
    pub fn attestation_form(&self) -> AttestationForm {
        self.form
    }

    /// A fresh attestation from the current role credentials (the SDK refreshes them).
    pub(crate) async fn attest(&self, now: SystemTime) -> Result<Attestation> {
        let sdk = self.sdk.get().await;
        let region = sdk
            .region()
            .ok_or_else(|| unavailable("no AWS region is configured (AWS_REGION)"))?
            .to_string();
        if self.form == AttestationForm::OutboundToken {
            return outbound_token(sdk, region).await;
        }
        tracing::warn!(
            "keyless: signing an STS GetCallerIdentity request for Snowflake; Snowflake documents \
             only the GetWebIdentityToken JWT for the SQL API (unset \
             SNOWFLAKE_ENABLE_AWS_WIF_OUTBOUND_TOKEN=false to use it)"
        );
        let provider = sdk
            .credentials_provider()
            .ok_or_else(|| unavailable("no AWS credentials provider is configured"))?;
        let credentials = provider
            .provide_credentials()
            .await
            .map_err(|e| unavailable(format!("the AWS credentials could not be loaded: {e}")))?;
        let token = attestation(&credentials, &region, now)?;
        let signature_end = now + SIGNATURE_VALIDITY;
        let expires_at = credentials
            .expiry()
            .map_or(signature_end, |e| e.min(signature_end));
        Ok(Attestation {
            token: SecretString::new(format!("WIF.AWS.{token}")),
            expires_at,
            region,
        })
    }
}

/// Asks STS (the SDK's regional endpoint, or `AWS_ENDPOINT_URL[_STS]`) for a JWT for Snowflake.
async fn outbound_token(sdk: &aws_config::SdkConfig, region: String) -> Result<Attestation> {
    use aws_sdk_sts::error::ProvideErrorMetadata;
    let answer = aws_sdk_sts::Client::new(sdk)
        .get_web_identity_token()
        .audience(SNOWFLAKE_AUDIENCE)
        .signing_algorithm("ES384")
        .duration_seconds(OUTBOUND_TOKEN_SECONDS)
        .send()
        .await
        .map_err(|e| {
            let e = e.into_service_error();
            unavailable(outbound_failure(
                e.code().unwrap_or("error"),
                e.message().unwrap_or("no message"),
            ))
        })?;
    let token = answer
        .web_identity_token
        .filter(|t| !t.is_empty())
        .ok_or_else(|| unavailable("STS GetWebIdentityToken returned no token"))?;
    let expires_at = answer
        .expiration
        .and_then(|e| SystemTime::try_from(e).ok())
        .ok_or_else(|| unavailable("STS GetWebIdentityToken returned no expiration"))?;
    Ok(Attestation {
        token: SecretString::new(format!("WIF.AWS.{token}")),
        expires_at,
        region,
    })
}

/// What a data engineer should do about a refused `GetWebIdentityToken`, by STS error code.
fn outbound_failure(code: &str, message: &str) -> String {
    let hint = match code {
        "OutboundWebIdentityFederationDisabledException" => {
            "IAM outbound identity federation is not enabled on this AWS account: run `aws iam \
             enable-outbound-web-identity-federation` once, then put the issuer URL from `aws iam \
             get-outbound-web-identity-federation-info` in the Snowflake user's WORKLOAD_IDENTITY \
             (ISSUER = '...')"
        }
        "AccessDenied" | "AccessDeniedException" => {
            "the function's role may not call sts:GetWebIdentityToken for audience \
             snowflakecomputing.com with ES384 for 15 minutes: grant it (the CDK app does in keyless \
             mode)"
        }
        _ => "STS refused the request",
    };
    format!("STS GetWebIdentityToken failed ({code}: {message}): {hint}")
}

/// The regional STS host for `region`: Snowflake verifies with the region the request names, and
/// regional endpoints keep working where the global one is disabled.
pub fn sts_host(region: &str) -> String {
    if region.starts_with("cn-") {
        format!("sts.{region}.amazonaws.com.cn")
    } else {
        format!("sts.{region}.amazonaws.com")
    }
}

/// base64 of the signed `GetCallerIdentity` request as JSON `{"url", "method", "headers"}`.
fn attestation(credentials: &Credentials, region: &str, now: SystemTime) -> Result<String> {
    let host = sts_host(region);
    let url = format!("https://{host}/?Action=GetCallerIdentity&Version=2011-06-15");
    let unsigned = [
        ("host", host.as_str()),
        ("x-snowflake-audience", SNOWFLAKE_AUDIENCE),
    ];
    let identity = credentials.clone().into();
    let params = SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("sts")
        .time(now)
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| unavailable(format!("signing parameters: {e}")))?
        .into();
    let request = SignableRequest::new(
        "POST",
        url.as_str(),
        unsigned.iter().copied(),
        SignableBody::Bytes(&[]),
    )
    .map_err(|e| unavailable(format!("signing: {e}")))?;
    let (instructions, _signature) = sign(request, &params)
        .map_err(|e| unavailable(format!("signing: {e}")))?
        .into_parts();
    let mut headers = serde_json::Map::new();
    for (name, value) in unsigned.iter().copied().chain(instructions.headers()) {
        headers.insert(name.to_string(), value.into());
    }
    let document = serde_json::json!({"url": url, "method": "POST", "headers": headers});
    Ok(base64::engine::general_purpose::STANDARD.encode(document.to_string()))
}

fn unavailable(reason: impl Into<String>) -> Error {
    Error::AwsIdentityUnavailable {
        reason: reason.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(token: &str) -> serde_json::Value {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(token)
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[test]
    fn signs_a_regional_get_caller_identity_for_snowflake() {
        let credentials = Credentials::new(
            "ASIAEXAMPLE",
            "secret-key",
            Some("session".into()),
            None,
            "test",
        );
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let doc = decode(&attestation(&credentials, "eu-west-1", now).unwrap());
        assert_eq!(
            doc["url"],
            "https://sts.eu-west-1.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15"
        );
        assert_eq!(doc["method"], "POST");
        let headers = doc["headers"].as_object().unwrap();
        assert_eq!(headers["host"], "sts.eu-west-1.amazonaws.com");
        assert_eq!(headers["x-snowflake-audience"], SNOWFLAKE_AUDIENCE);
        assert_eq!(headers["x-amz-date"], "20231114T221320Z");
        assert_eq!(headers["x-amz-security-token"], "session");
        let authorization = headers["authorization"].as_str().unwrap();
        assert!(
            authorization.starts_with(
                "AWS4-HMAC-SHA256 Credential=ASIAEXAMPLE/20231114/eu-west-1/sts/aws4_request, \
                 SignedHeaders=host;x-amz-date;x-amz-security-token;x-snowflake-audience, Signature="
            ),
            "{authorization}"
        );
        assert!(!doc.to_string().contains("secret-key"));
    }

    #[test]
    fn china_regions_use_their_partition_host() {
        assert_eq!(sts_host("cn-north-1"), "sts.cn-north-1.amazonaws.com.cn");
        assert_eq!(sts_host("us-gov-west-1"), "sts.us-gov-west-1.amazonaws.com");
    }
}
