//! Every way to authenticate, against the emulator's real verification: programmatic access tokens
//! and OAuth tokens read from the secret, keyless workload identity signed with role credentials,
//! and what each says when Snowflake refuses it.

use postetl_tests::{AwsRoleCredentials, Emulator, SecretsExtension, TestKey};
use serde_json::json;
use snowflake::{
    AttestationForm, AwsWorkloadIdentity, Client, ClientConfig, Connection, Credentials, Error,
    SecretSource, SecretString, Statement,
};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const ACCOUNT: &str = "xy12345.us-east-2.aws";
const LONG: Duration = Duration::from_secs(30);
const ROLE: &str = "arn:aws:iam::123456789012:role/postetl-warehouse";

/// The service user, with no key: these tests authenticate some other way.
async fn emulator_with_user() -> Emulator {
    Emulator::with_service_user(&[]).await
}

fn config(emulator: &Emulator) -> ClientConfig {
    ClientConfig {
        base_url: Some(emulator.url()),
        ..ClientConfig::default()
    }
}

fn token_secret(authenticator: &str, token: &SecretString) -> SecretString {
    SecretString::new(
        json!({"account": ACCOUNT, "user": "svc_postetl", "authenticator": authenticator,
               "token": token.expose(), "role": "POSTETL", "warehouse": "POSTETL_WH",
               "database": "ANALYTICS", "schema": "PUBLIC"})
        .to_string(),
    )
}

async fn current_user(client: &Client) -> Result<String, Error> {
    let rows = client
        .query(&Statement::new("SELECT CURRENT_USER()"), LONG)
        .await?;
    Ok(rows.row(0).unwrap().get_str(0)?.unwrap().to_string())
}

/// Every request the emulator accepted carried `token_type` (and there was at least one).
async fn accepted_only(emulator: &Emulator, token_type: &str) {
    let accepted = emulator.accepted_requests().await;
    assert!(!accepted.is_empty());
    assert!(
        accepted.iter().all(|r| r["token_type"] == token_type),
        "{accepted:?}"
    );
}

#[tokio::test]
async fn a_programmatic_access_token_authenticates_and_is_reread_after_rotation() {
    let emulator = emulator_with_user().await;
    let first = emulator.add_pat("XY12345", "SVC_POSTETL", "POSTETL").await;
    let extension = SecretsExtension::start(
        "postetl/snowflake",
        token_secret("PROGRAMMATIC_ACCESS_TOKEN", &first).expose(),
    );
    let client = Client::new(extension.source("postetl/snowflake"), config(&emulator)).unwrap();
    assert_eq!(current_user(&client).await.unwrap(), "SVC_POSTETL");
    accepted_only(&emulator, "PROGRAMMATIC_ACCESS_TOKEN").await;

    // Rotation: a new token goes into the secret, the old one is revoked; the warm client gets one
    // 401, reads the secret again and carries on.
    let second = emulator
        .add_pat("XY12345", "SVC_POSTETL", "POSTETL_NEXT")
        .await;
    extension.replace(token_secret("PROGRAMMATIC_ACCESS_TOKEN", &second).expose());
    emulator
        .remove_pat("XY12345", "SVC_POSTETL", "POSTETL")
        .await;
    assert_eq!(current_user(&client).await.unwrap(), "SVC_POSTETL");
    assert_eq!(extension.reads(), 2);
    assert_eq!(emulator.rejected_requests().await.len(), 1);

    // Revoked with nothing new in the secret: a named error, without the token.
    emulator
        .remove_pat("XY12345", "SVC_POSTETL", "POSTETL_NEXT")
        .await;
    let err = current_user(&client).await.unwrap_err();
    assert_eq!(err.name(), "Snowflake.Unauthorized");
    let text = err.to_string();
    assert!(
        text.contains("the programmatic access token of user svc_postetl"),
        "{text}"
    );
    assert!(!text.contains(second.expose()) && !format!("{err:?}").contains(second.expose()));
}

#[derive(serde::Serialize)]
struct OAuthClaims<'a> {
    iss: &'a str,
    aud: &'a str,
    sub: &'a str,
    scp: &'a str,
    iat: u64,
    exp: u64,
}

fn idp_token(idp: &TestKey, issued: SystemTime, lifetime: Duration) -> SecretString {
    let iat = issued.duration_since(UNIX_EPOCH).unwrap().as_secs();
    let claims = OAuthClaims {
        iss: "https://idp.example.test/",
        aud: "https://xy12345.snowflakecomputing.com",
        sub: "svc_postetl",
        scp: "session:role:POSTETL",
        iat,
        exp: iat + lifetime.as_secs(),
    };
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(idp.private_pem.expose().as_bytes()).unwrap();
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
        &claims,
        &key,
    )
    .unwrap();
    SecretString::new(token)
}

#[tokio::test]
async fn an_external_oauth_token_authenticates_while_it_is_valid() {
    let emulator = emulator_with_user().await;
    let idp = TestKey::generate();
    emulator
        .add_external_oauth(
            "XY12345",
            "https://idp.example.test/",
            "https://xy12345.snowflakecomputing.com",
            &idp.public_pem,
        )
        .await;
    let valid = idp_token(&idp, SystemTime::now(), Duration::from_secs(600));
    let client = Client::new(
        SecretSource::Inline(token_secret("OAUTH", &valid)),
        config(&emulator),
    )
    .unwrap();
    assert_eq!(current_user(&client).await.unwrap(), "SVC_POSTETL");
    accepted_only(&emulator, "OAUTH").await;

    // Expired, or signed by a key the integration does not trust: refused, named, never echoed.
    let expired = idp_token(
        &idp,
        SystemTime::now() - Duration::from_secs(7200),
        Duration::from_secs(600),
    );
    let forged = idp_token(
        &TestKey::generate(),
        SystemTime::now(),
        Duration::from_secs(600),
    );
    for token in [expired, forged] {
        let client = Client::new(
            SecretSource::Inline(token_secret("OAUTH", &token)),
            config(&emulator),
        )
        .unwrap();
        let err = current_user(&client).await.unwrap_err();
        let Error::Unauthorized { code, .. } = &err else {
            panic!("{err}")
        };
        assert_eq!(code, "390303", "{err}");
        assert!(
            err.to_string()
                .contains("the OAuth access token for user svc_postetl"),
            "{err}"
        );
        assert!(!err.to_string().contains(token.expose()));
    }
}

fn keyless(emulator: &Emulator, identity: AwsWorkloadIdentity) -> Client {
    let connection = Connection {
        account: ACCOUNT.into(),
        user: None,
        role: "POSTETL".into(),
        warehouse: "POSTETL_WH".into(),
        database: "ANALYTICS".into(),
        schema: "PUBLIC".into(),
    };
    Client::new(
        Credentials::AwsWorkloadIdentity {
            connection,
            identity,
        },
        config(emulator),
    )
    .unwrap()
}

/// The signed `GetCallerIdentity` form, opted into on both sides: the emulator refuses it on the
/// SQL API by default, as Snowflake documents only the JWT there.
async fn signed_request_identity(
    emulator: &Emulator,
    role: &AwsRoleCredentials,
) -> AwsWorkloadIdentity {
    emulator
        .configure(json!({"accept_wif_signed_request": true}))
        .await;
    AwsWorkloadIdentity::with_config(role.sdk_config("us-east-2").await)
        .form(AttestationForm::SignedRequest)
}

#[tokio::test]
async fn the_signed_request_form_is_refused_by_a_sql_api_that_follows_the_documentation() {
    let emulator = emulator_with_user().await;
    emulator
        .trust_aws_role("XY12345", "SVC_POSTETL", ROLE, None)
        .await;
    let role = emulator.aws_role_credentials(ROLE).await;
    let identity = AwsWorkloadIdentity::with_config(role.sdk_config("us-east-2").await)
        .form(AttestationForm::SignedRequest);
    let err = current_user(&keyless(&emulator, identity))
        .await
        .unwrap_err();
    assert_eq!(err.name(), "Snowflake.Unauthorized", "{err}");
    assert!(err.to_string().contains("GetWebIdentityToken"), "{err}");
    assert!(err.to_string().contains("not documented"), "{err}");
}

#[tokio::test]
async fn workload_identity_is_refused_until_the_user_trusts_the_role() {
    let emulator = emulator_with_user().await;
    let role = emulator.aws_role_credentials(ROLE).await;
    let client = keyless(&emulator, signed_request_identity(&emulator, &role).await);

    // Seed 001, part I: AWS verified the caller, but no Snowflake user trusts the role yet.
    let err = current_user(&client).await.unwrap_err();
    assert_eq!(err.name(), "Snowflake.Unauthorized");
    let expected = format!(
        "Unable to find an associated Snowflake user for the verified AWS Caller Identity with ARN '{}'",
        role.assumed_role_arn
    );
    assert!(err.to_string().contains(&expected), "{err}");
    assert!(err.to_string().contains("WORKLOAD_IDENTITY"), "{err}");

    // Part II: CREATE USER .. WORKLOAD_IDENTITY = (TYPE = AWS ARN = <role>), and it works.
    emulator
        .trust_aws_role("XY12345", "SVC_POSTETL", ROLE, None)
        .await;
    assert_eq!(current_user(&client).await.unwrap(), "SVC_POSTETL");
    assert_eq!(current_user(&client).await.unwrap(), "SVC_POSTETL");
    accepted_only(&emulator, "WORKLOAD_IDENTITY_FEDERATION").await;

    // Another role of the same account is not trusted.
    let other = emulator
        .aws_role_credentials("arn:aws:iam::123456789012:role/someone-else")
        .await;
    let client = keyless(&emulator, signed_request_identity(&emulator, &other).await);
    let err = current_user(&client).await.unwrap_err();
    assert!(err.to_string().contains(&other.assumed_role_arn), "{err}");
}

#[tokio::test]
async fn a_workload_identity_attestation_with_a_wrong_signature_is_refused() {
    let emulator = emulator_with_user().await;
    emulator
        .trust_aws_role("XY12345", "SVC_POSTETL", ROLE, None)
        .await;
    let mut role = emulator.aws_role_credentials(ROLE).await;
    role.secret_access_key = SecretString::new("not-the-key-sts-issued");
    let client = keyless(&emulator, signed_request_identity(&emulator, &role).await);
    let err = current_user(&client).await.unwrap_err();
    let Error::Unauthorized { code, message, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(code, "390191", "{err}");
    assert!(message.contains("attestation is invalid"), "{err}");
    assert!(!err.to_string().contains("not-the-key"));
}

#[tokio::test]
async fn keyless_without_aws_credentials_is_a_named_error() {
    let emulator = emulator_with_user().await;
    let config = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-2"))
        .build();
    let client = keyless(&emulator, AwsWorkloadIdentity::with_config(config));
    let err = current_user(&client).await.unwrap_err();
    assert_eq!(err.name(), "Snowflake.AwsIdentityUnavailable", "{err}");
    assert!(
        emulator.log().await["requests"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn the_outbound_jwt_form_needs_federation_enabled_and_an_issuer_on_the_user() {
    let emulator = emulator_with_user().await;
    let role = emulator.aws_role_credentials(ROLE).await;
    // The function's STS calls go to the emulated STS, as AWS_ENDPOINT_URL_STS does for a Lambda.
    let sdk = role
        .sdk_config("us-east-2")
        .await
        .into_builder()
        .endpoint_url(emulator.sts_url().as_str())
        .build();
    // The default form.
    let client = keyless(&emulator, AwsWorkloadIdentity::with_config(sdk));

    // The AWS account has not enabled outbound identity federation: STS refuses, by name, and the
    // error says what to run.
    let err = current_user(&client).await.unwrap_err();
    assert_eq!(err.name(), "Snowflake.AwsIdentityUnavailable", "{err}");
    for words in [
        "OutboundWebIdentityFederationDisabledException",
        "aws iam enable-outbound-web-identity-federation",
        "ISSUER",
    ] {
        assert!(err.to_string().contains(words), "{err}");
    }

    // Enabled, but the user trusts the role without an ISSUER: that accepts the signed request only,
    // and the error names the ISSUER to set.
    let issuer = emulator.enable_outbound_federation("123456789012").await;
    emulator
        .trust_aws_role("XY12345", "SVC_POSTETL", ROLE, None)
        .await;
    let err = current_user(&client).await.unwrap_err();
    assert_eq!(err.name(), "Snowflake.Unauthorized", "{err}");
    assert!(
        err.to_string().contains(&format!(
            "Unable to find an associated Snowflake user for the verified AWS Caller Identity with ARN '{ROLE}'"
        )) && err.to_string().contains("ISSUER"),
        "{err}"
    );

    // WORKLOAD_IDENTITY = (TYPE = AWS ARN = .. ISSUER = ..): the JWT is accepted.
    emulator
        .trust_aws_role("XY12345", "SVC_POSTETL", ROLE, Some(&issuer))
        .await;
    assert_eq!(current_user(&client).await.unwrap(), "SVC_POSTETL");
    let accepted = emulator.accepted_requests().await;
    assert!(!accepted.is_empty());
    assert!(
        accepted.iter().all(|r| r["wif_form"] == "jwt"),
        "{accepted:?}"
    );
    let log = emulator.log().await;
    let sts = log["sts"].as_array().unwrap();
    assert!(
        sts.iter()
            .any(|c| c["status"] == 200 && c["signingAlgorithm"] == "ES384"),
        "{sts:?}"
    );
}
