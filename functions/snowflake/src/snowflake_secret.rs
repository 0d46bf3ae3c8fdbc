//! The Snowflake secret as stored in Secrets Manager (seed 000), and a string type for secret
//! material that zeroes itself and never prints.

use crate::error::{Error, Result};
use serde::Deserialize;
use std::fmt;
use zeroize::Zeroizing;

/// Text that must not leak: zeroed on drop, redacted in Debug and Display.
#[derive(Clone, Default, Deserialize)]
#[serde(transparent)]
pub struct SecretString(Zeroizing<String>);

impl SecretString {
    pub fn new(value: impl Into<String>) -> Self {
        Self(Zeroizing::new(value.into()))
    }

    /// The secret value; the name makes every use visible in review.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.trim().is_empty()
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl From<String> for SecretString {
    fn from(value: String) -> Self {
        Self::new(value)
    }
}

/// Connection settings and one credential read from the secret's JSON. `authenticator` picks the
/// credential, with the values Snowflake's drivers use; without it the secret holds a key pair.
///
/// ```json
/// {"account": "myorg-myacct", "user": "SVC_POSTETL", "privateKey": "<PKCS#8 PEM>",
///  "passphrase": "", "role": "POSTETL", "warehouse": "POSTETL_WH", "database": "ANALYTICS",
///  "schema": "PUBLIC"}
/// {"account": "...", "user": "...", "authenticator": "PROGRAMMATIC_ACCESS_TOKEN", "token": "<PAT>", ...}
/// {"account": "...", "user": "...", "authenticator": "OAUTH", "token": "<access token>", ...}
/// ```
#[derive(Clone, Debug)]
pub struct SnowflakeSecret {
    pub account: String,
    pub user: String,
    pub credential: SecretCredential,
    pub role: String,
    pub warehouse: String,
    pub database: String,
    pub schema: String,
}

/// The credential a secret holds.
#[derive(Clone, Debug)]
pub enum SecretCredential {
    /// An RSA private key (PEM) for key-pair JWTs, with its passphrase when encrypted.
    KeyPair {
        private_key: SecretString,
        passphrase: Option<SecretString>,
    },
    /// A programmatic access token (`ALTER USER ... ADD PROGRAMMATIC ACCESS TOKEN`).
    ProgrammaticAccessToken(SecretString),
    /// An External OAuth access token, kept fresh in the secret by whatever issues it.
    OAuth(SecretString),
}

/// `authenticator` values accepted, as Snowflake's drivers spell them.
pub const AUTHENTICATORS: &[&str] = &["SNOWFLAKE_JWT", "PROGRAMMATIC_ACCESS_TOKEN", "OAUTH"];

// Every field optional here so that a missing one is reported by name, not as a serde error that
// might quote the document.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawSecret {
    account: Option<String>,
    user: Option<String>,
    authenticator: Option<String>,
    private_key: Option<SecretString>,
    passphrase: Option<SecretString>,
    token: Option<SecretString>,
    role: Option<String>,
    warehouse: Option<String>,
    database: Option<String>,
    schema: Option<String>,
}

impl SnowflakeSecret {
    /// Parses the secret's JSON text. Errors name the field at fault and never quote values.
    pub fn from_json(text: &str) -> Result<Self> {
        let raw: RawSecret = serde_json::from_str(text).map_err(|e| Error::InvalidSecret {
            // serde_json's message carries only a category and a position, never the input.
            reason: format!("not a JSON object of strings ({})", e.classify_name()),
        })?;
        fn required(value: Option<String>, field: &'static str) -> Result<String> {
            match value {
                Some(v) if !v.trim().is_empty() => Ok(v.trim().to_string()),
                _ => Err(Error::MissingSecretField { field }),
            }
        }
        fn present(value: Option<SecretString>, field: &'static str) -> Result<SecretString> {
            value
                .filter(|v| !v.is_empty())
                .ok_or(Error::MissingSecretField { field })
        }
        let authenticator = raw
            .authenticator
            .as_deref()
            .map(|a| a.trim().to_ascii_uppercase())
            .filter(|a| !a.is_empty());
        let credential = match authenticator.as_deref() {
            None | Some("SNOWFLAKE_JWT") => {
                if raw.private_key.is_none() && raw.token.is_some() {
                    return Err(Error::InvalidSecret {
                        reason: "the secret has a `token` but no `authenticator`: set it to \
                                 PROGRAMMATIC_ACCESS_TOKEN or OAUTH"
                            .into(),
                    });
                }
                SecretCredential::KeyPair {
                    private_key: present(raw.private_key, "privateKey")?,
                    passphrase: raw.passphrase.filter(|p| !p.expose().is_empty()),
                }
            }
            Some("PROGRAMMATIC_ACCESS_TOKEN") => {
                SecretCredential::ProgrammaticAccessToken(present(raw.token, "token")?)
            }
            Some("OAUTH") => SecretCredential::OAuth(present(raw.token, "token")?),
            Some(other) => {
                return Err(Error::InvalidSecret {
                    reason: format!(
                        "authenticator {other:?} is not one of {}",
                        AUTHENTICATORS.join(", ")
                    ),
                });
            }
        };
        Ok(Self {
            account: required(raw.account, "account")?,
            user: required(raw.user, "user")?,
            credential,
            role: required(raw.role, "role")?,
            warehouse: required(raw.warehouse, "warehouse")?,
            database: required(raw.database, "database")?,
            schema: required(raw.schema, "schema")?,
        })
    }
}

trait ClassifyName {
    fn classify_name(&self) -> &'static str;
}

impl ClassifyName for serde_json::Error {
    fn classify_name(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "I/O error",
            serde_json::error::Category::Syntax => "syntax error",
            serde_json::error::Category::Data => "a field has the wrong type",
            serde_json::error::Category::Eof => "truncated",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: &str = r#"{"account": "xy12345", "user": "svc", "privateKey": "PEM AAAA not a real key",
        "passphrase": "", "role": "R", "warehouse": "WH", "database": "DB", "schema": "PUBLIC"}"#;

    #[test]
    fn parses_the_seed_shape() {
        let s = SnowflakeSecret::from_json(FULL).unwrap();
        assert_eq!(s.account, "xy12345");
        assert!(
            matches!(
                s.credential,
                SecretCredential::KeyPair {
                    passphrase: None,
                    ..
                }
            ),
            "an empty passphrase means none"
        );
    }

    #[test]
    fn each_missing_or_empty_field_is_named() {
        for field in [
            "account",
            "user",
            "privateKey",
            "role",
            "warehouse",
            "database",
            "schema",
        ] {
            let mut v: serde_json::Value = serde_json::from_str(FULL).unwrap();
            v.as_object_mut().unwrap().remove(field);
            let err = SnowflakeSecret::from_json(&v.to_string()).unwrap_err();
            assert_eq!(err.name(), "Snowflake.MissingSecretField");
            assert!(err.to_string().contains(field), "{err}");
            v[field] = serde_json::Value::String("  ".into());
            let err = SnowflakeSecret::from_json(&v.to_string()).unwrap_err();
            assert!(err.to_string().contains(field), "{err}");
        }
    }

    #[test]
    fn token_credentials_by_authenticator() {
        let pat = r#"{"account": "a", "user": "u", "authenticator": "programmatic_access_token",
            "token": "pat-secret-value", "role": "R", "warehouse": "WH", "database": "DB", "schema": "S"}"#;
        let s = SnowflakeSecret::from_json(pat).unwrap();
        assert!(
            matches!(s.credential, SecretCredential::ProgrammaticAccessToken(ref t) if t.expose() == "pat-secret-value")
        );
        assert!(!format!("{s:?}").contains("pat-secret-value"));

        let oauth = pat.replace("programmatic_access_token", "OAUTH");
        let s = SnowflakeSecret::from_json(&oauth).unwrap();
        assert!(matches!(s.credential, SecretCredential::OAuth(_)));

        let no_token = pat.replace(r#""token": "pat-secret-value","#, "");
        let err = SnowflakeSecret::from_json(&no_token).unwrap_err();
        assert_eq!(err.name(), "Snowflake.MissingSecretField");
        assert!(err.to_string().contains("`token`"), "{err}");

        let unnamed = pat.replace(r#""authenticator": "programmatic_access_token","#, "");
        let err = SnowflakeSecret::from_json(&unnamed).unwrap_err();
        assert_eq!(err.name(), "Snowflake.InvalidSecret");
        assert!(
            err.to_string()
                .contains("PROGRAMMATIC_ACCESS_TOKEN or OAUTH"),
            "{err}"
        );

        let unknown = pat.replace("programmatic_access_token", "password");
        let err = SnowflakeSecret::from_json(&unknown).unwrap_err();
        assert!(
            err.to_string().contains("\"PASSWORD\" is not one of"),
            "{err}"
        );
        assert!(!err.to_string().contains("pat-secret-value"));
    }

    #[test]
    fn errors_and_debug_never_show_values() {
        let err = SnowflakeSecret::from_json(r#"{"privateKey": 42, "passphrase": "hunter2"}"#)
            .unwrap_err();
        assert_eq!(err.name(), "Snowflake.InvalidSecret");
        assert!(!err.to_string().contains("hunter2"));
        let err = SnowflakeSecret::from_json("hunter2 not json").unwrap_err();
        assert!(!err.to_string().contains("hunter2"));

        let with_pass = FULL.replace(r#""passphrase": """#, r#""passphrase": "hunter2""#);
        let s = SnowflakeSecret::from_json(&with_pass).unwrap();
        let debug = format!("{s:?}");
        assert!(
            !debug.contains("hunter2") && !debug.contains("AAAA"),
            "{debug}"
        );
        assert!(debug.contains("[redacted]"));
    }
}
