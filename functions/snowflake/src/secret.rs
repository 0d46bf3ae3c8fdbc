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

/// Connection settings and credentials read from the secret's JSON.
///
/// ```json
/// {"account": "myorg-myacct", "user": "SVC_POSTETL", "privateKey": "<PKCS#8 PEM>",
///  "passphrase": "", "role": "POSTETL", "warehouse": "POSTETL_WH", "database": "ANALYTICS",
///  "schema": "PUBLIC"}
/// ```
#[derive(Clone, Debug)]
pub struct SnowflakeSecret {
    pub account: String,
    pub user: String,
    pub private_key: SecretString,
    pub passphrase: Option<SecretString>,
    pub role: String,
    pub warehouse: String,
    pub database: String,
    pub schema: String,
}

// Every field optional here so that a missing one is reported by name, not as a serde error that
// might quote the document.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawSecret {
    account: Option<String>,
    user: Option<String>,
    private_key: Option<SecretString>,
    passphrase: Option<SecretString>,
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
        let private_key =
            raw.private_key
                .filter(|k| !k.is_empty())
                .ok_or(Error::MissingSecretField {
                    field: "privateKey",
                })?;
        Ok(Self {
            account: required(raw.account, "account")?,
            user: required(raw.user, "user")?,
            private_key,
            passphrase: raw.passphrase.filter(|p| !p.expose().is_empty()),
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
        assert!(s.passphrase.is_none(), "an empty passphrase means none");
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
