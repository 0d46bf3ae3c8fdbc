//! The Snowflake SQL API emulator (tests/emulator) on a free loopback port, and its admin API.

use crate::process::ServerProcess;
use serde_json::{Value, json};
use snowflake::SecretString;
use std::process::Command;
use url::Url;

pub struct Emulator {
    #[allow(dead_code)] // held for its Drop, which stops the server
    process: ServerProcess,
    base: Url,
    http: reqwest::Client,
}

/// A fault the emulator injects, in its admin API's JSON form.
pub struct Fault(pub Value);

/// AWS session credentials for a role, as Lambda hands them to a function.
pub struct AwsRoleCredentials {
    pub access_key_id: String,
    pub secret_access_key: SecretString,
    pub session_token: SecretString,
    /// `arn:aws:sts::<account>:assumed-role/<role>/<session>`: who STS says the caller is.
    pub assumed_role_arn: String,
}

impl AwsRoleCredentials {
    /// An SDK configuration signing with these credentials in `region`.
    pub async fn sdk_config(&self, region: &str) -> aws_config::SdkConfig {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(region.to_string()))
            .credentials_provider(aws_sdk_glue::config::Credentials::new(
                &self.access_key_id,
                self.secret_access_key.expose(),
                Some(self.session_token.expose().to_string()),
                None,
                "emulator-sts",
            ))
            .load()
            .await
    }

    /// The environment variables Lambda sets for a function's role.
    pub fn lambda_env(&self) -> Vec<(String, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID".into(), self.access_key_id.clone()),
            (
                "AWS_SECRET_ACCESS_KEY".into(),
                self.secret_access_key.expose().to_string(),
            ),
            (
                "AWS_SESSION_TOKEN".into(),
                self.session_token.expose().to_string(),
            ),
        ]
    }
}

impl Fault {
    /// Answer `status` on the next `times` calls of kind `on` ("submit", "poll", "cancel", "any").
    pub fn status(on: &str, status: u16, times: u32) -> Self {
        Self(json!({"on": on, "action": "status", "status": status, "times": times}))
    }
    /// Close the connection without answering.
    pub fn drop_connection(on: &str, times: u32) -> Self {
        Self(json!({"on": on, "action": "drop", "times": times}))
    }
    /// Run the statement, then answer `status` instead of its result.
    pub fn status_after_execute(status: u16) -> Self {
        Self(
            json!({"on": "submit", "action": "status_after_execute", "status": status, "times": 1}),
        )
    }
    /// Run the statement, then close the connection instead of answering.
    pub fn drop_after_execute() -> Self {
        Self(json!({"on": "submit", "action": "drop_after_execute", "times": 1}))
    }
    /// The statement itself runs `seconds` longer (cancellable), like a long MERGE.
    pub fn slow(seconds: f64) -> Self {
        Self(json!({"on": "submit", "action": "slow", "seconds": seconds, "times": 1}))
    }
    /// Only for statements whose text contains `text`.
    pub fn matching(mut self, text: &str) -> Self {
        self.0["statement_contains"] = json!(text);
        self
    }
    /// On the next `times` matching calls instead of one.
    pub fn times(mut self, times: u32) -> Self {
        self.0["times"] = json!(times);
        self
    }
}

impl Emulator {
    pub fn start() -> Self {
        let mut command = Command::new(crate::python());
        command.args([
            "-m",
            "snowflake_emulator",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--exit-on-stdin-eof",
        ]);
        let process = ServerProcess::spawn(
            "the Snowflake emulator",
            command,
            &crate::repo_root().join("tests/emulator"),
            "EMULATOR_LOG",
        );
        Self {
            base: process.url.clone(),
            process,
            http: reqwest::Client::new(),
        }
    }

    /// The base URL to give the client (`ClientConfig::base_url`).
    pub fn url(&self) -> Url {
        self.base.clone()
    }

    async fn admin(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self.http.request(method, self.base.join(path).unwrap());
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("emulator admin call");
        let status = response.status();
        let value: Value = response.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "{path}: {status} {value}");
        value
    }

    /// Any admin call with a JSON body (see tests/emulator/README.md).
    pub async fn admin_post(&self, path: &str, body: Value) -> Value {
        self.admin(reqwest::Method::POST, path, Some(body)).await
    }

    /// Any admin GET.
    pub async fn admin_get(&self, path: &str) -> Value {
        self.admin(reqwest::Method::GET, path, None).await
    }

    /// An emulator with user SVC_POSTETL of account XY12345 (holding `public_keys`, up to two) and
    /// the database, schema and warehouse the test secrets name as the session's defaults.
    pub async fn with_service_user(public_keys: &[&str]) -> Self {
        let emulator = Self::start();
        emulator
            .register_user("XY12345", "SVC_POSTETL", public_keys)
            .await;
        emulator
            .sql(
                "CREATE DATABASE IF NOT EXISTS ANALYTICS; CREATE SCHEMA IF NOT EXISTS ANALYTICS.PUBLIC; \
                 CREATE WAREHOUSE IF NOT EXISTS POSTETL_WH WITH WAREHOUSE_SIZE = 'XSMALL' INITIALLY_SUSPENDED = TRUE",
            )
            .await;
        emulator
    }

    /// Registers a user with up to two public keys (RSA_PUBLIC_KEY, RSA_PUBLIC_KEY_2).
    pub async fn register_user(&self, account: &str, user: &str, public_keys: &[&str]) -> Value {
        self.admin(
            reqwest::Method::POST,
            "_emulator/users",
            Some(json!({"account": account, "user": user, "public_keys": public_keys})),
        )
        .await
    }

    /// Sets both key slots of a user (RSA_PUBLIC_KEY, RSA_PUBLIC_KEY_2); `None` unsets a slot.
    pub async fn set_keys(
        &self,
        account: &str,
        user: &str,
        rsa_public_key: Option<&str>,
        rsa_public_key_2: Option<&str>,
    ) -> Value {
        self.admin_post(
            "_emulator/users/keys",
            json!({"account": account, "user": user,
                   "rsa_public_key": rsa_public_key, "rsa_public_key_2": rsa_public_key_2}),
        )
        .await
    }

    /// ALTER USER .. ADD PROGRAMMATIC ACCESS TOKEN: the token's secret, shown once.
    pub async fn add_pat(&self, account: &str, user: &str, name: &str) -> SecretString {
        let v = self
            .admin_post(
                "_emulator/users/pat",
                json!({"account": account, "user": user, "name": name}),
            )
            .await;
        SecretString::new(v["token"].as_str().expect("a token").to_string())
    }

    /// ALTER USER .. REMOVE PROGRAMMATIC ACCESS TOKEN.
    pub async fn remove_pat(&self, account: &str, user: &str, name: &str) {
        self.admin_post(
            "_emulator/users/pat/remove",
            json!({"account": account, "user": user, "name": name}),
        )
        .await;
    }

    /// ALTER USER .. ADD WORKLOAD IDENTITY (TYPE = AWS ARN = .. [ISSUER = ..]): with an issuer the
    /// user accepts the outbound JWT form only, without one the signed request only.
    pub async fn trust_aws_role(&self, account: &str, user: &str, arn: &str, issuer: Option<&str>) {
        let mut identity = json!({"type": "AWS", "arn": arn});
        if let Some(issuer) = issuer {
            identity["issuer"] = json!(issuer);
        }
        self.admin_post(
            "_emulator/users/workload_identities",
            json!({"account": account, "user": user, "add": identity}),
        )
        .await;
    }

    /// `aws iam enable-outbound-web-identity-federation` for an AWS account: the issuer URL of the
    /// JWTs the emulator's STS then signs for it (`GetWebIdentityToken` at [`Self::sts_url`]).
    pub async fn enable_outbound_federation(&self, aws_account: &str) -> String {
        let v = self
            .admin_post(
                "_emulator/aws/outbound_federation",
                json!({"account": aws_account}),
            )
            .await;
        v["issuer"].as_str().expect("an issuer").to_string()
    }

    /// The emulated STS endpoint (`AWS_ENDPOINT_URL_STS`).
    pub fn sts_url(&self) -> Url {
        self.url().join("_emulator/sts").unwrap()
    }

    /// Session credentials for `role_arn` from the emulator's STS stand-in (what Lambda gets for
    /// the function's role); the emulator verifies attestations signed with them.
    pub async fn aws_role_credentials(&self, role_arn: &str) -> AwsRoleCredentials {
        let v = self
            .admin_post("_emulator/aws/credentials", json!({"roleArn": role_arn}))
            .await;
        let field = |name: &str| v[name].as_str().expect(name).to_string();
        AwsRoleCredentials {
            access_key_id: field("accessKeyId"),
            secret_access_key: SecretString::new(field("secretAccessKey")),
            session_token: SecretString::new(field("sessionToken")),
            assumed_role_arn: field("arn"),
        }
    }

    /// CREATE SECURITY INTEGRATION .. TYPE = EXTERNAL_OAUTH, trusting `public_pem` for `issuer`.
    pub async fn add_external_oauth(
        &self,
        account: &str,
        issuer: &str,
        audience: &str,
        public_pem: &str,
    ) {
        self.admin_post(
            "_emulator/oauth/integrations",
            json!({"name": "POSTETL_IDP", "account": account, "issuer": issuer,
                   "audiences": [audience], "publicKey": public_pem}),
        )
        .await;
    }

    /// Requests the emulator answered 401, in order.
    pub async fn rejected_requests(&self) -> Vec<Value> {
        self.requests_where(|r| r["status"] == 401).await
    }

    /// Requests that passed authentication, in order.
    pub async fn accepted_requests(&self) -> Vec<Value> {
        self.requests_where(|r| r["status"] != 401).await
    }

    async fn requests_where(&self, keep: impl Fn(&Value) -> bool) -> Vec<Value> {
        self.log().await["requests"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| keep(r))
            .cloned()
            .collect()
    }

    /// Runs SQL directly (fixtures, assertions); returns the rows as JSON values.
    pub async fn sql(&self, statement: &str) -> Vec<Vec<Value>> {
        let v = self
            .admin(
                reqwest::Method::POST,
                "_emulator/sql",
                Some(json!({"statement": statement})),
            )
            .await;
        serde_json::from_value(v["rows"].clone()).unwrap_or_default()
    }

    pub async fn configure(&self, config: Value) -> Value {
        self.admin(reqwest::Method::POST, "_emulator/config", Some(config))
            .await
    }

    pub async fn inject(&self, faults: impl IntoIterator<Item = Fault>) {
        let faults: Vec<Value> = faults.into_iter().map(|f| f.0).collect();
        self.admin(
            reqwest::Method::POST,
            "_emulator/faults",
            Some(json!({"faults": faults})),
        )
        .await;
    }

    pub async fn clear_faults(&self) {
        self.admin(reqwest::Method::DELETE, "_emulator/faults", None)
            .await;
    }

    /// Statements that really ran (never a de-duplicated re-send), and every HTTP request.
    pub async fn log(&self) -> Value {
        self.admin(reqwest::Method::GET, "_emulator/log", None)
            .await
    }

    /// The statements that ran for the pipeline's work: the execution log without the run
    /// ledger's own writes (query tag item "ledger").
    pub async fn work_executions(&self) -> Vec<Value> {
        self.log().await["executions"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| {
                !e["query_tag"]
                    .as_str()
                    .is_some_and(|t| t.contains(r#""item":"ledger""#))
            })
            .cloned()
            .collect()
    }

    /// How many statements containing `text` ran, the run ledger's own writes left out (they
    /// carry the query tag item "ledger").
    pub async fn executions_of(&self, text: &str) -> usize {
        self.log().await["executions"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["statement"].as_str().is_some_and(|s| s.contains(text)))
            .filter(|e| {
                !e["query_tag"]
                    .as_str()
                    .is_some_and(|t| t.contains(r#""item":"ledger""#))
            })
            .count()
    }

    pub async fn warehouses(&self) -> Value {
        self.admin(reqwest::Method::GET, "_emulator/warehouses", None)
            .await["warehouses"]
            .clone()
    }
}
