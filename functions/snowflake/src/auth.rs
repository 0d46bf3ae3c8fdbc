//! Credentials for the SQL API: the secret read once and cached with a TTL, a key-pair JWT reused
//! until shortly before it expires, and one re-read of the secret after Snowflake says 401 (the key
//! was rotated to RSA_PUBLIC_KEY_2).

use crate::error::Result;
use crate::keypair::{JwtIssuer, PrivateKey};
use crate::secret::{SecretString, SnowflakeSecret};
use crate::secrets::SecretSource;
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

/// Session defaults and identity from the secret (nothing secret in here).
#[derive(Clone, Debug)]
pub struct Connection {
    pub account: String,
    pub user: String,
    pub role: String,
    pub warehouse: String,
    pub database: String,
    pub schema: String,
}

/// What a request needs: the bearer token, its type, and which secret generation produced it.
#[derive(Clone, Debug)]
pub struct Bearer {
    pub token: SecretString,
    pub token_type: &'static str,
    pub generation: u64,
    pub connection: Arc<Connection>,
}

struct Loaded {
    issuer: JwtIssuer,
    connection: Arc<Connection>,
    loaded_at: Instant,
    generation: u64,
    token: Option<crate::keypair::Jwt>,
}

/// Shared by every request of a process; cheap to call on each one.
pub struct Authenticator {
    source: SecretSource,
    policy: AuthPolicy,
    http: reqwest::Client,
    state: Mutex<Option<Loaded>>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("source", &self.source)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl Authenticator {
    pub fn new(source: SecretSource, policy: AuthPolicy, http: reqwest::Client) -> Self {
        Self {
            source,
            policy,
            http,
            state: Mutex::new(None),
        }
    }

    /// A valid token, reusing the cached one while it has more than `renew_before` left.
    pub async fn bearer(&self) -> Result<Bearer> {
        let mut state = self.state.lock().await;
        let stale = state
            .as_ref()
            .is_none_or(|s| s.loaded_at.elapsed() >= self.policy.secret_ttl);
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
        let fresh_enough = loaded
            .token
            .as_ref()
            .is_some_and(|t| !needs_renewal(t.expires_at, now, self.policy.renew_before));
        if !fresh_enough {
            loaded.token = Some(loaded.issuer.issue(now)?);
            tracing::debug!(issuer = loaded.issuer.issuer(), "issued a new key-pair JWT");
        }
        Ok(Bearer {
            token: loaded.token.as_ref().expect("issued above").token.clone(),
            token_type: "KEYPAIR_JWT",
            generation: loaded.generation,
            connection: loaded.connection.clone(),
        })
    }

    /// Called after a 401: re-reads the secret, unless another request already did so since
    /// `rejected` was issued (so a burst of 401s reads it once).
    pub async fn renew(&self, rejected: &Bearer) -> Result<()> {
        let mut state = self.state.lock().await;
        if state
            .as_ref()
            .is_some_and(|s| s.generation != rejected.generation)
        {
            return Ok(());
        }
        let fresh = self.load(rejected.generation + 1).await?;
        tracing::info!(
            issuer = fresh.issuer.issuer(),
            "re-read the Snowflake secret after a 401"
        );
        *state = Some(fresh);
        Ok(())
    }

    /// The connection settings from the secret (loading it if needed).
    pub async fn connection(&self) -> Result<Arc<Connection>> {
        Ok(self.bearer().await?.connection)
    }

    async fn load(&self, generation: u64) -> Result<Loaded> {
        let text = self.source.fetch(&self.http).await?;
        let secret = SnowflakeSecret::from_json(text.expose())?;
        let key = PrivateKey::from_pem(&secret.private_key, secret.passphrase.as_ref())?;
        let issuer = JwtIssuer::new(
            &secret.account,
            &secret.user,
            key,
            self.policy.token_lifetime,
        )?;
        Ok(Loaded {
            issuer,
            connection: Arc::new(Connection {
                account: secret.account,
                user: secret.user,
                role: secret.role,
                warehouse: secret.warehouse,
                database: secret.database,
                schema: secret.schema,
            }),
            loaded_at: Instant::now(),
            generation,
            token: None,
        })
    }
}

fn needs_renewal(expires_at: SystemTime, now: SystemTime, renew_before: Duration) -> bool {
    now + renew_before >= expires_at
}

#[cfg(test)]
mod tests {
    use super::*;

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
