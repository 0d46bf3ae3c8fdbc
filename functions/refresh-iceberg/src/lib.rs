//! Refreshes one Snowflake Iceberg table. Object-store tables are pointed at the metadata file
//! Glue holds as the table's current `metadata_location`, given relative to the external volume's
//! base location; tables behind a Glue catalog integration refresh without a path.

use lambda_runtime::LambdaEvent;
use pipeline::config::CatalogKind;
use pipeline::ledger::{Entry, Status};
use pipeline::steps::{Item, RefreshResult};
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
        vec![entry]
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

    let (sql, metadata_file) = match (table.catalog, &table.storage_base_url) {
        (CatalogKind::ObjectStore, Some(base)) => {
            let location =
                pipeline::glue::metadata_location(glue, &table.glue_database, &table.glue_table)
                    .await?;
            let relative = relative_to(&location, base)?;
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
    Ok(RefreshResult {
        table: item.item.clone(),
        metadata_file,
        refreshed,
        statement: statement.sql().to_string(),
        from_earlier_run: step.from_earlier_run(),
    })
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
