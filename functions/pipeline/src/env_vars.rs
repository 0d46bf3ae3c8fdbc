//! The environment variables postetl's functions read, declared once. The CDK app sets exactly
//! the [`DEPLOYED`] names (`cdk/lib/postetl-stack.ts`), the test world sets them for the local
//! Lambdas (`tests/src/world.rs`), and `tests/tests/structure.rs` fails when either spells one
//! the functions do not read. They are read at a binary's edge only ([`crate::Env::from_env`],
//! [`crate::runtime::client_from_env`], finalize's main, the CLI's arguments).

/// Path of the pipeline config; unset, [`crate::runtime::DEFAULT_CONFIG_PATH`] (the config layer).
pub const POSTETL_CONFIG: &str = "POSTETL_CONFIG";
/// The Secrets Manager secret (name or ARN) holding the Snowflake credential (secret mode).
pub const POSTETL_SECRET_ID: &str = "POSTETL_SECRET_ID";
/// finalize's alert topic.
pub const POSTETL_ALERT_TOPIC_ARN: &str = "POSTETL_ALERT_TOPIC_ARN";
/// `secret` (the default) or `workload_identity` (keyless).
pub const SNOWFLAKE_AUTH: &str = "SNOWFLAKE_AUTH";
/// Keyless mode's connection settings (a secret carries them otherwise); the user is for logs.
pub const SNOWFLAKE_ACCOUNT: &str = "SNOWFLAKE_ACCOUNT";
pub const SNOWFLAKE_ROLE: &str = "SNOWFLAKE_ROLE";
pub const SNOWFLAKE_WAREHOUSE: &str = "SNOWFLAKE_WAREHOUSE";
pub const SNOWFLAKE_DATABASE: &str = "SNOWFLAKE_DATABASE";
pub const SNOWFLAKE_SCHEMA: &str = "SNOWFLAKE_SCHEMA";
pub const SNOWFLAKE_USER: &str = "SNOWFLAKE_USER";
/// Keyless: `false` proves the role with a signed GetCallerIdentity request instead of a web
/// identity token (the Python connector's name for the same choice).
pub const SNOWFLAKE_ENABLE_AWS_WIF_OUTBOUND_TOKEN: &str = "SNOWFLAKE_ENABLE_AWS_WIF_OUTBOUND_TOKEN";
/// The SQL API's base URL instead of the account's (the emulator, a proxy).
pub const SNOWFLAKE_BASE_URL: &str = "SNOWFLAKE_BASE_URL";
/// `true`: the account's PrivateLink host.
pub const SNOWFLAKE_PRIVATE_LINK: &str = "SNOWFLAKE_PRIVATE_LINK";

/// Every name above: what a deployment may set on the functions.
pub const DEPLOYED: &[&str] = &[
    POSTETL_CONFIG,
    POSTETL_SECRET_ID,
    POSTETL_ALERT_TOPIC_ARN,
    SNOWFLAKE_AUTH,
    SNOWFLAKE_ACCOUNT,
    SNOWFLAKE_ROLE,
    SNOWFLAKE_WAREHOUSE,
    SNOWFLAKE_DATABASE,
    SNOWFLAKE_SCHEMA,
    SNOWFLAKE_USER,
    SNOWFLAKE_ENABLE_AWS_WIF_OUTBOUND_TOKEN,
    SNOWFLAKE_BASE_URL,
    SNOWFLAKE_PRIVATE_LINK,
];

/// The CLI only: the state machine `start` and `replay` start (the stack's `StateMachineArn`).
pub const POSTETL_STATE_MACHINE_ARN: &str = "POSTETL_STATE_MACHINE_ARN";
