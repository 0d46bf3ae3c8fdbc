//! What every step Lambda shares: tracing set-up, the config and Snowflake client built once per
//! cold start, the time budget of an invocation, and how statements are tagged and identified.

use crate::config::{Config, Pipeline};
use crate::env_vars::*;
use crate::error::StepError;
use crate::ledger::{Entry, Sent};
use crate::step_id::StepId;
use crate::steps::Run;
use snowflake::{
    AttestationForm, AwsConfig, AwsWorkloadIdentity, Client, ClientConfig, Connection, Credentials,
    Outcome, ResultSet, SecretSource, Statement, Wait, derive_request_id,
};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// Where the config is read from unless `POSTETL_CONFIG` says otherwise: the config layer.
pub const DEFAULT_CONFIG_PATH: &str = "/opt/postetl/pipelines.toml";

/// JSON logs on Lambda (CloudWatch parses them), readable text elsewhere. `RUST_LOG` filters.
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    if std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some() {
        builder
            .json()
            .with_current_span(false)
            .without_time()
            .init();
    } else {
        builder.with_writer(std::io::stderr).init();
    }
}

/// The deployed pipeline config as this process loaded it at cold start, or why it could not:
/// an invalid config does not stop the process, each invocation then fails with `Config.Invalid`,
/// a name the state machine can catch, instead of an opaque init failure.
#[derive(Clone)]
pub struct Deployed(Result<Arc<Config>, Arc<crate::config::ConfigError>>);

impl Deployed {
    /// From `POSTETL_CONFIG`, else the config layer's [`DEFAULT_CONFIG_PATH`].
    pub fn from_env() -> Self {
        let path = std::env::var_os(POSTETL_CONFIG)
            .map(PathBuf::from)
            .unwrap_or_else(|| DEFAULT_CONFIG_PATH.into());
        Self::load(&path)
    }

    pub fn load(path: &std::path::Path) -> Self {
        let config = Config::load_deployed(path).map(Arc::new).map_err(Arc::new);
        if let Err(e) = &config {
            tracing::error!(error = %e, "the pipeline config is invalid");
        }
        Self(config)
    }

    pub fn new(config: Config) -> Self {
        Self(Ok(Arc::new(config)))
    }

    pub fn config(&self) -> Result<&Config, StepError> {
        self.0.as_deref().map_err(|e| StepError::Config(e.clone()))
    }
}

/// Built once per process and shared by every invocation of a step that talks to Snowflake.
#[derive(Clone)]
pub struct Env {
    pub deployed: Deployed,
    pub snowflake: Client,
    /// Set once this process has made sure the ledger table exists.
    ledger_ready: Arc<tokio::sync::OnceCell<()>>,
}

impl Env {
    /// From the environment: the deployed config (see [`Deployed::from_env`]), the Snowflake
    /// credentials (see [`credentials_from_env`]), optional `SNOWFLAKE_BASE_URL` and
    /// `SNOWFLAKE_PRIVATE_LINK=true`. `aws` is the process's one SDK configuration, for the
    /// secret or the workload identity.
    pub fn from_env(aws: &AwsConfig) -> Result<Self, StepError> {
        Ok(Self::with(Deployed::from_env(), client_from_env(aws)?))
    }

    /// Loads the config at `path`; if it is invalid, every step invocation reports why.
    pub fn load(path: &std::path::Path, snowflake: Client) -> Self {
        Self::with(Deployed::load(path), snowflake)
    }

    /// For tests and local tools that hold a config and a client already.
    pub fn new(config: Config, snowflake: Client) -> Self {
        Self::with(Deployed::new(config), snowflake)
    }

    fn with(deployed: Deployed, snowflake: Client) -> Self {
        Self {
            deployed,
            snowflake,
            ledger_ready: Arc::default(),
        }
    }

    pub fn config(&self) -> Result<&Config, StepError> {
        self.deployed.config()
    }

    /// The context for one invocation of `step` in `run`: its id goes into every request id.
    pub fn step<'a>(
        &'a self,
        run: &'a Run,
        step: StepId,
        deadline: SystemTime,
    ) -> Result<Step<'a>, StepError> {
        let pipeline = self
            .config()?
            .pipeline(&run.pipeline)
            .ok_or_else(|| StepError::UnknownPipeline(run.pipeline.clone()))?;
        Ok(Step {
            env: self,
            run,
            step: step.as_str(),
            pipeline,
            budget: budget(deadline),
            started: SystemTime::now(),
            sent: Mutex::default(),
        })
    }
}

/// The Snowflake client the environment describes: credentials (see [`credentials_from_env`]),
/// optional `SNOWFLAKE_BASE_URL` and `SNOWFLAKE_PRIVATE_LINK=true`. The Lambdas and the CLI use it.
pub fn client_from_env(aws: &AwsConfig) -> Result<Client, StepError> {
    let credentials = credentials_from_env(|name| std::env::var(name).ok(), aws)?;
    let mut client = ClientConfig::default();
    if let Ok(url) = std::env::var(SNOWFLAKE_BASE_URL) {
        client.base_url =
            Some(url.parse().map_err(|e| {
                StepError::Environment(format!("{SNOWFLAKE_BASE_URL} {url:?}: {e}"))
            })?);
    }
    client.private_link = std::env::var(SNOWFLAKE_PRIVATE_LINK).is_ok_and(|v| v == "true");
    Ok(Client::new(credentials, client)?)
}

/// The Snowflake credentials `SNOWFLAKE_AUTH` names:
/// - `secret` (the default): the secret named by `POSTETL_SECRET_ID` (name or ARN; the secret itself
///   never passes through the environment), holding a key pair, a programmatic access token or an
///   OAuth token;
/// - `workload_identity`: keyless, the function's IAM role; the connection settings a secret would
///   carry come from `SNOWFLAKE_ACCOUNT`, `SNOWFLAKE_ROLE`, `SNOWFLAKE_WAREHOUSE`,
///   `SNOWFLAKE_DATABASE`, `SNOWFLAKE_SCHEMA` and optionally `SNOWFLAKE_USER` (for logs only).
///   The role is proven with an STS `GetWebIdentityToken` JWT, the form Snowflake documents for the
///   SQL API; `SNOWFLAKE_ENABLE_AWS_WIF_OUTBOUND_TOKEN=false` (the Python connector's name) opts
///   into a signed `GetCallerIdentity` request instead, which Snowflake does not document there.
///
/// Both read AWS through `aws`, the process's one SDK configuration.
pub fn credentials_from_env(
    var: impl Fn(&str) -> Option<String>,
    aws: &AwsConfig,
) -> Result<Credentials, StepError> {
    let get = |name: &str| {
        var(name)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    match get(SNOWFLAKE_AUTH).as_deref() {
        None | Some("secret") => {
            let secret_id = get(POSTETL_SECRET_ID).ok_or_else(|| {
                StepError::Environment(format!(
                    "{POSTETL_SECRET_ID} is not set ({SNOWFLAKE_AUTH}=secret)"
                ))
            })?;
            let extension = snowflake::Extension::from_values(
                get(snowflake::EXTENSION_PORT_VAR).as_deref(),
                var(snowflake::SESSION_TOKEN_VAR),
            );
            Ok(SecretSource::aws_with(secret_id, aws.clone(), extension).into())
        }
        Some("workload_identity") => {
            let mut missing = Vec::new();
            let mut required = |name: &'static str| {
                get(name).unwrap_or_else(|| {
                    missing.push(name);
                    String::new()
                })
            };
            let connection = Connection {
                account: required(SNOWFLAKE_ACCOUNT),
                role: required(SNOWFLAKE_ROLE),
                warehouse: required(SNOWFLAKE_WAREHOUSE),
                database: required(SNOWFLAKE_DATABASE),
                schema: required(SNOWFLAKE_SCHEMA),
                user: get(SNOWFLAKE_USER),
            };
            if !missing.is_empty() {
                return Err(StepError::Environment(format!(
                    "{SNOWFLAKE_AUTH}=workload_identity needs {} set",
                    missing.join(", ")
                )));
            }
            let form = match get(SNOWFLAKE_ENABLE_AWS_WIF_OUTBOUND_TOKEN).as_deref() {
                None | Some("true") => AttestationForm::OutboundToken,
                Some("false") => AttestationForm::SignedRequest,
                Some(other) => {
                    return Err(StepError::Environment(format!(
                        "{SNOWFLAKE_ENABLE_AWS_WIF_OUTBOUND_TOKEN} {other:?} is neither true nor false"
                    )));
                }
            };
            Ok(Credentials::AwsWorkloadIdentity {
                connection,
                identity: AwsWorkloadIdentity::with_aws_config(aws.clone()).form(form),
            })
        }
        Some(other) => Err(StepError::Environment(format!(
            "{SNOWFLAKE_AUTH} {other:?} is neither \"secret\" nor \"workload_identity\""
        ))),
    }
}

/// How long an invocation may wait on Snowflake: the Lambda's remaining time less a margin to
/// answer. A context without a deadline (tests) gets 60 s.
pub fn budget(deadline: SystemTime) -> Duration {
    const MARGIN: Duration = Duration::from_secs(5);
    if deadline == SystemTime::UNIX_EPOCH {
        return Duration::from_secs(60);
    }
    deadline
        .duration_since(SystemTime::now())
        .unwrap_or_default()
        .saturating_sub(MARGIN)
        .max(Duration::from_secs(1))
}

/// One invocation of one step.
pub struct Step<'a> {
    pub env: &'a Env,
    pub run: &'a Run,
    pub step: &'static str,
    pub pipeline: &'a Pipeline,
    pub budget: Duration,
    started: SystemTime,
    /// What this invocation sent, for the ledger.
    sent: Mutex<Sent>,
}

/// Snowflake's error code for an object that does not exist (or is not authorized).
const OBJECT_DOES_NOT_EXIST: &str = "002003";

/// Snowflake's and this host's clocks may differ a little: a statement counts as started by an
/// earlier request only when it started at least this long before this one was sent.
const CLOCK_MARGIN: Duration = Duration::from_millis(250);

impl<'a> Step<'a> {
    /// What this run covers: all of the pipeline, or what depends on the tables a manual start
    /// named (see [`crate::config::Scope`]).
    pub fn scope(&self) -> Result<crate::config::Scope<'a>, StepError> {
        self.pipeline
            .scope(self.run.tables.as_deref())
            .map_err(|name| StepError::UnknownItem {
                pipeline: self.run.pipeline.clone(),
                kind: "Iceberg table",
                name,
            })
    }

    /// A statement tagged with pipeline, execution and step, whose request id derives from the
    /// run, step, item and position: a retried invocation or a replayed event sends the same id,
    /// and Snowflake returns the earlier run instead of running it again.
    pub fn statement(&self, sql: impl Into<String>, item: &str, index: usize) -> Statement {
        self.tagged(sql, item).request_id(derive_request_id(&[
            &self.run.run_key,
            self.step,
            item,
            &index.to_string(),
        ]))
    }

    /// A statement tagged like [`Step::statement`] with a new request id each time: for statements
    /// that are idempotent by nature and must act on Snowflake as it is now (warehouse control).
    pub fn tagged(&self, sql: impl Into<String>, item: &str) -> Statement {
        let tag = serde_json::json!({
            "app": "postetl", "pipeline": self.run.pipeline, "execution": self.run.execution,
            "step": self.step, "item": item,
        });
        Statement::new(sql)
            .query_tag(tag.to_string())
            .warehouse(self.pipeline.warehouse.as_str())
            .timeout(self.pipeline.statement_timeout)
    }

    /// Runs a statement that only reads; dry runs run it too.
    pub async fn read(&self, statement: &Statement) -> Result<ResultSet, StepError> {
        tracing::info!(step = self.step, sql = statement.sql(), "query");
        let sent_at = SystemTime::now();
        let rows = self.env.snowflake.query(statement, self.budget).await?;
        // A read may be answered from this execution's own earlier request on purpose (the
        // warehouse's as-found SHOW): that is not work of an earlier run.
        self.note(statement, Some(&rows.handle), None, sent_at);
        Ok(rows)
    }

    fn note(
        &self,
        statement: &Statement,
        handle: Option<&str>,
        created_on: Option<SystemTime>,
        sent_at: SystemTime,
    ) {
        let mut sent = self.sent.lock().unwrap_or_else(|e| e.into_inner());
        sent.request_ids.push(statement.id().to_string());
        if let Some(h) = handle {
            sent.handles.push(h.to_string());
        }
        if created_on.is_some_and(|c| c + CLOCK_MARGIN < sent_at) {
            tracing::info!(step = self.step, request_id = %statement.id(), "answered from an earlier request with this request id");
            sent.from_earlier_run = true;
        }
    }

    /// Whether Snowflake answered a statement of this invocation from an earlier request with the
    /// same request id (a replayed event, a retried invocation): work this invocation did not do.
    pub fn from_earlier_run(&self) -> bool {
        self.sent
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .from_earlier_run
    }

    /// Writes `entries` to the run ledger (see [`crate::ledger`]): best effort, bounded, never in
    /// a dry run. One statement; the ledger is created when Snowflake says it does not exist.
    pub async fn record(&self, entries: Vec<Entry>) {
        self.record_as(self.step, entries).await
    }

    /// Like [`Step::record`], under another step name (the run row is the warehouse step's).
    pub async fn record_as(&self, step: &str, entries: Vec<Entry>) {
        if self.run.dry_run || entries.is_empty() {
            return;
        }
        let Ok(config) = self.env.config() else {
            return;
        };
        let table = &config.ledger_table;
        let budget = self.budget.min(Duration::from_secs(30));
        let sent = self.sent.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let (sql, bindings) =
            crate::ledger::merge_statement(table, self.run, step, self.started, &sent, &entries);
        let statement = bindings
            .into_iter()
            .fold(self.tagged(sql, "ledger"), Statement::bind);
        let write = async {
            match self.env.snowflake.query(&statement, budget).await {
                // The ledger does not exist yet: make it, once per process, and write again.
                Err(snowflake::Error::Sql { code, .. }) if code == OBJECT_DOES_NOT_EXIST => {
                    self.env
                        .ledger_ready
                        .get_or_try_init(|| async {
                            for sql in crate::ledger::create_sql(table) {
                                self.env
                                    .snowflake
                                    .query(&self.tagged(sql, "ledger"), budget)
                                    .await?;
                            }
                            Ok::<(), StepError>(())
                        })
                        .await?;
                    self.env.snowflake.query(&statement, budget).await?;
                    Ok(())
                }
                Err(e) => Err(StepError::from(e)),
                Ok(_) => Ok(()),
            }
        };
        if let Err(e) = write.await {
            tracing::warn!(step = self.step, ledger = %table, error = %e, "could not write the run ledger");
        }
    }

    /// Records how `result` went for `item` in the ledger and hands it back unchanged: `entries`
    /// describe a success, a failure gets one row with its error name.
    pub async fn finish<T>(
        &self,
        item: &str,
        result: Result<T, StepError>,
        entries: impl FnOnce(&T) -> Vec<Entry>,
    ) -> Result<T, StepError> {
        let rows = match &result {
            Ok(value) => entries(value),
            Err(e) => {
                if let StepError::Snowflake(
                    snowflake::Error::Sql {
                        handle: Some(h), ..
                    }
                    | snowflake::Error::Timeout {
                        handle: Some(h), ..
                    },
                ) = e
                {
                    let mut sent = self.sent.lock().unwrap_or_else(|e| e.into_inner());
                    sent.handles.push(h.clone());
                }
                let mut entry = Entry::new(item, crate::ledger::Status::Failed);
                entry.error = Some(e.name().to_string());
                entry.detail = Some(e.to_string());
                vec![entry]
            }
        };
        self.record(rows).await;
        result
    }

    /// Runs a statement that changes something, waiting within the budget and handing the handle
    /// back after it. A dry run logs it and returns `None`.
    pub async fn change(&self, statement: &Statement) -> Result<Option<Outcome>, StepError> {
        if self.run.dry_run {
            tracing::info!(
                step = self.step,
                sql = statement.sql(),
                "dry run: not running"
            );
            return Ok(None);
        }
        tracing::info!(step = self.step, sql = statement.sql(), request_id = %statement.id(), "running");
        let sent_at = SystemTime::now();
        let outcome = self
            .env
            .snowflake
            .execute(statement, Wait::hand_back_after(self.budget))
            .await?;
        match &outcome {
            Outcome::Done(rows) => {
                self.note(statement, Some(&rows.handle), rows.created_on, sent_at)
            }
            Outcome::Running { handle } => self.note(statement, Some(handle), None, sent_at),
        }
        Ok(Some(outcome))
    }

    /// Like `change`, but waits to the end of the budget and cancels rather than hand back: for
    /// short statements whose result the step needs now.
    pub async fn change_now(&self, statement: &Statement) -> Result<Option<ResultSet>, StepError> {
        if self.run.dry_run {
            tracing::info!(
                step = self.step,
                sql = statement.sql(),
                "dry run: not running"
            );
            return Ok(None);
        }
        tracing::info!(step = self.step, sql = statement.sql(), request_id = %statement.id(), "running");
        let sent_at = SystemTime::now();
        let rows = self.env.snowflake.query(statement, self.budget).await?;
        self.note(statement, Some(&rows.handle), rows.created_on, sent_at);
        Ok(Some(rows))
    }

    /// Runs a statement that changes no data (resuming or suspending a warehouse), in dry runs
    /// too: a dry run still reads, and reads need a running warehouse.
    pub async fn control(&self, statement: &Statement) -> Result<ResultSet, StepError> {
        tracing::info!(step = self.step, sql = statement.sql(), request_id = %statement.id(), "running");
        let sent_at = SystemTime::now();
        let rows = self.env.snowflake.query(statement, self.budget).await?;
        self.note(statement, Some(&rows.handle), None, sent_at);
        Ok(rows)
    }

    /// Waits again for a statement handed back by an earlier invocation.
    pub async fn resume(&self, handle: &str) -> Result<Outcome, StepError> {
        let outcome = self
            .env
            .snowflake
            .resume(handle, Wait::hand_back_after(self.budget))
            .await?;
        self.sent
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .handles
            .push(handle.to_string());
        Ok(outcome)
    }
}

/// Runs a step's handler under the Lambda runtime, with the shared environment built once.
pub async fn serve<I, O, F, Fut>(handler: F) -> Result<(), lambda_runtime::Error>
where
    I: serde::de::DeserializeOwned + Send + 'static,
    O: serde::Serialize + Send + 'static,
    F: Fn(Env, lambda_runtime::LambdaEvent<I>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<O, StepError>> + Send,
{
    serve_with(&AwsConfig::from_env(), handler).await
}

/// Like [`serve`], for a main that builds AWS clients of its own from `aws`: the process's one
/// SDK configuration, shared with the Snowflake credentials.
pub async fn serve_with<I, O, F, Fut>(
    aws: &AwsConfig,
    handler: F,
) -> Result<(), lambda_runtime::Error>
where
    I: serde::de::DeserializeOwned + Send + 'static,
    O: serde::Serialize + Send + 'static,
    F: Fn(Env, lambda_runtime::LambdaEvent<I>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<O, StepError>> + Send,
{
    init_tracing();
    let env = Env::from_env(aws)?;
    let handler = &handler;
    lambda_runtime::run(lambda_runtime::service_fn(move |event| {
        // Boxed: a step's future nested in the runtime's layers is otherwise too deep a type.
        Box::pin(handler(env.clone(), event))
    }))
    .await
}

/// Runs a step that never calls Snowflake (plan): it needs the deployed config only, so it starts
/// without any Snowflake setting.
pub async fn serve_config<I, O, F, Fut>(handler: F) -> Result<(), lambda_runtime::Error>
where
    I: serde::de::DeserializeOwned + Send + 'static,
    O: serde::Serialize + Send + 'static,
    F: Fn(Deployed, lambda_runtime::LambdaEvent<I>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<O, StepError>> + Send,
{
    init_tracing();
    let deployed = Deployed::from_env();
    let handler = &handler;
    lambda_runtime::run(lambda_runtime::service_fn(move |event| {
        Box::pin(handler(deployed.clone(), event))
    }))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(vars: &[(&str, &str)]) -> Result<Credentials, StepError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        credentials_from_env(|name| vars.get(name).cloned(), &AwsConfig::from_env())
    }

    #[test]
    fn secret_mode_is_the_default_and_needs_the_secret_id() {
        assert!(matches!(
            from(&[("POSTETL_SECRET_ID", "postetl/snowflake")]),
            Ok(Credentials::Secret(_))
        ));
        let err = from(&[("SNOWFLAKE_AUTH", "secret")]).err().unwrap();
        assert_eq!(err.name(), "Config.Environment");
        assert!(err.to_string().contains("POSTETL_SECRET_ID"), "{err}");
    }

    #[test]
    fn workload_identity_takes_the_connection_from_the_environment() {
        let full = [
            ("SNOWFLAKE_AUTH", "workload_identity"),
            ("SNOWFLAKE_ACCOUNT", "myorg-myacct"),
            ("SNOWFLAKE_ROLE", "POSTETL"),
            ("SNOWFLAKE_WAREHOUSE", "POSTETL_WH"),
            ("SNOWFLAKE_DATABASE", "ANALYTICS"),
            ("SNOWFLAKE_SCHEMA", "PUBLIC"),
        ];
        let Ok(Credentials::AwsWorkloadIdentity { connection: c, .. }) = from(&full) else {
            panic!("workload identity expected")
        };
        assert_eq!(
            (c.account.as_str(), c.role.as_str(), c.user),
            ("myorg-myacct", "POSTETL", None)
        );
        let err = from(&full[..3]).err().unwrap();
        assert_eq!(err.name(), "Config.Environment");
        assert!(
            err.to_string()
                .contains("SNOWFLAKE_DATABASE, SNOWFLAKE_SCHEMA"),
            "{err}"
        );
        let mut outbound = full.to_vec();
        outbound.push(("SNOWFLAKE_ENABLE_AWS_WIF_OUTBOUND_TOKEN", "yes"));
        let err = from(&outbound).err().unwrap();
        assert!(err.to_string().contains("neither true nor false"), "{err}");
        let err = from(&[("SNOWFLAKE_AUTH", "keyless")]).err().unwrap();
        assert!(err.to_string().contains("\"keyless\" is neither"), "{err}");
    }
}
