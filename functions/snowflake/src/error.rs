//! One error type for the crate. Each variant has a stable name (`Error::name`) that the Lambdas
//! report as their `errorType`, so the state machine's Retry and Catch can match it.

use std::time::{Duration, SystemTime};

/// Failure of a credential, a secret or a Snowflake call.
///
/// Messages never contain secret material: keys, passphrases, tokens or secret values.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The secret lacks a required field, or has it empty.
    #[error("the Snowflake secret has no value for required field `{field}`")]
    MissingSecretField { field: &'static str },

    /// The secret is not the JSON object expected.
    #[error("the Snowflake secret is not valid: {reason}")]
    InvalidSecret { reason: String },

    /// The private key cannot be read (not PEM, not RSA, corrupt).
    #[error("the private key cannot be used: {reason}")]
    InvalidKey { reason: String },

    /// The encrypted private key did not decrypt with the passphrase given (or none was given).
    #[error("the private key is encrypted and the passphrase does not decrypt it")]
    WrongPassphrase,

    /// `Proc-Type: 4,ENCRYPTED` PKCS#1 keys use OpenSSL's legacy scheme, which Snowflake's docs do not
    /// produce; ask for PKCS#8 instead of guessing at MD5-based key derivation.
    #[error(
        "the private key uses the legacy OpenSSL encryption (Proc-Type: 4,ENCRYPTED); convert it with \
         `openssl pkcs8 -topk8 -v2 aes-256-cbc` to an encrypted PKCS#8 key"
    )]
    LegacyEncryptedKey,

    /// A name from configuration is not a safe Snowflake identifier.
    #[error("invalid Snowflake identifier {name:?}: {reason}")]
    InvalidIdentifier { name: String, reason: &'static str },

    /// Invalid client configuration (account, base URL, options).
    #[error("invalid Snowflake configuration: {0}")]
    InvalidConfig(String),

    /// The secret could not be fetched (extension or Secrets Manager).
    #[error("cannot read secret {secret_id:?}: {reason}")]
    SecretUnavailable { secret_id: String, reason: String },

    /// Snowflake rejected the credentials, also after renewing them once (re-reading the secret,
    /// or signing a new attestation). `credential` says which one was sent, never its value.
    #[error("Snowflake rejected {credential} ({code}): {message}")]
    Unauthorized {
        code: String,
        message: String,
        credential: String,
    },

    /// Workload identity federation could not sign an attestation: no AWS region or credentials.
    #[error("cannot prove the AWS identity to Snowflake: {reason}")]
    AwsIdentityUnavailable { reason: String },

    /// The statement failed in Snowflake (HTTP 422): compilation, execution or cancellation.
    #[error("SQL error {code} ({sql_state}): {message}")]
    Sql {
        code: String,
        sql_state: String,
        message: String,
        handle: Option<String>,
        /// When Snowflake started the statement (`createdOn`), if it said.
        created_on: Option<SystemTime>,
    },

    /// The statement exceeded its timeout and was cancelled (HTTP 408, or the caller's deadline
    /// with `OnDeadline::Cancel`).
    #[error("statement timed out and was cancelled: {message}")]
    Timeout {
        message: String,
        handle: Option<String>,
        /// When Snowflake started the statement (`createdOn`), if it said.
        created_on: Option<SystemTime>,
    },

    /// Snowflake kept answering 429 until the retry budget ran out.
    #[error("Snowflake throttled the request ({attempts} attempts over {elapsed:?})")]
    Throttled { attempts: u32, elapsed: Duration },

    /// 5xx answers or network failures until the retry budget ran out.
    #[error("Snowflake unavailable after {attempts} attempts: {reason}")]
    Unavailable { attempts: u32, reason: String },

    /// Any other HTTP answer (400, 403, 404, 415): a defect or a misconfiguration, not transient.
    #[error("Snowflake answered HTTP {status} ({code}): {message}")]
    Rejected {
        status: u16,
        code: String,
        message: String,
    },

    /// The answer did not have the SQL API's shape, or a value did not convert as asked.
    #[error("unexpected Snowflake response: {0}")]
    Protocol(String),
}

impl Error {
    /// Whether this is a statement's failure (SQL error, cancellation, timeout) that Snowflake
    /// started before `instant`: an earlier attempt's answer, returned for its request id.
    pub fn failed_before(&self, instant: SystemTime) -> bool {
        match self {
            Error::Sql { created_on, .. } | Error::Timeout { created_on, .. } => {
                created_on.is_some_and(|c| c < instant)
            }
            _ => false,
        }
    }

    /// The stable name a Lambda reports as `errorType`. Retry on `Snowflake.Throttled`,
    /// `Snowflake.Unavailable` and `Snowflake.SecretUnavailable`; never on the others.
    pub fn name(&self) -> &'static str {
        match self {
            Error::MissingSecretField { .. } => "Snowflake.MissingSecretField",
            Error::InvalidSecret { .. } => "Snowflake.InvalidSecret",
            Error::InvalidKey { .. } => "Snowflake.InvalidKey",
            Error::WrongPassphrase => "Snowflake.WrongPassphrase",
            Error::LegacyEncryptedKey => "Snowflake.LegacyEncryptedKey",
            Error::InvalidIdentifier { .. } => "Snowflake.InvalidIdentifier",
            Error::InvalidConfig(_) => "Snowflake.InvalidConfig",
            Error::SecretUnavailable { .. } => "Snowflake.SecretUnavailable",
            Error::Unauthorized { .. } => "Snowflake.Unauthorized",
            Error::AwsIdentityUnavailable { .. } => "Snowflake.AwsIdentityUnavailable",
            Error::Sql { .. } => "Snowflake.SqlError",
            Error::Timeout { .. } => "Snowflake.Timeout",
            Error::Throttled { .. } => "Snowflake.Throttled",
            Error::Unavailable { .. } => "Snowflake.Unavailable",
            Error::Rejected { .. } => "Snowflake.Rejected",
            Error::Protocol(_) => "Snowflake.Protocol",
        }
    }

    /// Whether retrying the same call later can succeed.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Error::Throttled { .. } | Error::Unavailable { .. } | Error::SecretUnavailable { .. }
        )
    }

    /// One value of every variant, so that the names and their class (transient or not) are read
    /// from `name` and `is_transient` themselves: the state machine's Retry and Catch lists and the
    /// README's table are checked against this.
    pub fn catalogue() -> Vec<Error> {
        let (text, handle) = (String::new(), None);
        let all = vec![
            Error::MissingSecretField { field: "" },
            Error::InvalidSecret {
                reason: text.clone(),
            },
            Error::InvalidKey {
                reason: text.clone(),
            },
            Error::WrongPassphrase,
            Error::LegacyEncryptedKey,
            Error::InvalidIdentifier {
                name: text.clone(),
                reason: "",
            },
            Error::InvalidConfig(text.clone()),
            Error::SecretUnavailable {
                secret_id: text.clone(),
                reason: text.clone(),
            },
            Error::Unauthorized {
                code: text.clone(),
                message: text.clone(),
                credential: text.clone(),
            },
            Error::AwsIdentityUnavailable {
                reason: text.clone(),
            },
            Error::Sql {
                code: text.clone(),
                sql_state: text.clone(),
                message: text.clone(),
                handle: handle.clone(),
                created_on: None,
            },
            Error::Timeout {
                message: text.clone(),
                handle,
                created_on: None,
            },
            Error::Throttled {
                attempts: 0,
                elapsed: Duration::ZERO,
            },
            Error::Unavailable {
                attempts: 0,
                reason: text.clone(),
            },
            Error::Rejected {
                status: 0,
                code: text.clone(),
                message: text.clone(),
            },
            Error::Protocol(text),
        ];
        // No wildcard: a new variant does not compile until it has a value above.
        for e in &all {
            match e {
                Error::MissingSecretField { .. }
                | Error::InvalidSecret { .. }
                | Error::InvalidKey { .. }
                | Error::WrongPassphrase
                | Error::LegacyEncryptedKey
                | Error::InvalidIdentifier { .. }
                | Error::InvalidConfig(_)
                | Error::SecretUnavailable { .. }
                | Error::Unauthorized { .. }
                | Error::AwsIdentityUnavailable { .. }
                | Error::Sql { .. }
                | Error::Timeout { .. }
                | Error::Throttled { .. }
                | Error::Unavailable { .. }
                | Error::Rejected { .. }
                | Error::Protocol(_) => {}
            }
        }
        all
    }
}

/// Every error name, for documentation and for tests that check the state machine matches them
/// (equal to the names of [`Error::catalogue`], which a test below holds it to).
pub const ERROR_NAMES: &[&str] = &[
    "Snowflake.MissingSecretField",
    "Snowflake.InvalidSecret",
    "Snowflake.InvalidKey",
    "Snowflake.WrongPassphrase",
    "Snowflake.LegacyEncryptedKey",
    "Snowflake.InvalidIdentifier",
    "Snowflake.InvalidConfig",
    "Snowflake.SecretUnavailable",
    "Snowflake.Unauthorized",
    "Snowflake.AwsIdentityUnavailable",
    "Snowflake.SqlError",
    "Snowflake.Timeout",
    "Snowflake.Throttled",
    "Snowflake.Unavailable",
    "Snowflake.Rejected",
    "Snowflake.Protocol",
];

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_name_list_is_the_catalogue_s() {
        let names: Vec<&str> = Error::catalogue().iter().map(Error::name).collect();
        assert_eq!(names, ERROR_NAMES);
    }
}
