//! `postetl compile`: every statement a run of a pipeline sends to Snowflake, in order, as a SQL
//! script with comments, without touching Snowflake or AWS (like dbt's `compile`). The text comes
//! from the step crates' own SQL functions, so it is what the Lambdas send.

use pipeline::Config;
use pipeline::config::{IcebergTable, MartAction, MergeSpec, OnSchemaChange, Pipeline};
use std::fmt::Write;

/// The script for one pipeline of the config.
pub fn script(config: &Config, pipeline: &Pipeline) -> Result<String, snowflake::Error> {
    let mut s = String::new();
    let wh = &pipeline.warehouse;
    let mut step = 0;
    let mut heading = |s: &mut String, text: &str| {
        step += 1;
        let _ = write!(s, "\n-- {step}. {text}\n");
    };
    let _ = writeln!(
        s,
        "-- postetl compile {}: the statements one run sends, in order. Nothing was sent.\n\
         -- Every statement carries a request id derived from the run, so a retry or a replayed\n\
         -- event gets Snowflake's earlier answer instead of running it again.\n\
         -- Not listed: after each step item, one MERGE INTO {} records it in the run ledger\n\
         -- (values bound at run time; the table is created the first time it is missing).",
        pipeline.name, config.ledger_table
    );
    heading(
        &mut s,
        &format!(
            "ResumeWarehouse: how {} is found decides the rest",
            wh.as_str()
        ),
    );
    line(&mut s, &warehouse::show_warehouse_sql(wh)?);
    if let Some(size) = &pipeline.warehouse_size {
        let _ = writeln!(
            s,
            "-- only when its size is not {size} (restored at the end):"
        );
        line(&mut s, &warehouse::size_sql(wh, size)?);
    }
    let _ = writeln!(
        s,
        "-- only when it is suspended (suspended again at the end):"
    );
    line(&mut s, &warehouse::resume_sql(wh));

    heading(
        &mut s,
        &format!(
            "RefreshIcebergTables: {} tables, in parallel",
            pipeline.iceberg_tables.len()
        ),
    );
    for table in &pipeline.iceberg_tables {
        refresh(&mut s, table)?;
    }
    for merge in &pipeline.merges {
        if let MergeSpec::Generated {
            target,
            source,
            on_schema_change,
            ..
        } = &merge.how
            && pipeline.iceberg_tables.iter().any(|t| t.table == *source)
        {
            let _ = writeln!(
                s,
                "-- after {source} is refreshed: merge {}'s target, compared with Glue's columns\n\
                 -- (ALTER TABLE only as on_schema_change = {} allows; README: \"Schema drift\")",
                merge.name,
                on_schema_change.as_str()
            );
            line(&mut s, &pipeline::schema::describe_sql(target));
        }
    }

    heading(
        &mut s,
        &format!(
            "RunMerges: {} merges, at most {} at a time",
            pipeline.merges.len(),
            pipeline.max_concurrency
        ),
    );
    for merge in &pipeline.merges {
        let _ = writeln!(s, "-- merge {}", merge.name);
        if let MergeSpec::Generated {
            target,
            source,
            on_schema_change: OnSchemaChange::AppendNewColumns | OnSchemaChange::SyncAllColumns,
            ..
        } = &merge.how
        {
            let _ = writeln!(
                s,
                "-- the columns both share, which it writes besides those below:"
            );
            line(&mut s, &pipeline::schema::describe_sql(source));
            line(&mut s, &pipeline::schema::describe_sql(target));
        }
        line(&mut s, &run_merge::merge_sql(&merge.how));
    }

    heading(
        &mut s,
        &format!(
            "CheckDataQuality: {} rules, one by one",
            pipeline.checks.len()
        ),
    );
    for check in &pipeline.checks {
        let (sql, binds) = dq_check::measure(&check.rule);
        let _ = writeln!(s, "-- rule {} ({})", check.name, check.severity.as_str());
        if !binds.is_empty() {
            let values: Vec<String> = binds
                .iter()
                .map(
                    |b| match serde_json::to_value(b).ok().map(|v| v["value"].clone()) {
                        Some(serde_json::Value::String(v)) => {
                            format!("'{}'", v.replace('\'', "''"))
                        }
                        _ => "NULL".to_string(),
                    },
                )
                .collect();
            let _ = writeln!(s, "-- bound to the ?: {}", values.join(", "));
        }
        line(&mut s, &sql);
    }
    if !pipeline.checks.is_empty() {
        let _ = writeln!(
            s,
            "-- the audit rows, one per rule (the ? are bound to the results)"
        );
        for sql in dq_check::audit_sql(&config.audit_table, pipeline.checks.len()) {
            line(&mut s, &sql);
        }
    }

    heading(
        &mut s,
        &format!(
            "RefreshMarts: {} marts, in order (skipped when an error rule failed)",
            pipeline.marts.len()
        ),
    );
    for mart in &pipeline.marts {
        let _ = writeln!(s, "-- mart {}", mart.name);
        line(&mut s, &refresh_marts::mart_sql(&mart.action));
        if let MartAction::ExecuteTask(_) = mart.action {
            let _ = writeln!(
                s,
                "-- then INFORMATION_SCHEMA.TASK_HISTORY is read until that task run ends"
            );
        }
    }

    heading(
        &mut s,
        &format!("SuspendWarehouse: {} back as the run found it", wh.as_str()),
    );
    line(&mut s, &warehouse::show_warehouse_sql(wh)?);
    if let Some(size) = &pipeline.warehouse_size {
        let _ = writeln!(
            s,
            "-- only when the run changed the size and it is still {size}: the size it had"
        );
        line(&mut s, &warehouse::size_sql(wh, "<size before the run>")?);
    }
    let _ = writeln!(s, "-- only when the run resumed it:");
    line(&mut s, &warehouse::suspend_sql(wh));
    Ok(s)
}

fn refresh(s: &mut String, table: &IcebergTable) -> Result<(), snowflake::Error> {
    match &table.storage_base_url {
        Some(base) => {
            let _ = writeln!(
                s,
                "-- the metadata file is Glue's metadata_location of {}.{} at run time,\n\
                 -- relative to {base}",
                table.glue_database, table.glue_table
            );
            line(
                s,
                &refresh_iceberg::refresh_sql(table, Some("<metadata file from Glue>"))?,
            );
        }
        None => line(s, &refresh_iceberg::refresh_sql(table, None)?),
    }
    Ok(())
}

fn line(s: &mut String, sql: &str) {
    let _ = writeln!(s, "{};", sql.trim_end().trim_end_matches(';'));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sample_pipeline_in_order() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../statemachine");
        let config = Config::load(&root.join("pipelines.toml")).unwrap();
        let orders = config.pipeline("orders").unwrap();
        let text = script(&config, orders).unwrap();
        let at = |needle: &str| {
            text.find(needle)
                .unwrap_or_else(|| panic!("{needle:?} missing from\n{text}"))
        };
        let order = [
            "SHOW WAREHOUSES LIKE",
            "RESUME IF SUSPENDED;",
            "ALTER ICEBERG TABLE",
            "\nMERGE INTO",
            "SELECT COUNT(*)",
            "INSERT INTO",
            "ALTER WAREHOUSE \"POSTETL_WH\" SUSPEND;",
        ];
        let positions: Vec<usize> = order.iter().map(|n| at(n)).collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{text}");
        // The header names the run ledger's MERGE; the merges are the statements.
        assert_eq!(
            text.matches("\nMERGE INTO").count(),
            orders.merges.len(),
            "{text}"
        );
    }
}
