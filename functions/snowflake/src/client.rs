//! The SQL API v2 client: submit, poll, fetch partitions, cancel, and one retry mechanism for
//! every call (429/5xx/network with backoff and jitter, 401 with one credential renewal).

use crate::account::account_url;
use crate::auth::{AuthPolicy, Authenticator, Bearer, Connection, Credentials};
use crate::error::{Error, Result};
use crate::result::{Column, ResultSet, Stats};
use crate::statement::{Body, Statement};
use rand::Rng;
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::OnceCell;
use url::Url;

const STATEMENT_TIMEOUT_CODE: &str = "000630";

/// Backoff for throttled and failed calls: full jitter over a capped exponential.
#[derive(Clone, Debug)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base: Duration,
    pub cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 6,
            base: Duration::from_millis(200),
            cap: Duration::from_secs(8),
        }
    }
}

/// Polling of a running statement: capped exponential with jitter.
#[derive(Clone, Debug)]
pub struct PollPolicy {
    pub first: Duration,
    pub cap: Duration,
}

impl Default for PollPolicy {
    fn default() -> Self {
        Self {
            first: Duration::from_millis(10),
            cap: Duration::from_secs(2),
        }
    }
}

#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// Overrides the account URL: a proxy, or the local emulator in tests and demos.
    pub base_url: Option<Url>,
    /// Connect through `<account>.privatelink.snowflakecomputing.com`.
    pub private_link: bool,
    pub user_agent: String,
    pub retry: RetryPolicy,
    pub poll: PollPolicy,
    pub auth: AuthPolicy,
    /// Ask for a synchronous answer only when this much time is left; Snowflake holds a
    /// synchronous call up to ~45 s before it answers 202.
    pub sync_threshold: Duration,
    /// Limit on any single HTTP exchange.
    pub request_timeout: Duration,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            base_url: None,
            private_link: false,
            user_agent: concat!("postetl/", env!("CARGO_PKG_VERSION")).into(),
            retry: RetryPolicy::default(),
            poll: PollPolicy::default(),
            auth: AuthPolicy::default(),
            sync_threshold: Duration::from_secs(50),
            request_timeout: Duration::from_secs(60),
        }
    }
}

/// Until when to wait for a statement, and what to do when that time comes.
#[derive(Clone, Copy, Debug)]
pub struct Wait {
    pub until: Instant,
    pub on_deadline: OnDeadline,
}

impl Wait {
    pub fn hand_back_after(budget: Duration) -> Self {
        Self {
            until: Instant::now() + budget,
            on_deadline: OnDeadline::HandBack,
        }
    }
    pub fn cancel_after(budget: Duration) -> Self {
        Self {
            until: Instant::now() + budget,
            on_deadline: OnDeadline::Cancel,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnDeadline {
    /// Return the handle; the caller resumes later with [`Client::resume`].
    HandBack,
    /// Cancel the statement and fail with `Snowflake.Timeout`.
    Cancel,
}

/// A statement either finished, or is still running and handed back.
#[derive(Debug)]
pub enum Outcome {
    Done(ResultSet),
    Running { handle: String },
}

/// One per process: holds the HTTP connection pool and the credentials.
#[derive(Clone, Debug)]
pub struct Client {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    http: reqwest::Client,
    auth: Authenticator,
    config: ClientConfig,
    base: OnceCell<Url>,
}

enum Answer {
    Done(RawResult),
    Running(String),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawResult {
    result_set_meta_data: Option<RawMeta>,
    #[serde(default)]
    data: Vec<Vec<Option<String>>>,
    statement_handle: Option<String>,
    #[serde(default)]
    stats: Stats,
    #[serde(default)]
    statement_handles: Vec<String>,
    /// Milliseconds since the epoch.
    created_on: Option<u64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawMeta {
    #[serde(default)]
    row_type: Vec<Column>,
    #[serde(default)]
    partition_info: Vec<serde::de::IgnoredAny>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Status {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
    #[serde(default)]
    sql_state: String,
    statement_handle: Option<String>,
    /// Milliseconds since the epoch.
    created_on: Option<u64>,
}

impl Status {
    fn created_on(&self) -> Option<SystemTime> {
        self.created_on
            .map(|ms| SystemTime::UNIX_EPOCH + Duration::from_millis(ms))
    }
}

struct Call<'a> {
    method: Method,
    path: String,
    query: Vec<(&'static str, String)>,
    body: Option<&'a Statement>,
    deadline: Instant,
}

impl Client {
    /// A client authenticating with `credentials`: a [`crate::SecretSource`] (key pair, programmatic
    /// access token or OAuth token in a secret) or [`Credentials::AwsWorkloadIdentity`].
    pub fn new(credentials: impl Into<Credentials>, config: ClientConfig) -> Result<Self> {
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls_config()?)
            .user_agent(&config.user_agent)
            .pool_idle_timeout(Duration::from_secs(60))
            .tcp_keepalive(Duration::from_secs(30))
            .build()
            .map_err(|e| Error::InvalidConfig(format!("HTTP client: {e}")))?;
        let auth = Authenticator::new(credentials.into(), config.auth.clone(), http.clone());
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                auth,
                config,
                base: OnceCell::new(),
            }),
        })
    }

    /// The connection settings (role, warehouse, database, schema).
    pub async fn connection(&self) -> Result<Arc<Connection>> {
        self.inner.auth.connection().await
    }

    /// Submits a statement and waits for it until `wait.until`.
    ///
    /// A statement with a derived request id runs at most once while it succeeds: Snowflake
    /// returns the earlier answer. If that earlier answer is a failure (an SQL error, a
    /// cancellation, a timeout: nothing was applied), the statement runs again under the next
    /// request id of its line (`Statement::rerun`), so a replayed event or a redrive re-runs what
    /// failed and only that. A failure Snowflake started during this call is this call's answer.
    pub async fn execute(&self, statement: &Statement, wait: Wait) -> Result<Outcome> {
        check_timeout(statement)?;
        let mut current = std::borrow::Cow::Borrowed(statement);
        for rerun in 1..=MAX_RERUNS {
            let sent_at = SystemTime::now() - CLOCK_SKEW;
            match self.submit(&current, wait).await {
                Err(e) if current.maybe_sent_before && e.failed_before(sent_at) => {
                    tracing::warn!(request_id = %current.request_id, rerun, error = %e,
                        "an earlier attempt of this statement failed; running it again under a new request id");
                    current = std::borrow::Cow::Owned(statement.rerun(rerun));
                }
                answer => return answer,
            }
        }
        self.submit(&current, wait).await
    }

    async fn submit(&self, statement: &Statement, wait: Wait) -> Result<Outcome> {
        let remaining = wait.until.saturating_duration_since(Instant::now());
        let asynchronous = remaining < self.inner.config.sync_threshold;
        let mut query = vec![
            ("requestId", statement.request_id.to_string()),
            ("async", asynchronous.to_string()),
            ("nullable", "true".to_string()),
        ];
        if statement.maybe_sent_before {
            query.push(("retry", "true".to_string()));
        }
        let call = Call {
            method: Method::POST,
            path: "api/v2/statements".into(),
            query,
            body: Some(statement),
            deadline: wait.until,
        };
        tracing::debug!(request_id = %statement.request_id, asynchronous, "submitting statement");
        let answer = self.call(call).await?;
        self.finish(answer, wait).await
    }

    /// Waits again for a statement handed back earlier (possibly by another invocation).
    pub async fn resume(&self, handle: &str, wait: Wait) -> Result<Outcome> {
        check_handle(handle)?;
        self.finish(Answer::Running(handle.to_string()), wait).await
    }

    /// Runs a statement and waits for its result, cancelling it after `budget`.
    pub async fn query(&self, statement: &Statement, budget: Duration) -> Result<ResultSet> {
        match self.execute(statement, Wait::cancel_after(budget)).await? {
            Outcome::Done(result) => Ok(result),
            Outcome::Running { handle } => Err(Error::Protocol(format!(
                "statement {handle} still running after cancel"
            ))),
        }
    }

    /// The result of a finished statement, e.g. one of a multi-statement request's handles.
    pub async fn fetch(&self, handle: &str, budget: Duration) -> Result<ResultSet> {
        check_handle(handle)?;
        match self
            .finish(
                Answer::Running(handle.to_string()),
                Wait::cancel_after(budget),
            )
            .await?
        {
            Outcome::Done(result) => Ok(result),
            Outcome::Running { handle } => {
                Err(Error::Protocol(format!("statement {handle} still running")))
            }
        }
    }

    /// Asks Snowflake to cancel a statement; finished statements stay as they are.
    pub async fn cancel(&self, handle: &str) -> Result<()> {
        check_handle(handle)?;
        let call = Call {
            method: Method::POST,
            path: format!("api/v2/statements/{handle}/cancel"),
            query: vec![("requestId", uuid::Uuid::new_v4().to_string())],
            body: None,
            deadline: Instant::now() + self.inner.config.request_timeout,
        };
        match self.call(call).await {
            Ok(_) => Ok(()),
            // Cancelling answers with the cancelled statement's status on some paths.
            Err(Error::Sql { code, .. }) if code == "000604" => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Polls until done or the deadline, then fetches every partition.
    async fn finish(&self, mut answer: Answer, wait: Wait) -> Result<Outcome> {
        let poll = &self.inner.config.poll;
        let mut delay = poll.first;
        loop {
            let handle = match answer {
                Answer::Done(raw) => return self.collect(raw, wait.until).await.map(Outcome::Done),
                Answer::Running(handle) => handle,
            };
            let now = Instant::now();
            if now + delay >= wait.until {
                return match wait.on_deadline {
                    OnDeadline::HandBack => Ok(Outcome::Running { handle }),
                    OnDeadline::Cancel => {
                        if let Err(e) = self.cancel(&handle).await {
                            tracing::warn!(%handle, error = %e, "cancel after deadline failed");
                        }
                        Err(Error::Timeout {
                            message: "the caller's deadline passed; statement cancelled".into(),
                            handle: Some(handle),
                            created_on: None,
                        })
                    }
                };
            }
            tokio::time::sleep(jitter(delay)).await;
            delay = (delay * 2).min(poll.cap);
            answer = self
                .call(Call {
                    method: Method::GET,
                    path: format!("api/v2/statements/{handle}"),
                    query: vec![],
                    body: None,
                    deadline: wait.until,
                })
                .await?;
        }
    }

    async fn collect(&self, raw: RawResult, deadline: Instant) -> Result<ResultSet> {
        let handle = raw.statement_handle.unwrap_or_default();
        let meta = raw.result_set_meta_data;
        let partitions = meta.as_ref().map_or(1, |m| m.partition_info.len().max(1));
        let mut rows = raw.data;
        for partition in 1..partitions {
            let answer = self
                .call(Call {
                    method: Method::GET,
                    path: format!("api/v2/statements/{handle}"),
                    query: vec![("partition", partition.to_string())],
                    body: None,
                    deadline: deadline.max(Instant::now() + self.inner.config.request_timeout),
                })
                .await?;
            match answer {
                Answer::Done(part) => rows.extend(part.data),
                Answer::Running(_) => {
                    return Err(Error::Protocol(format!(
                        "partition {partition} of a finished statement answered 202"
                    )));
                }
            }
        }
        Ok(ResultSet {
            handle,
            columns: meta.map(|m| m.row_type).unwrap_or_default(),
            rows,
            stats: raw.stats,
            statement_handles: raw.statement_handles,
            created_on: raw
                .created_on
                .map(|ms| SystemTime::UNIX_EPOCH + Duration::from_millis(ms)),
        })
    }

    async fn base_url(&self, connection: &Connection) -> Result<&Url> {
        self.inner
            .base
            .get_or_try_init(|| async {
                match &self.inner.config.base_url {
                    Some(url) => Ok(url.clone()),
                    None => account_url(&connection.account, self.inner.config.private_link),
                }
            })
            .await
    }

    /// One API call with the shared retry rules. Re-sent submissions always carry `retry=true`
    /// with the same requestId, so Snowflake returns the first run instead of starting another.
    async fn call(&self, mut call: Call<'_>) -> Result<Answer> {
        let config = &self.inner.config;
        let started = Instant::now();
        let mut renewed = false;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let bearer = self.inner.auth.bearer().await?;
            let request = self.request(&call, &bearer).await?;
            let failure = match request.send().await {
                Err(e) => Failure::Unavailable(format!("network: {}", e.without_url())),
                Ok(response) => {
                    let status = response.status();
                    tracing::debug!(method = %call.method, path = %call.path, status = status.as_u16(), attempt, "snowflake answered");
                    match status {
                        StatusCode::OK => return Ok(Answer::Done(json(response).await?)),
                        StatusCode::ACCEPTED => {
                            let s: Status = json(response).await?;
                            let handle = s.statement_handle.ok_or_else(|| {
                                Error::Protocol("202 without a statementHandle".into())
                            })?;
                            check_handle(&handle)?;
                            return Ok(Answer::Running(handle));
                        }
                        StatusCode::UNAUTHORIZED => {
                            let s = status_body(response).await;
                            if renewed {
                                return Err(Error::Unauthorized {
                                    code: s.code,
                                    message: s.message,
                                    credential: bearer.describes.to_string(),
                                });
                            }
                            // The key or token may have been rotated, the attestation may have
                            // aged: load the credentials again, once.
                            renewed = true;
                            self.inner.auth.renew(&bearer).await?;
                            continue;
                        }
                        StatusCode::REQUEST_TIMEOUT => {
                            let s = status_body(response).await;
                            return Err(Error::Timeout {
                                message: format!("{} {}", s.code, s.message).trim().to_string(),
                                created_on: s.created_on(),
                                handle: s.statement_handle,
                            });
                        }
                        StatusCode::UNPROCESSABLE_ENTITY => {
                            let s = status_body(response).await;
                            // 000630: the statement hit its timeout and was cancelled; reported
                            // through a poll as 422 rather than the submit's 408.
                            if s.code == STATEMENT_TIMEOUT_CODE {
                                return Err(Error::Timeout {
                                    created_on: s.created_on(),
                                    message: s.message,
                                    handle: s.statement_handle,
                                });
                            }
                            return Err(Error::Sql {
                                created_on: s.created_on(),
                                code: s.code,
                                sql_state: s.sql_state,
                                message: s.message,
                                handle: s.statement_handle,
                            });
                        }
                        StatusCode::TOO_MANY_REQUESTS => Failure::Throttled,
                        StatusCode::INTERNAL_SERVER_ERROR
                        | StatusCode::BAD_GATEWAY
                        | StatusCode::SERVICE_UNAVAILABLE
                        | StatusCode::GATEWAY_TIMEOUT => {
                            Failure::Unavailable(format!("HTTP {}", status.as_u16()))
                        }
                        other => {
                            let s = status_body(response).await;
                            return Err(Error::Rejected {
                                status: other.as_u16(),
                                code: s.code,
                                message: s.message,
                            });
                        }
                    }
                }
            };
            let pause = jitter_full(backoff(&config.retry, attempt));
            let out_of_budget =
                attempt >= config.retry.max_attempts || Instant::now() + pause >= call.deadline;
            if out_of_budget {
                return Err(match failure {
                    Failure::Throttled => Error::Throttled {
                        attempts: attempt,
                        elapsed: started.elapsed(),
                    },
                    Failure::Unavailable(reason) => Error::Unavailable {
                        attempts: attempt,
                        reason,
                    },
                });
            }
            tracing::info!(path = %call.path, attempt, ?pause, reason = %failure, "retrying Snowflake call");
            tokio::time::sleep(pause).await;
            if call.method == Method::POST && !call.query.iter().any(|(k, _)| *k == "retry") {
                call.query.push(("retry", "true".into()));
            }
        }
    }

    async fn request(&self, call: &Call<'_>, bearer: &Bearer) -> Result<reqwest::RequestBuilder> {
        let base = self.base_url(&bearer.connection).await?;
        let url = base
            .join(&call.path)
            .map_err(|e| Error::InvalidConfig(format!("URL: {e}")))?;
        let timeout = self
            .inner
            .config
            .request_timeout
            .min(call.deadline.saturating_duration_since(Instant::now()))
            .max(Duration::from_secs(1));
        let mut request = self
            .inner
            .http
            .request(call.method.clone(), url)
            .query(&call.query)
            .bearer_auth(bearer.token.expose())
            .header("X-Snowflake-Authorization-Token-Type", bearer.token_type)
            .header(reqwest::header::ACCEPT, "application/json")
            .timeout(timeout);
        if let Some(statement) = call.body {
            request = request.json(&body(statement, &bearer.connection));
        } else if call.method == Method::POST {
            request = request.header(reqwest::header::CONTENT_TYPE, "application/json");
        }
        Ok(request)
    }
}

/// How many times one statement may be re-run after earlier failures (a bound, not a budget:
/// each re-run is a replay or redrive a person or EventBridge started; past it, `runKey` in a
/// console input starts the line afresh).
const MAX_RERUNS: u32 = 10;
/// Lambda's and Snowflake's clocks (both NTP-synced on AWS) may differ by this much; a failure
/// Snowflake started within it counts as this call's own. A replay comes seconds later at least.
const CLOCK_SKEW: Duration = Duration::from_millis(250);

/// The SQL API's `timeout` is at most 604,800 s (7 days, "Submitting a request to execute SQL
/// statements"); 0 means that maximum, so a statement without one leaves the field out and the
/// account's STATEMENT_TIMEOUT_IN_SECONDS applies.
pub const MAX_STATEMENT_TIMEOUT: Duration = Duration::from_secs(604_800);

fn check_timeout(s: &Statement) -> Result<()> {
    match s.timeout {
        Some(t) if t > MAX_STATEMENT_TIMEOUT => Err(Error::InvalidConfig(format!(
            "statement timeout {} s is above the SQL API's maximum of {} s",
            t.as_secs(),
            MAX_STATEMENT_TIMEOUT.as_secs()
        ))),
        _ => Ok(()),
    }
}

/// TLS for the Snowflake API (and the secrets extension): rustls with the ring provider, and the
/// platform's roots, verified by rustls-platform-verifier (on Linux the system bundle, or the
/// files SSL_CERT_FILE / SSL_CERT_DIR name, as rustls-native-certs documents). Not AWS-LC, reqwest's
/// default: its first random bytes in a process wait for CPU-jitter entropy, ~30 ms that every cold
/// start paid in its first handshake (aws/aws-lc-rs#1140); ring reads getrandom(2) and does not wait.
fn tls_config() -> Result<rustls::ClientConfig> {
    use rustls_platform_verifier::BuilderVerifierExt;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|builder| builder.with_platform_verifier())
        .map_err(|e| Error::InvalidConfig(format!("TLS: {e}")))?
        .with_no_client_auth();
    // What reqwest offers when it builds the config itself: HTTP/2, else HTTP/1.1.
    tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(tls)
}

fn body<'a>(s: &'a Statement, c: &'a Connection) -> Body<'a> {
    let mut parameters = BTreeMap::new();
    if let Some(tag) = &s.query_tag {
        parameters.insert("query_tag", tag.clone());
    }
    if let Some(count) = s.statement_count {
        parameters.insert("multi_statement_count", count.to_string());
    }
    Body {
        statement: &s.sql,
        timeout: s.timeout.map(|t| t.as_secs().max(1)),
        database: Some(s.database.as_deref().unwrap_or(&c.database)),
        schema: Some(s.schema.as_deref().unwrap_or(&c.schema)),
        warehouse: Some(s.warehouse.as_deref().unwrap_or(&c.warehouse)),
        role: Some(s.role.as_deref().unwrap_or(&c.role)),
        bindings: s
            .bindings
            .iter()
            .enumerate()
            .map(|(i, b)| ((i + 1).to_string(), b))
            .collect(),
        parameters,
    }
}

enum Failure {
    Throttled,
    Unavailable(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Throttled => f.write_str("throttled (429)"),
            Failure::Unavailable(reason) => f.write_str(reason),
        }
    }
}

async fn json<T: serde::de::DeserializeOwned>(response: reqwest::Response) -> Result<T> {
    let bytes = response.bytes().await.map_err(|e| Error::Unavailable {
        attempts: 1,
        reason: format!("reading the answer: {}", e.without_url()),
    })?;
    serde_json::from_slice(&bytes).map_err(|e| Error::Protocol(format!("malformed answer: {e}")))
}

async fn status_body(response: reqwest::Response) -> Status {
    let bytes = response.bytes().await.unwrap_or_default();
    serde_json::from_slice(&bytes).unwrap_or_else(|_| Status {
        message: String::from_utf8_lossy(&bytes).chars().take(500).collect(),
        ..Status::default()
    })
}

/// Handles come back from Snowflake and through the state machine: accept only their alphabet,
/// so one can never rewrite the request path.
fn check_handle(handle: &str) -> Result<()> {
    let ok = !handle.is_empty()
        && handle.len() <= 128
        && handle
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(Error::Protocol(format!(
            "not a statement handle: {:?}",
            handle.chars().take(80).collect::<String>()
        )))
    }
}

fn backoff(policy: &RetryPolicy, attempt: u32) -> Duration {
    let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(16));
    policy.base.saturating_mul(factor).min(policy.cap)
}

/// Between half and all of `d`: polls stay regular but do not synchronise.
fn jitter(d: Duration) -> Duration {
    let half = d / 2;
    half + half.mul_f64(rand::rng().random::<f64>())
}

/// Anywhere from zero to `d` ("full jitter"), for retries after throttling.
fn jitter_full(d: Duration) -> Duration {
    d.mul_f64(rand::rng().random::<f64>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let p = RetryPolicy {
            max_attempts: 10,
            base: Duration::from_millis(100),
            cap: Duration::from_secs(1),
        };
        let got: Vec<u128> = (1..=6).map(|a| backoff(&p, a).as_millis()).collect();
        assert_eq!(got, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(backoff(&p, 1000), Duration::from_secs(1));
        for _ in 0..100 {
            assert!(jitter_full(Duration::from_millis(100)) <= Duration::from_millis(100));
            let j = jitter(Duration::from_millis(100));
            assert!(j >= Duration::from_millis(50) && j <= Duration::from_millis(100));
        }
    }

    #[test]
    fn a_statement_without_a_timeout_leaves_it_to_the_account() {
        let connection = Connection {
            account: "A".into(),
            user: None,
            role: "R".into(),
            warehouse: "W".into(),
            database: "D".into(),
            schema: "S".into(),
        };
        let plain = Statement::new("SELECT 1");
        let json = serde_json::to_value(body(&plain, &connection)).unwrap();
        assert!(json.get("timeout").is_none(), "{json}");
        let timed = Statement::new("SELECT 1").timeout(Duration::from_secs(1800));
        assert_eq!(
            serde_json::to_value(body(&timed, &connection)).unwrap()["timeout"],
            1800
        );
        assert!(check_timeout(&timed).is_ok());
        let week = Statement::new("SELECT 1").timeout(MAX_STATEMENT_TIMEOUT);
        assert!(check_timeout(&week).is_ok());
        let longer =
            Statement::new("SELECT 1").timeout(MAX_STATEMENT_TIMEOUT + Duration::from_secs(1));
        let err = check_timeout(&longer).unwrap_err();
        assert_eq!(err.name(), "Snowflake.InvalidConfig");
        assert!(err.to_string().contains("604800"), "{err}");
    }

    #[test]
    fn handles_cannot_rewrite_paths() {
        assert!(check_handle("01b2c3d4-0000-1111-0000-000000000001").is_ok());
        for bad in ["", "../x", "a/b", "a?b", "a b", "%2e%2e"] {
            assert!(check_handle(bad).is_err(), "{bad}");
        }
    }
}
