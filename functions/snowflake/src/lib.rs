//! Snowflake access for the postetl Lambdas: authentication (key-pair JWT, programmatic access token
//! or OAuth token from AWS Secrets Manager, or keyless AWS workload identity federation), and a
//! client for the SQL API v2 (`/api/v2/statements`).
//!
//! ```no_run
//! # async fn run() -> Result<(), snowflake::Error> {
//! use snowflake::{AwsConfig, Binding, Client, ClientConfig, SecretSource, Statement};
//! use std::time::Duration;
//! let client = Client::new(
//!     SecretSource::aws_with("postetl/snowflake", AwsConfig::from_env(), None),
//!     ClientConfig::default(),
//! )?;
//! let rows = client
//!     .query(&Statement::new("SELECT COUNT(*) FROM orders WHERE region = ?").bind(Binding::text("EU")), Duration::from_secs(60))
//!     .await?;
//! println!("{:?}", rows.row(0).unwrap().get_i64(0)?);
//! # Ok(()) }
//! ```
//!
//! Error names (`Error::name`, reported by the Lambdas as `errorType`) are listed in [`ERROR_NAMES`].

mod account;
mod auth;
mod client;
mod error;
mod ident;
mod keypair;
mod result;
mod sdk_config;
mod secret_source;
mod snowflake_secret;
mod statement;
mod workload_identity;

pub use account::{account_url, jwt_account};
pub use auth::{AuthPolicy, Connection, Credentials};
pub use client::{Client, ClientConfig, OnDeadline, Outcome, PollPolicy, RetryPolicy, Wait};
pub use error::{ERROR_NAMES, Error, Result};
pub use ident::{Identifier, ObjectName, string_literal};
pub use keypair::{JwtIssuer, MAX_LIFETIME, PrivateKey, fingerprint};
pub use result::{Column, ColumnRef, ResultSet, Row, Stats};
pub use sdk_config::AwsConfig;
pub use secret_source::{EXTENSION_PORT_VAR, Extension, SESSION_TOKEN_VAR, SecretSource};
pub use snowflake_secret::{AUTHENTICATORS, SecretCredential, SecretString, SnowflakeSecret};
pub use statement::{Binding, Statement, derive_request_id};
pub use workload_identity::{AttestationForm, AwsWorkloadIdentity, SNOWFLAKE_AUDIENCE, sts_host};
