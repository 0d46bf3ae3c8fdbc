//! `postetl debug`: checks, one by one, what the Lambdas need from Snowflake (like dbt's `debug`):
//! the credentials (the secret's fields and key, or the keyless settings), the connection, the
//! role and warehouse the session gets, each pipeline's warehouse and the tables it reads and
//! writes. Each line says what is wrong and what to run about it.

use pipeline::Config;
use pipeline::config::OnSchemaChange;
use snowflake::{Client, ClientConfig, Credentials, SecretCredential, SnowflakeSecret, Statement};
use std::io::Write;
use std::time::Duration;

/// How the Lambdas authenticate, as the CLI is told.
pub enum Auth {
    /// The Secrets Manager secret (name or ARN).
    Secret(String),
    /// Keyless: `SNOWFLAKE_AUTH=workload_identity` settings from the environment.
    Keyless,
}

/// Checks in order; returns how many failed. `base_url` replaces the account URL (the emulator);
/// `use_warehouse` allows reading the tables, which resumes a suspended warehouse.
pub async fn run(
    config: &Config,
    auth: Auth,
    base_url: Option<url::Url>,
    use_warehouse: bool,
    sdk: &aws_config::SdkConfig,
    out: &mut impl Write,
) -> std::io::Result<usize> {
    let mut failed = 0;
    let mut report = |out: &mut dyn Write, ok: bool, what: &str, text: &str| {
        failed += usize::from(!ok);
        let mark = if ok { "✓" } else { "✗" };
        let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        for line in crate::text::wrap(&format!("  {mark} {what:<12} {text}"), 17) {
            writeln!(out, "{line}")?;
        }
        std::io::Result::Ok(())
    };

    // 1. The credentials, before any request to Snowflake.
    let default_wh: String;
    let (credentials, role) = match auth {
        Auth::Secret(id) => {
            let fetched = aws_sdk_secretsmanager::Client::new(sdk)
                .get_secret_value()
                .secret_id(&id)
                .send()
                .await;
            let text = match fetched {
                Ok(v) => v.secret_string.unwrap_or_default(),
                Err(e) => {
                    let f = crate::failure::Failure::aws("GetSecretValue", e);
                    report(out, false, "secret", &format!("{id}: {f}"))?;
                    return Ok(failed);
                }
            };
            let secret = match SnowflakeSecret::from_json(&text) {
                Ok(s) => s,
                Err(e) => {
                    report(out, false, "secret", &format!("{id}: {} ({e})", e.name()))?;
                    return Ok(failed);
                }
            };
            let what = match &secret.credential {
                SecretCredential::KeyPair {
                    private_key,
                    passphrase,
                } => match snowflake::PrivateKey::from_pem(private_key, passphrase.as_ref()) {
                    Ok(key) => format!(
                        "key pair, public key fingerprint {}: compare with RSA_PUBLIC_KEY_FP or \
                         RSA_PUBLIC_KEY_2_FP in DESC USER {}",
                        key.fingerprint(),
                        secret.user
                    ),
                    Err(e) => {
                        report(out, false, "secret", &format!("{id}: {} ({e})", e.name()))?;
                        return Ok(failed);
                    }
                },
                SecretCredential::ProgrammaticAccessToken(_) => "programmatic access token".into(),
                SecretCredential::OAuth(_) => "External OAuth token".into(),
            };
            report(
                out,
                true,
                "secret",
                &format!(
                    "{id}: account {}, user {}, role {}, warehouse {}; {what}",
                    secret.account, secret.user, secret.role, secret.warehouse
                ),
            )?;
            let role = secret.role.clone();
            default_wh = secret.warehouse.clone();
            (
                Credentials::from(snowflake::SecretSource::Inline(
                    snowflake::SecretString::new(text),
                )),
                role,
            )
        }
        Auth::Keyless => {
            let vars = |name: &str| std::env::var(name).ok();
            let vars_with_mode = |name: &str| match name {
                pipeline::env_vars::SNOWFLAKE_AUTH => Some("workload_identity".to_string()),
                other => vars(other),
            };
            match pipeline::runtime::credentials_from_env(
                vars_with_mode,
                &pipeline::AwsConfig::from(sdk.clone()),
            ) {
                Ok(c) => {
                    let role = vars(pipeline::env_vars::SNOWFLAKE_ROLE).unwrap_or_default();
                    default_wh = vars(pipeline::env_vars::SNOWFLAKE_WAREHOUSE).unwrap_or_default();
                    report(
                        out,
                        true,
                        "keyless",
                        &format!(
                            "account {}, role {role}: Snowflake finds the user by this process's \
                             AWS role (SHOW USER WORKLOAD IDENTITY AUTHENTICATION METHODS)",
                            vars("SNOWFLAKE_ACCOUNT").unwrap_or_default()
                        ),
                    )?;
                    (c, role)
                }
                Err(e) => {
                    report(out, false, "keyless", &e.to_string())?;
                    return Ok(failed);
                }
            }
        }
    };

    // 2. The connection: authenticates and tells who the session is.
    let client = match Client::new(
        credentials,
        ClientConfig {
            base_url,
            ..ClientConfig::default()
        },
    ) {
        Ok(c) => c,
        Err(e) => {
            report(out, false, "connection", &format!("{}: {e}", e.name()))?;
            return Ok(failed);
        }
    };
    // The first request authenticates; SHOW WAREHOUSES needs no warehouse running, so debug
    // never wakes one unless told to. Snowflake refuses a session whose role the user lacks.
    let budget = Duration::from_secs(60);
    let first = match snowflake::Identifier::new(&default_wh)
        .and_then(|wh| warehouse::show_warehouse_sql(&wh))
    {
        Ok(sql) => client.query(&Statement::new(sql), budget).await.map(|_| ()),
        Err(e) => Err(e),
    };
    if let Err(e) = first {
        report(out, false, "connection", &format!("{}: {e}", e.name()))?;
        return Ok(failed);
    }
    report(
        out,
        true,
        "connection",
        &format!("authenticated, with role {role}"),
    )?;
    let current_role = role;

    // 3. Each pipeline's warehouse and tables, as the session's role sees them.
    for p in config.pipelines.values() {
        let wh = &p.warehouse;
        let show = match warehouse::show_warehouse_sql(wh) {
            Ok(sql) => Statement::new(sql),
            Err(e) => {
                report(out, false, "warehouse", &e.to_string())?;
                continue;
            }
        };
        match client.query(&show, budget).await {
            Ok(rows) => {
                let state = rows.iter().find_map(|r| {
                    (r.get_str("name").ok().flatten() == Some(wh.as_str()))
                        .then(|| r.get_str("state").ok().flatten().unwrap_or("?").to_string())
                });
                match state {
                    Some(state) => report(
                        out,
                        true,
                        "warehouse",
                        &format!("{} ({}): {state}", wh.as_str(), p.name),
                    )?,
                    None => report(
                        out,
                        false,
                        "warehouse",
                        &format!(
                            "{} ({}) does not exist or role {current_role} may not use it: \
                             GRANT USAGE, OPERATE ON WAREHOUSE {wh} TO ROLE {current_role}",
                            wh.as_str(),
                            p.name
                        ),
                    )?,
                }
            }
            Err(e) => report(
                out,
                false,
                "warehouse",
                &format!("{}: {}: {e}", wh.as_str(), e.name()),
            )?,
        }
        let tables = p
            .iceberg_tables
            .iter()
            .map(|t| (t.table.to_string(), "OWNERSHIP (to REFRESH)"))
            .chain(p.merges.iter().filter_map(|m| match &m.how {
                pipeline::config::MergeSpec::Generated {
                    target,
                    on_schema_change,
                    ..
                } => Some((
                    target.to_string(),
                    match on_schema_change {
                        // ALTER TABLE .. ADD / DROP / ALTER COLUMN needs the table's OWNERSHIP.
                        OnSchemaChange::AppendNewColumns | OnSchemaChange::SyncAllColumns => {
                            "OWNERSHIP (to ALTER its columns)"
                        }
                        _ => "SELECT, INSERT, UPDATE, DELETE",
                    },
                )),
                pipeline::config::MergeSpec::Sql(_) => None,
            }));
        if !use_warehouse {
            let line = format!(
                "  - tables       not checked: reading them would resume {} \
                 (--use-warehouse reads each with LIMIT 0)",
                wh.as_str()
            );
            for l in crate::text::wrap(&line, 17) {
                writeln!(out, "{l}")?;
            }
            continue;
        }
        for (table, needs) in tables {
            // LIMIT 0 reads no rows; it fails alike for a missing table and one the role may not
            // read (Snowflake does not tell them apart).
            let probe =
                Statement::new(format!("SELECT 1 FROM {table} LIMIT 0")).warehouse(wh.as_str());
            match client.query(&probe, budget).await {
                Ok(_) => report(out, true, "table", &table)?,
                Err(e) => report(
                    out,
                    false,
                    "table",
                    &format!(
                        "{table}: {e}; the role needs {needs} ON TABLE {table} (cdk/README.md \
                         lists every GRANT)"
                    ),
                )?,
            }
        }
    }
    Ok(failed)
}
