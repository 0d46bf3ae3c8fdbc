//! `[[pipelines.<name>.iceberg_tables]]`: the Snowflake Iceberg tables a run refreshes.

use super::read::Table;
use schemars::JsonSchema;
use serde::Deserialize;
use snowflake::ObjectName;

/// At most this many Iceberg tables per pipeline (one Map item each).
pub const MAX_ICEBERG_TABLES: usize = 500;

#[derive(Deserialize, JsonSchema, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "snake_case")]
pub enum CatalogKind {
    /// Iceberg tables Snowflake reads from an external volume: refreshed to the Glue table's
    /// current `metadata_location`.
    ObjectStore,
    /// Tables behind a Glue catalog integration: `REFRESH` without a path.
    Glue,
}

/// One Iceberg table as written, by catalog.
#[derive(Deserialize, JsonSchema, Debug)]
#[serde(tag = "catalog", rename_all = "snake_case", deny_unknown_fields)]
pub enum IcebergTableFile {
    ObjectStore {
        /// The Snowflake Iceberg table, `DB.SCHEMA.TABLE`.
        table: String,
        glue_database: String,
        glue_table: String,
        /// The external volume's STORAGE_BASE_URL, e.g. `s3://lake/warehouse/` (formerly `base_location`).
        storage_base_url: String,
    },
    Glue {
        /// The Snowflake Iceberg table, `DB.SCHEMA.TABLE`.
        table: String,
        glue_database: String,
        glue_table: String,
    },
}

#[derive(Debug)]
pub struct IcebergTable {
    pub table: ObjectName,
    pub glue_database: String,
    pub glue_table: String,
    pub catalog: CatalogKind,
    /// The external volume's STORAGE_BASE_URL (object_store only), normalised to end with `/`.
    pub storage_base_url: Option<String>,
}

pub(crate) fn read(mut t: Table<'_>) -> Option<IcebergTable> {
    let table = t
        .req_str("table")
        .and_then(|n| t.ctx.object(&t.at("table"), n));
    let glue_database = glue_name(&mut t, "glue_database");
    let glue_table = glue_name(&mut t, "glue_table");
    let catalog = t.choice(
        "catalog",
        &[
            ("object_store", CatalogKind::ObjectStore),
            ("glue", CatalogKind::Glue),
        ],
    );
    t.renamed(
        "base_location",
        "renamed storage_base_url (the external volume's STORAGE_BASE_URL); rename the key",
    );
    let storage_base_url = match catalog {
        Some(CatalogKind::ObjectStore) => {
            let url = t.req_str("storage_base_url");
            url.and_then(|u| {
                if !u.contains("://") || u.chars().any(|c| c.is_whitespace() || c.is_control()) {
                    t.ctx.problem(
                        &t.at("storage_base_url"),
                        "a storage URL such as s3://bucket/path/",
                    );
                    return None;
                }
                Some(if u.ends_with('/') {
                    u.to_string()
                } else {
                    format!("{u}/")
                })
            })
        }
        _ => None,
    };
    // storage_base_url is read only for object_store: finish() calls it unknown for glue.
    let object_store = catalog == Some(CatalogKind::ObjectStore);
    t.finish();
    Some(IcebergTable {
        table: table?,
        glue_database: glue_database?,
        glue_table: glue_table?,
        catalog: catalog?,
        storage_base_url: if object_store {
            Some(storage_base_url?)
        } else {
            None
        },
    })
}

fn glue_name(t: &mut Table<'_>, key: &'static str) -> Option<String> {
    let value = t.req_str(key)?;
    if value.trim().is_empty() {
        t.ctx.problem(&t.at(key), "must not be empty");
        return None;
    }
    Some(value.to_string())
}
