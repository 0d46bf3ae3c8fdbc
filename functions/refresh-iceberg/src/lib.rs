//! Refreshes one Snowflake Iceberg table. Object-store tables are pointed at the metadata file
//! Glue holds as the table's current `metadata_location`, given relative to the external volume's
//! base location; tables behind a Glue catalog integration refresh without a path.
//!
//! Then, for each generated merge of the run that reads the table, it compares the table's columns
//! as Glue lists them with the target's (see [`pipeline::schema`]) and acts on the merge's
//! `on_schema_change`: drift it does not allow fails this step with `Schema.Drift`, and since every
//! refresh ends before the first MERGE starts, the run stops before any MERGE.

use lambda_runtime::LambdaEvent;
use pipeline::config::{CatalogKind, Merge, MergeSpec};
use pipeline::glue::GlueTable;
use pipeline::ledger::{Entry, Status};
use pipeline::schema::{self, Column};
use pipeline::steps::{Item, RefreshResult, SchemaDrift};
use pipeline::{Env, Step, StepError};
use snowflake::string_literal;

pub async fn handle(
    env: &Env,
    glue: &aws_sdk_glue::Client,
    event: LambdaEvent<Item>,
) -> Result<RefreshResult, StepError> {
    let item = event.payload;
    let step = env.step(
        &item.run,
        pipeline::StepId::RefreshIceberg,
        event.context.deadline(),
    )?;
    let result = refresh(&step, glue, &item).await;
    step.finish(&item.item, result, |r| {
        let mut entry = Entry::new(&r.table, Status::Done);
        entry.metadata_location = r.metadata_file.clone();
        entry.detail = Some(r.statement.clone());
        let drift = r.schema_drift.iter().map(|d| {
            let mut entry = Entry::new(&d.merge, Status::Drift);
            entry.detail = Some(format!(
                "on_schema_change = {}: {}; {}",
                d.on_schema_change,
                d.differences.join("; "),
                match d.statements.is_empty() {
                    true => "target left as it is".to_string(),
                    false => d.statements.join("; "),
                }
            ));
            entry
        });
        std::iter::once(entry).chain(drift).collect()
    })
    .await
}

async fn refresh(
    step: &Step<'_>,
    glue: &aws_sdk_glue::Client,
    item: &Item,
) -> Result<RefreshResult, StepError> {
    let table = step
        .pipeline
        .iceberg_tables
        .iter()
        .find(|t| t.table.plain() == item.item)
        .ok_or_else(|| StepError::UnknownItem {
            pipeline: item.run.pipeline.clone(),
            kind: "Iceberg table",
            name: item.item.clone(),
        })?;

    // The run's generated merges that read this table: their schema is checked after the refresh.
    let merges: Vec<&Merge> = step
        .scope()?
        .merges
        .into_iter()
        .filter(|m| matches!(&m.how, MergeSpec::Generated { source, .. } if *source == table.table))
        .collect();
    let object_store = table.catalog == CatalogKind::ObjectStore;
    let glue_table = match object_store || !merges.is_empty() {
        true => Some(pipeline::glue::table(glue, &table.glue_database, &table.glue_table).await?),
        false => None,
    };
    let (sql, metadata_file) = match (&glue_table, &table.storage_base_url) {
        (Some(glue_table), Some(base)) if object_store => {
            let relative = relative_to(glue_table.metadata_location()?, base)?;
            (refresh_sql(table, Some(&relative))?, Some(relative))
        }
        _ => (refresh_sql(table, None)?, None),
    };
    // The file name goes in the item so a newer snapshot is a new statement, never a de-duplicated one.
    let key = format!(
        "{}@{}",
        item.item,
        metadata_file.as_deref().unwrap_or("catalog")
    );
    let statement = step.statement(sql, &key, 0);
    let refreshed = step.change_now(&statement).await?.is_some();
    tracing::info!(table = %item.item, metadata = ?metadata_file, refreshed, "iceberg table refreshed");
    let mut schema_drift = Vec::new();
    if let Some(glue_table) = &glue_table {
        for merge in merges {
            schema_drift.extend(check_schema(step, merge, glue_table, &key).await?);
        }
    }
    Ok(RefreshResult {
        table: item.item.clone(),
        metadata_file,
        refreshed,
        statement: statement.sql().to_string(),
        from_earlier_run: step.from_earlier_run(),
        schema_drift,
    })
}

/// Compares a generated merge's source (as Glue lists it) with its target and acts on its
/// `on_schema_change`. `snapshot` names the table's refreshed state: the ALTER statements' request
/// ids derive from it, so a retry or replay does not run them twice and a newer snapshot can.
async fn check_schema(
    step: &Step<'_>,
    merge: &Merge,
    glue_table: &GlueTable,
    snapshot: &str,
) -> Result<Option<SchemaDrift>, StepError> {
    let MergeSpec::Generated {
        target,
        source,
        on_schema_change,
        ..
    } = &merge.how
    else {
        return Ok(None);
    };
    if glue_table.columns.is_empty() {
        tracing::warn!(merge = %merge.name, table = %glue_table.name, "Glue lists no columns: schema not checked");
        return Ok(None);
    }
    let upstream: Vec<Column> = glue_table
        .columns
        .iter()
        .filter_map(|(name, ty)| Column::from_glue(name, ty))
        .collect();
    let current = schema::describe(step, target, &merge.name).await?;
    let configured = merge.how.configured_columns();
    let drift = schema::compare(target, &upstream, &current, &configured, *on_schema_change);
    if drift.differences.is_empty() {
        return Ok(None);
    }
    if !drift.fatal.is_empty() {
        // Every difference, those the setting would have followed marked as such.
        let differences = drift
            .differences
            .iter()
            .map(|d| match drift.fatal.contains(d) {
                true => d.to_string(),
                false => format!("{d} (allowed)"),
            });
        return Err(StepError::SchemaDrift {
            merge: merge.name.clone(),
            source_table: source.to_string(),
            target: target.to_string(),
            mode: on_schema_change.as_str(),
            differences: differences.collect(),
        });
    }
    let item = format!("{}@{snapshot}", merge.name);
    let mut applied = !drift.alters.is_empty();
    for (i, sql) in drift.alters.iter().enumerate() {
        applied &= step
            .change_now(&step.statement(sql.clone(), &item, i))
            .await?
            .is_some();
    }
    tracing::warn!(merge = %merge.name, mode = on_schema_change.as_str(), differences = ?drift.differences, statements = ?drift.alters, "schema drift");
    Ok(Some(SchemaDrift {
        merge: merge.name.clone(),
        on_schema_change: on_schema_change.as_str().to_string(),
        differences: drift.differences.iter().map(|d| d.to_string()).collect(),
        statements: drift.alters,
        applied,
    }))
}

/// The REFRESH for a table: with the metadata file (relative to the volume's base location) for
/// object-store tables, without one behind a catalog integration. Pure, for `postetl compile`.
pub fn refresh_sql(
    table: &pipeline::config::IcebergTable,
    metadata_file: Option<&str>,
) -> Result<String, snowflake::Error> {
    Ok(match metadata_file {
        Some(file) => format!(
            "ALTER ICEBERG TABLE {} REFRESH {}",
            table.table,
            string_literal(file)?
        ),
        None => format!("ALTER ICEBERG TABLE {} REFRESH", table.table),
    })
}

/// `s3://lake/warehouse/db/t/metadata/v3.metadata.json` under `s3://lake/warehouse/` is
/// `db/t/metadata/v3.metadata.json`. Hadoop's `s3a://`/`s3n://` spellings name the same objects.
pub fn relative_to(location: &str, base: &str) -> Result<String, StepError> {
    fn canonical(url: &str) -> String {
        for scheme in ["s3a://", "s3n://"] {
            if let Some(rest) = url.strip_prefix(scheme) {
                return format!("s3://{rest}");
            }
        }
        url.to_string()
    }
    let (loc, base_c) = (canonical(location), canonical(base));
    let base_c = if base_c.ends_with('/') {
        base_c
    } else {
        format!("{base_c}/")
    };
    match loc.strip_prefix(&base_c) {
        Some(rel) if !rel.is_empty() && !rel.split('/').any(|p| p == ".." || p == ".") => {
            Ok(rel.to_string())
        }
        _ => Err(StepError::OutsideBaseLocation {
            location: location.to_string(),
            base: base.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::relative_to;

    #[test]
    fn paths_relative_to_the_base() {
        let base = "s3://lake/warehouse/";
        assert_eq!(
            relative_to("s3://lake/warehouse/o/metadata/00002-a.metadata.json", base).unwrap(),
            "o/metadata/00002-a.metadata.json"
        );
        assert_eq!(
            relative_to("s3a://lake/warehouse/o/m.json", "s3://lake/warehouse").unwrap(),
            "o/m.json"
        );
        for outside in [
            "s3://other/warehouse/o/m.json",
            "s3://lake/warehouse2/o.json",
            "s3://lake/warehouse/",
            "s3://lake/warehouse/../x.json",
        ] {
            let err = relative_to(outside, base).unwrap_err();
            assert_eq!(err.name(), "Iceberg.OutsideBaseLocation", "{outside}");
        }
    }
}
