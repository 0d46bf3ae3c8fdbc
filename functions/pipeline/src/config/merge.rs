//! `[[pipelines.<name>.merges]]`: a SQL file, or a MERGE generated from target, source, keys,
//! columns and an optional version column.

use super::problem::At;
use super::read::Table;
use super::sql::{Need, one_statement};
use schemars::JsonSchema;
use serde::Deserialize;
use snowflake::{Identifier, ObjectName};

/// At most this many merges per pipeline (one Map item each).
pub const MAX_MERGES: usize = 500;

/// One merge as written: a SQL file, or generated.
#[derive(Deserialize, JsonSchema, Debug)]
#[serde(untagged)]
pub enum MergeFile {
    SqlFile(SqlMergeFile),
    Generated(GeneratedMergeFile),
}

#[derive(Deserialize, JsonSchema, Debug)]
#[serde(deny_unknown_fields)]
pub struct SqlMergeFile {
    pub name: String,
    /// A SQL file (relative to this config file) holding one MERGE, INSERT, UPDATE or DELETE.
    pub sql_file: String,
}

#[derive(Deserialize, JsonSchema, Debug)]
#[serde(deny_unknown_fields)]
pub struct GeneratedMergeFile {
    pub name: String,
    pub target: String,
    pub source: String,
    /// Columns that identify a row.
    #[schemars(length(min = 1))]
    pub keys: Vec<String>,
    /// Columns to insert and update besides the keys (and the version column).
    #[schemars(length(min = 1))]
    pub columns: Vec<String>,
    /// When set, the source is de-duplicated on the keys and the highest version wins; older
    /// versions never overwrite newer target rows.
    pub version_column: Option<String>,
    /// What happens when the source's columns (from Glue) and the target's differ, in dbt's words:
    /// `fail` (the default) ends the run before any MERGE with `Schema.Drift`;
    /// `append_new_columns` adds new source columns to the target and merges them;
    /// `sync_all_columns` also drops target columns the source lost and widens types;
    /// `ignore` merges the configured columns as before. A configured column the source lost, or
    /// a type Snowflake cannot widen in place, always fails.
    pub on_schema_change: Option<OnSchemaChange>,
}

/// What a generated merge does about schema drift (dbt's `on_schema_change`).
#[derive(Deserialize, JsonSchema, Clone, Copy, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum OnSchemaChange {
    #[default]
    Fail,
    AppendNewColumns,
    SyncAllColumns,
    Ignore,
}

impl OnSchemaChange {
    pub fn as_str(self) -> &'static str {
        match self {
            OnSchemaChange::Fail => "fail",
            OnSchemaChange::AppendNewColumns => "append_new_columns",
            OnSchemaChange::SyncAllColumns => "sync_all_columns",
            OnSchemaChange::Ignore => "ignore",
        }
    }

    pub const ALL: [OnSchemaChange; 4] = [
        OnSchemaChange::Fail,
        OnSchemaChange::AppendNewColumns,
        OnSchemaChange::SyncAllColumns,
        OnSchemaChange::Ignore,
    ];
}

#[derive(Debug)]
pub struct Merge {
    pub name: String,
    pub how: MergeSpec,
}

#[derive(Debug)]
pub enum MergeSpec {
    /// The file's one statement, without comments around it or a final `;`.
    Sql(String),
    Generated {
        target: ObjectName,
        source: ObjectName,
        keys: Vec<Identifier>,
        columns: Vec<Identifier>,
        version_column: Option<Identifier>,
        on_schema_change: OnSchemaChange,
    },
}

impl MergeSpec {
    /// A generated merge's keys, columns and version column, in that order; none for a SQL file's.
    pub fn configured_columns(&self) -> Vec<&Identifier> {
        match self {
            MergeSpec::Sql(_) => Vec::new(),
            MergeSpec::Generated {
                keys,
                columns,
                version_column,
                ..
            } => keys.iter().chain(columns).chain(version_column).collect(),
        }
    }
}

const GENERATED_FIELDS: [&str; 6] = [
    "target",
    "source",
    "keys",
    "columns",
    "version_column",
    "on_schema_change",
];

pub(crate) fn read(mut t: Table<'_>) -> Option<Merge> {
    let name = t.req_str("name");
    let how = if t.has("sql_file") {
        for field in GENERATED_FIELDS {
            if t.has(field) {
                t.ctx.problem(&t.at(field), "not allowed with sql_file");
            }
        }
        let at = t.at("sql_file");
        t.str("sql_file")
            .and_then(|file| t.ctx.sql_file(&at, file))
            .and_then(|sql| one_statement(t.ctx, &at, &sql, Need::Change))
            .map(MergeSpec::Sql)
    } else {
        generated(&mut t)
    };
    t.finish();
    Some(Merge {
        name: name?.to_string(),
        how: how?,
    })
}

fn generated(t: &mut Table<'_>) -> Option<MergeSpec> {
    let ctx = t.ctx;
    let target = t
        .req_str("target")
        .and_then(|n| ctx.object(&t.at("target"), n));
    let source = t
        .req_str("source")
        .and_then(|n| ctx.object(&t.at("source"), n));
    let keys = column_list(t, "keys");
    let columns = column_list(t, "columns");
    let version_at = t.at("version_column");
    let version_column = t.str("version_column").map(|v| ctx.ident(&version_at, v));
    let on_schema_change = if t.has("on_schema_change") {
        let options = OnSchemaChange::ALL.map(|o| (o.as_str(), o));
        t.choice("on_schema_change", &options)
    } else {
        Some(OnSchemaChange::default())
    };
    if let (Some((_, keys)), Some((names, columns))) = (&keys, &columns) {
        for ((at, _), c) in names.iter().zip(columns) {
            if keys.contains(c) {
                ctx.problem(at, format!("{} is already a key", c.as_str()));
            }
        }
    }
    if let Some(Some(v)) = &version_column {
        if keys.as_ref().is_some_and(|(_, k)| k.contains(v)) {
            ctx.problem(&version_at, "the version column cannot be a key");
        }
        if columns.as_ref().is_some_and(|(_, c)| c.contains(v)) {
            ctx.problem(
                &version_at,
                format!(
                    "{} is also listed in columns; the version column is merged on its own, leave it out of columns",
                    v.as_str()
                ),
            );
        }
    }
    Some(MergeSpec::Generated {
        target: target?,
        source: source?,
        keys: keys?.1,
        columns: columns?.1,
        version_column: version_column.map_or(Some(None), |v| v.map(Some))?,
        on_schema_change: on_schema_change?,
    })
}

/// A required, non-empty list of distinct columns, with each one's place.
type Columns<'a> = (Vec<(At, &'a str)>, Vec<Identifier>);

fn column_list<'a>(t: &mut Table<'a>, key: &'static str) -> Option<Columns<'a>> {
    let present = t.has(key);
    let names = t.strs(key);
    let names = t.required(key, names, present)?;
    let ids = t.ctx.idents(&t.at(key), &names)?;
    Some((names, ids))
}
