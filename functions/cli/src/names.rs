//! Checks what the user typed against the config before anything starts, and names executions.

use pipeline::Config;
use pipeline::config::Pipeline;
use serde_json::Value;

/// Input the config or the workflow would refuse; found before an execution is created, so a typo
/// never becomes a failed execution and an alert.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("no pipeline {name:?} in {file} (it has: {known})")]
    UnknownPipeline {
        name: String,
        file: String,
        known: String,
    },
    #[error("pipeline {pipeline} has no Iceberg table {name:?} (it has: {known})")]
    UnknownTable {
        pipeline: String,
        name: String,
        known: String,
    },
    #[error("no pipeline in {file} runs after Glue job {job:?} (jobs: {known})")]
    UnknownJob {
        job: String,
        file: String,
        known: String,
    },
    #[error("the event's Glue job run ended {0}; only SUCCEEDED runs are brought to Snowflake")]
    NotSucceeded(String),
    #[error(
        "{0}: expected a Glue Job State Change event or a console input like {{\"pipeline\": \"orders\"}}"
    )]
    NotAnInput(String),
}

fn list<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let names: Vec<&str> = names.collect();
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

/// The pipeline named `name`, and every table of `tables` among its Iceberg tables (full name or
/// table name, any case: what the plan step accepts).
pub fn check_start<'a>(
    config: &'a Config,
    file: &str,
    name: &str,
    tables: &[String],
) -> Result<&'a Pipeline, InputError> {
    let pipeline = config
        .pipeline(name)
        .ok_or_else(|| InputError::UnknownPipeline {
            name: name.into(),
            file: file.into(),
            known: list(config.pipelines.keys().map(String::as_str)),
        })?;
    for table in tables {
        let known = pipeline.iceberg_tables.iter().any(|t| {
            table.eq_ignore_ascii_case(&t.table.plain())
                || table.eq_ignore_ascii_case(t.table.name().as_str())
        });
        if !known {
            let names: Vec<String> = pipeline
                .iceberg_tables
                .iter()
                .map(|t| t.table.plain())
                .collect();
            return Err(InputError::UnknownTable {
                pipeline: pipeline.name.clone(),
                name: table.clone(),
                known: list(names.iter().map(String::as_str)),
            });
        }
    }
    Ok(pipeline)
}

/// The pipeline a recorded input would run: a Glue event's job, or a console input's pipeline.
pub fn check_input<'a>(
    config: &'a Config,
    file: &str,
    what: &str,
    input: &Value,
) -> Result<&'a Pipeline, InputError> {
    if input["detail-type"] == "Glue Job State Change" {
        let job = input["detail"]["jobName"].as_str().unwrap_or_default();
        let state = input["detail"]["state"].as_str().unwrap_or_default();
        if state != "SUCCEEDED" {
            return Err(InputError::NotSucceeded(state.into()));
        }
        return config
            .pipeline_for_job(job)
            .ok_or_else(|| InputError::UnknownJob {
                job: job.into(),
                file: file.into(),
                known: list(
                    config
                        .pipelines
                        .values()
                        .flat_map(|p| p.glue_jobs.iter().map(String::as_str)),
                ),
            });
    }
    let Some(name) = input["pipeline"].as_str() else {
        return Err(InputError::NotAnInput(what.into()));
    };
    let tables: Vec<String> = match &input["tables"] {
        Value::Null => Vec::new(),
        Value::Array(items) => items
            .iter()
            .map(|t| t.as_str().map(String::from))
            .collect::<Option<_>>()
            .ok_or_else(|| InputError::NotAnInput(what.into()))?,
        _ => return Err(InputError::NotAnInput(what.into())),
    };
    check_start(config, file, name, &tables)
}

/// Step Functions' longest execution name.
pub const NAME_MAX: usize = 80;

/// A fresh execution name: `<pipeline>-<UTC time>-<random>`, e.g. `orders-20261202T061500Z-3fa9c1`.
/// Unique without coordination (the time to the second plus 24 random bits), readable in the
/// console, and inside Step Functions' rules: at most 80 characters, and only 0-9, A-Z, a-z, `-`
/// and `_`, the characters AWS asks for when logging to CloudWatch Logs (StartExecution, `name`).
pub fn execution_name(prefix: &str, now: chrono::DateTime<chrono::Utc>, random: u32) -> String {
    let stamp = now.format("%Y%m%dT%H%M%SZ").to_string();
    let tail = format!("-{stamp}-{:06x}", random & 0xff_ffff);
    let clean: String = prefix
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .take(NAME_MAX - tail.len())
        .collect();
    let clean = if clean.is_empty() { "postetl" } else { &clean };
    format!("{clean}{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    fn config() -> Config {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../statemachine");
        Config::load(&root.join("pipelines.toml")).unwrap()
    }

    #[test]
    fn names_are_checked_against_the_config() {
        let c = config();
        assert!(check_start(&c, "p.toml", "orders", &["orders".into()]).is_ok());
        assert!(check_start(&c, "p.toml", "orders", &["LAKE.RAW.ORDERS".into()]).is_ok());
        let e = check_start(&c, "p.toml", "nosuch", &[]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "no pipeline \"nosuch\" in p.toml (it has: orders)"
        );
        let e = check_start(&c, "p.toml", "orders", &["ORDRES".into()]).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("pipeline orders has no Iceberg table \"ORDRES\" (it has: LAKE.RAW."),
            "{e}"
        );
    }

    #[test]
    fn recorded_inputs_are_checked_too() {
        let c = config();
        let event = |job: &str, state: &str| {
            json!({"detail-type": "Glue Job State Change",
                   "detail": {"jobName": job, "state": state, "jobRunId": "jr_1"}})
        };
        assert_eq!(
            check_input(&c, "f", "e", &event("orders-to-iceberg", "SUCCEEDED"))
                .unwrap()
                .name,
            "orders"
        );
        assert!(matches!(
            check_input(&c, "f", "e", &event("other-job", "SUCCEEDED")),
            Err(InputError::UnknownJob { .. })
        ));
        assert!(matches!(
            check_input(&c, "f", "e", &event("orders-to-iceberg", "FAILED")),
            Err(InputError::NotSucceeded(_))
        ));
        assert!(
            check_input(
                &c,
                "f",
                "e",
                &json!({"pipeline": "orders", "tables": ["X"]})
            )
            .is_err()
        );
        assert!(matches!(
            check_input(&c, "f", "e", &json!({"hello": 1})),
            Err(InputError::NotAnInput(_))
        ));
    }

    #[test]
    fn execution_names_are_unique_and_within_the_rules() {
        let now = chrono::Utc.with_ymd_and_hms(2026, 12, 2, 6, 15, 0).unwrap();
        assert_eq!(
            execution_name("orders", now, 0x3fa9c1),
            "orders-20261202T061500Z-3fa9c1"
        );
        assert_ne!(
            execution_name("orders", now, 1),
            execution_name("orders", now, 2)
        );
        let long = execution_name(&"x y:z/".repeat(40), now, u32::MAX);
        assert_eq!(long.len(), NAME_MAX);
        assert!(
            long.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
            "{long}"
        );
        assert!(long.ends_with("-20261202T061500Z-ffffff"));
    }
}
