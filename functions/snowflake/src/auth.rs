//! Credentials for the SQL API, one mechanism for every kind: a bearer token reused until shortly
//! before it expires, and one renewal after Snowflake says 401. From a secret (key pair, programmatic
//! access token or OAuth token) the secret is cached with a TTL and renewal re-reads it (the key
//! was rotated to RSA_PUBLIC_KEY_2, the token was replaced); with workload identity renewal signs
//! a new attestation with the role's current credentials.

use crate::error::Result;
use crate::keypair::{JwtIssuer, PrivateKey};
use crate::secret_source::SecretSource;
use crate::snowflake_secret::{SecretCredential, SecretString, SnowflakeSecret};
use crate::workload_identity::{AttestationForm, AwsWorkloadIdentity};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::Mutex;

/// How long tokens live and how long a secret is trusted before it is read again.
#[derive(Clone, Debug)]
pub struct AuthPolicy {
    /// JWT lifetime; Snowflake caps it at one hour.
    pub token_lifetime: Duration,
    /// Renew a token this long before it expires, so none expires in flight.
    pub renew_before: Duration,
    /// Read the secret again after this long, to pick up rotations without a 401.
    pub secret_ttl: Duration,
}

impl Default for AuthPolicy {
    fn default() -> Self {
        Self {
            token_lifetime: Duration::from_secs(59 * 60),
            renew_before: Duration::from_secs(5 * 60),
            secret_ttl: Duration::from_secs(15 * 60),
        }
    }
}

/// Session defaults and identity (nothing secret in here): from the secret, or from configuration
/// with workload identity.
#[derive(Clone, Debug)]
pub struct Connection {
    pub account: String,
    /// Known from a secret; with workload identity Snowflake finds the user by the role ARN.
    pub user: Option<String>,
    pub role: String,
    pub warehouse: String,
    pub database: String,
    pub schema: String,
}

/// How the process proves who it is to Snowflake.
#[derive(Debug)]
pub enum Credentials {
    /// A secret holding a key pair, a programmatic access token or an OAuth token.
    Secret(SecretSource),
    /// Workload identity federation: the AWS role the process runs as; nothing is stored.
    AwsWorkloadIdentity {
        connection: Connection,
        identity: AwsWorkloadIdentity,
    },
}

impl From<SecretSource> for Credentials {
    fn from(source: SecretSource) -> Self {
        Credentials::Secret(source)
    }
}

/// What a request needs: the bearer token, its type, which generation of credentials produced it,
/// and a description of the credential for errors (never its value).
#[derive(Clone, Debug)]
pub struct Bearer {
    pub token: SecretString,
    pub token_type: &'static str,
    pub generation: u64,
    pub connection: Arc<Connection>,
    pub describes: Arc<str>,
}

/// What mints tokens for the loaded credentials.
enum Minter {
    KeyPair(JwtIssuer),
    /// A token taken as is from the secret; its issuer keeps it valid.
    Stored {
        token: SecretString,
        token_type: &'static str,
    },
    /// Signs attestations with the AWS identity of [`Credentials::AwsWorkloadIdentity`].
    Aws(Arc<AwsWorkloadIdentity>),
}

/// The credentials as the authenticator holds them: the AWS identity shared with the minter made
/// from it, so that minting needs no second look at which credentials these are.
#[derive(Debug)]
enum Source {
    Secret(SecretSource),
    Aws {
        connection: Connection,
        identity: Arc<AwsWorkloadIdentity>,
    },
}

impl From<Credentials> for Source {
    fn from(credentials: Credentials) -> Self {
        match credentials {
            Credentials::Secret(source) => Source::Secret(source),
            Credentials::AwsWorkloadIdentity {
                connection,
                identity,
            } => Source::Aws {
                connection,
                identity: Arc::new(identity),
            },
        }
    }
}

struct Token {
    value: SecretString,
    /// `None`: valid until Snowflake says otherwise.
    expires_at: Option<SystemTime>,
}

struct Loaded {
    minter: Minter,
    connection: Arc<Connection>,
    describes: Arc<str>,
    loaded_at: Instant,
    generation: u64,
    token: Option<Token>,
}

/// Shared by every request of a process; cheap to call on each one.
pub struct Authenticator {
    credentials: Source,
    policy: AuthPolicy,
    http: reqwest::Client,
    state: Mutex<Option<Loaded>>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("credentials", &self.credentials)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl Authenticator {
    pub fn new(credentials: Credentials, policy: AuthPolicy, http: reqwest::Client) -> Self {
        Self {
            credentials: credentials.into(),
            policy,
            http,
            state: Mutex::new(None),
        }
    }

    /// A valid token, reusing the cached one while it has more than `renew_before` left.
    pub async fn bearer(&self) -> Result<Bearer> {
        let mut state = self.state.lock().await;
        let stale = state.as_ref().is_none_or(|s| {
            matches!(self.credentials, Source::Secret(_))
                && s.loaded_at.elapsed() >= self.policy.secret_ttl
        });
        if stale {
            let generation = state.as_ref().map_or(1, |s| s.generation + 1);
            match self.load(generation).await {
                Ok(fresh) => *state = Some(fresh),
                // A failed periodic re-read keeps the credentials that work; a first read fails.
                Err(e) if state.is_some() => {
                    tracing::warn!(error = %e, error_type = e.name(), "re-reading the Snowflake secret failed; keeping the cached one");
                    if let Some(s) = state.as_mut() {
                        s.loaded_at = Instant::now();
                    }
                }
                Err(e) => return Err(e),
            }
        }
        let loaded = state.as_mut().expect("loaded above");
        let now = SystemTime::now();
        let fresh_enough = loaded.token.as_ref().is_some_and(|t| {
            t.expires_at
                .is_none_or(|exp| !needs_renewal(exp, now, self.policy.renew_before))
        });
        if !fresh_enough {
            loaded.token = Some(self.mint(loaded, now).await?);
        }
        Ok(Bearer {
            token: loaded.token.as_ref().expect("minted above").value.clone(),
            token_type: loaded.minter.token_type(),
            generation: loaded.generation,
            connection: loaded.connection.clone(),
            describes: loaded.describes.clone(),
        })
    }

    /// Called after a 401: loads the credentials again, unless another request already did so
    /// since `rejected` was issued (so a burst of 401s reloads once).
    pub async fn renew(&self, rejected: &Bearer) -> Result<()> {
        let mut state = self.state.lock().await;
        if state
            .as_ref()
            .is_some_and(|s| s.generation != rejected.generation)
        {
            return Ok(());
        }
        let fresh = self.load(rejected.generation + 1).await?;
        tracing::info!(credential = %fresh.describes, "loaded the Snowflake credentials again after a 401");
        *state = Some(fresh);
        Ok(())
    }

    /// The connection settings (loading the secret if needed).
    pub async fn connection(&self) -> Result<Arc<Connection>> {
        Ok(self.bearer().await?.connection)
    }

    async fn mint(&self, loaded: &Loaded, now: SystemTime) -> Result<Token> {
        Ok(match &loaded.minter {
            Minter::KeyPair(issuer) => {
                let jwt = issuer.issue(now)?;
                tracing::debug!(issuer = issuer.issuer(), "issued a new key-pair JWT");
                Token {
                    value: jwt.token,
                    expires_at: Some(jwt.expires_at),
                }
            }
            Minter::Stored { token, .. } => Token {
                value: token.clone(),
                expires_at: None,
            },
            Minter::Aws(identity) => {
                let attestation = identity.attest(now).await?;
                tracing::debug!(region = %attestation.region, "signed a new workload identity attestation");
                Token {
                    value: attestation.token,
                    expires_at: Some(attestation.expires_at),
                }
            }
        })
    }

    async fn load(&self, generation: u64) -> Result<Loaded> {
        let (minter, connection, describes) = match &self.credentials {
            Source::Aws {
                connection,
                identity,
            } => (
                Minter::Aws(identity.clone()),
                connection.clone(),
                match identity.attestation_form() {
                    AttestationForm::OutboundToken => format!(
                        "the AWS web identity token (STS GetWebIdentityToken) for account {}: a \
                         Snowflake user's WORKLOAD_IDENTITY must name this function's role ARN and \
                         ISSUER = the AWS account's issuer URL (aws iam \
                         get-outbound-web-identity-federation-info; compare SHOW USER WORKLOAD \
                         IDENTITY AUTHENTICATION METHODS)",
                        connection.account
                    ),
                    AttestationForm::SignedRequest => format!(
                        "the signed AWS GetCallerIdentity attestation for account {} (not documented \
                         by Snowflake for the SQL API): a Snowflake user's WORKLOAD_IDENTITY must \
                         name this function's role ARN without an ISSUER",
                        connection.account
                    ),
                },
            ),
            Source::Secret(source) => {
                let text = source.fetch(&self.http).await?;
                let secret = SnowflakeSecret::from_json(text.expose())?;
                let (minter, describes) = match &secret.credential {
                    SecretCredential::KeyPair {
                        private_key,
                        passphrase,
                    } => {
                        let key = PrivateKey::from_pem(private_key, passphrase.as_ref())?;
                        let issuer = JwtIssuer::new(
                            &secret.account,
                            &secret.user,
                            key,
                            self.policy.token_lifetime,
                        )?;
                        let describes = format!(
                            "the key-pair JWT {} (compare RSA_PUBLIC_KEY_FP and \
                             RSA_PUBLIC_KEY_2_FP in DESC USER)",
                            issuer.issuer()
                        );
                        (Minter::KeyPair(issuer), describes)
                    }
                    SecretCredential::ProgrammaticAccessToken(token) => (
                        Minter::Stored {
                            token: token.clone(),
                            token_type: "PROGRAMMATIC_ACCESS_TOKEN",
                        },
                        format!("the programmatic access token of user {}", secret.user),
                    ),
                    SecretCredential::OAuth(token) => (
                        Minter::Stored {
                            token: token.clone(),
                            token_type: "OAUTH",
                        },
                        format!("the OAuth access token for user {}", secret.user),
                    ),
                };
                let connection = Connection {
                    account: secret.account,
                    user: Some(secret.user),
                    role: secret.role,
                    warehouse: secret.warehouse,
                    database: secret.database,
                    schema: secret.schema,
                };
                (minter, connection, describes)
            }
        };
        Ok(Loaded {
            minter,
            connection: Arc::new(connection),
            describes: describes.into(),
            loaded_at: Instant::now(),
            generation,
            token: None,
        })
    }
}

impl Minter {
    fn token_type(&self) -> &'static str {
        match self {
            Minter::KeyPair(_) => "KEYPAIR_JWT",
            Minter::Stored { token_type, .. } => token_type,
            Minter::Aws(_) => "WORKLOAD_IDENTITY_FEDERATION",
        }
    }
}

fn needs_renewal(expires_at: SystemTime, now: SystemTime, renew_before: Duration) -> bool {
    now + renew_before >= expires_at
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider, future};
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Role credentials that count how often they are asked for (each ask is one signing).
    #[derive(Debug)]
    struct CountingRole {
        lifetime: Duration,
        asked: Arc<AtomicUsize>,
    }

    impl ProvideCredentials for CountingRole {
        fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
        where
            Self: 'a,
        {
            self.asked.fetch_add(1, Ordering::SeqCst);
            future::ProvideCredentials::ready(Ok(aws_credential_types::Credentials::new(
                "ASIATEST",
                "secret",
                Some("session".into()),
                Some(SystemTime::now() + self.lifetime),
                "test",
            )))
        }
    }

    fn keyless(lifetime: Duration) -> (Authenticator, Arc<AtomicUsize>) {
        let asked = Arc::new(AtomicUsize::new(0));
        let sdk = aws_config::SdkConfig::builder()
            .region(aws_config::Region::new("eu-west-1"))
            .credentials_provider(SharedCredentialsProvider::new(CountingRole {
                lifetime,
                asked: asked.clone(),
            }))
            .build();
        let connection = Connection {
            account: "xy12345".into(),
            user: None,
            role: "R".into(),
            warehouse: "WH".into(),
            database: "DB".into(),
            schema: "S".into(),
        };
        let credentials = Credentials::AwsWorkloadIdentity {
            connection,
            // The signed form: it asks the credentials provider each time it signs, which this
            // test counts; the reuse rule is the same for both forms.
            identity: AwsWorkloadIdentity::with_config(sdk).form(AttestationForm::SignedRequest),
        };
        let auth = Authenticator::new(credentials, AuthPolicy::default(), reqwest::Client::new());
        (auth, asked)
    }

    #[tokio::test]
    async fn an_attestation_is_reused_until_shortly_before_it_expires() {
        let (auth, asked) = keyless(Duration::from_secs(6 * 3600));
        let first = auth.bearer().await.unwrap();
        assert_eq!(first.token_type, "WORKLOAD_IDENTITY_FEDERATION");
        assert!(first.token.expose().starts_with("WIF.AWS."));
        for _ in 0..3 {
            let again = auth.bearer().await.unwrap();
            assert_eq!(again.token.expose(), first.token.expose());
        }
        assert_eq!(asked.load(Ordering::SeqCst), 1, "signed once, then reused");

        // After a 401 the next request carries a freshly signed attestation.
        auth.renew(&first).await.unwrap();
        auth.bearer().await.unwrap();
        assert_eq!(asked.load(Ordering::SeqCst), 2);

        // Role credentials ending within the renewal margin are asked for on every request, so a
        // rotated session is used as soon as the SDK has it.
        let (auth, asked) = keyless(Duration::from_secs(120));
        for _ in 0..3 {
            auth.bearer().await.unwrap();
        }
        assert_eq!(asked.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn renewal_window() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let exp = now + Duration::from_secs(59 * 60);
        let margin = Duration::from_secs(300);
        assert!(!needs_renewal(exp, now, margin));
        assert!(!needs_renewal(
            exp,
            now + Duration::from_secs(53 * 60),
            margin
        ));
        assert!(needs_renewal(
            exp,
            now + Duration::from_secs(54 * 60),
            margin
        ));
        assert!(needs_renewal(
            exp,
            now + Duration::from_secs(60 * 60),
            margin
        ));
    }
}
