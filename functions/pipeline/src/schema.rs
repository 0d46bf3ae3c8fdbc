//! Schema drift: a generated merge's source columns, as Glue lists them, against its target's
//! (`DESC TABLE`) and its configured columns, and what `on_schema_change` does about the difference.
//!
//! Glue's types are Hive's names for Iceberg's types; they map to Snowflake types as Snowflake maps
//! Iceberg types ("Data types for Apache Iceberg tables"): int is NUMBER(10,0), long (bigint)
//! NUMBER(19,0), decimal(P,S) NUMBER(P,S), float and double FLOAT, string VARCHAR, timestamp
//! TIMESTAMP_NTZ(6), timestamptz TIMESTAMP_LTZ(6), binary BINARY, struct OBJECT, list ARRAY.
//! A source type fits a target type when every source value has a place in it; Snowflake can
//! change a column's type in place only to a longer VARCHAR or to a NUMBER with more precision and
//! the same scale (ALTER TABLE .. ALTER COLUMN .. SET DATA TYPE), so every other change of a
//! column the merge writes fails the run, whatever `on_schema_change` says.

use crate::config::OnSchemaChange;
use crate::{Step, StepError};
use snowflake::{Identifier, ObjectName};
use std::fmt;

/// The statement that reads a table's columns (metadata only: no warehouse runs it).
pub fn describe_sql(table: &ObjectName) -> String {
    format!("DESC TABLE {table}")
}

/// A table's columns as `DESC TABLE` shows them.
pub async fn describe(
    step: &Step<'_>,
    table: &ObjectName,
    item: &str,
) -> Result<Vec<Column>, StepError> {
    let rows = step.read(&step.tagged(describe_sql(table), item)).await?;
    let (name, ty) = (rows.column("name")?, rows.column("type")?);
    let mut columns = Vec::with_capacity(rows.len());
    for row in rows.iter() {
        if let (Some(n), Some(t)) = (row.get_str(name)?, row.get_str(ty)?) {
            columns.extend(Column::from_snowflake(n, t));
        }
    }
    Ok(columns)
}

/// A column type, as far as comparing it needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SqlType {
    /// VARCHAR with its length; `None` is Glue's unbounded `string`.
    Text(Option<u64>),
    Number {
        precision: u8,
        scale: u8,
    },
    Float,
    Boolean,
    Date,
    Time,
    /// TIMESTAMP_NTZ, TIMESTAMP_LTZ or TIMESTAMP_TZ (the precision does not matter here).
    Timestamp(&'static str),
    Binary,
    /// VARIANT, OBJECT, ARRAY or MAP.
    SemiStructured(&'static str),
    /// A type this module does not know, as written: compared by its text only.
    Other(String),
}

impl fmt::Display for SqlType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SqlType::Text(None) => write!(f, "VARCHAR"),
            SqlType::Text(Some(n)) => write!(f, "VARCHAR({n})"),
            SqlType::Number { precision, scale } => write!(f, "NUMBER({precision},{scale})"),
            SqlType::Float => write!(f, "FLOAT"),
            SqlType::Boolean => write!(f, "BOOLEAN"),
            SqlType::Date => write!(f, "DATE"),
            SqlType::Time => write!(f, "TIME"),
            SqlType::Timestamp(kind) | SqlType::SemiStructured(kind) => write!(f, "{kind}"),
            SqlType::Binary => write!(f, "BINARY"),
            SqlType::Other(text) => write!(f, "{text}"),
        }
    }
}

/// `decimal(12,2)` -> (`decimal`, [12, 2]); `varchar(10)` -> (`varchar`, [10]).
fn split_args(text: &str) -> (String, Vec<u64>) {
    let text = text.trim().to_ascii_lowercase();
    match text.split_once('(') {
        Some((name, rest)) => {
            let args = rest
                .trim_end_matches(')')
                .split(',')
                .filter_map(|a| a.trim().parse().ok())
                .collect();
            (name.trim().to_string(), args)
        }
        None => (text, Vec::new()),
    }
}

fn number(precision: u64, scale: u64) -> SqlType {
    SqlType::Number {
        precision: precision.min(38) as u8,
        scale: scale.min(37) as u8,
    }
}

impl SqlType {
    /// A Glue (Hive) column type, as Snowflake reads the Iceberg type behind it.
    pub fn from_glue(text: &str) -> SqlType {
        let (name, args) = split_args(text);
        if name.starts_with("struct<") {
            return SqlType::SemiStructured("OBJECT");
        }
        if name.starts_with("array<") {
            return SqlType::SemiStructured("ARRAY");
        }
        if name.starts_with("map<") {
            return SqlType::SemiStructured("MAP");
        }
        match name.as_str() {
            "string" | "uuid" => SqlType::Text(None),
            "varchar" | "char" => SqlType::Text(args.first().copied()),
            "tinyint" => number(3, 0),
            "smallint" => number(5, 0),
            "int" | "integer" => number(10, 0),
            "bigint" | "long" => number(19, 0),
            "decimal" | "numeric" => number(
                args.first().copied().unwrap_or(10),
                args.get(1).copied().unwrap_or(0),
            ),
            "float" | "double" | "real" => SqlType::Float,
            "boolean" => SqlType::Boolean,
            "date" => SqlType::Date,
            "time" => SqlType::Time,
            "timestamp" | "timestamp_ntz" => SqlType::Timestamp("TIMESTAMP_NTZ"),
            "timestamptz" | "timestamp with time zone" | "timestamp_ltz" => {
                SqlType::Timestamp("TIMESTAMP_LTZ")
            }
            "binary" | "fixed" => SqlType::Binary,
            _ => SqlType::Other(text.trim().to_string()),
        }
    }

    /// A type as `DESC TABLE` shows it (`NUMBER(38,0)`, `VARCHAR(16777216)`, `TIMESTAMP_NTZ(9)`).
    pub fn from_snowflake(text: &str) -> SqlType {
        let (name, args) = split_args(text);
        match name.as_str() {
            "varchar" | "string" | "text" | "char" | "character" => {
                SqlType::Text(args.first().copied())
            }
            "number" | "decimal" | "numeric" => number(
                args.first().copied().unwrap_or(38),
                args.get(1).copied().unwrap_or(0),
            ),
            "int" | "integer" | "bigint" | "smallint" | "tinyint" | "byteint" => number(38, 0),
            "float" | "float4" | "float8" | "double" | "double precision" | "real" => {
                SqlType::Float
            }
            "boolean" => SqlType::Boolean,
            "date" => SqlType::Date,
            "time" => SqlType::Time,
            "timestamp_ntz" | "timestamp" | "datetime" => SqlType::Timestamp("TIMESTAMP_NTZ"),
            "timestamp_ltz" => SqlType::Timestamp("TIMESTAMP_LTZ"),
            "timestamp_tz" => SqlType::Timestamp("TIMESTAMP_TZ"),
            "binary" | "varbinary" => SqlType::Binary,
            "variant" => SqlType::SemiStructured("VARIANT"),
            "object" => SqlType::SemiStructured("OBJECT"),
            "array" => SqlType::SemiStructured("ARRAY"),
            "map" => SqlType::SemiStructured("MAP"),
            _ => SqlType::Other(text.trim().to_ascii_uppercase()),
        }
    }

    /// How a target column of type `self` takes values of type `source`.
    fn takes(&self, source: &SqlType) -> Fit {
        use SqlType::*;
        match (source, self) {
            (Text(_), Text(None)) | (Text(None), Text(_)) => Fit::Yes,
            (Text(Some(s)), Text(Some(t))) if s <= t => Fit::Yes,
            (Text(_), Text(_)) => Fit::Widen(source.clone()),
            (
                Number {
                    precision: p,
                    scale: s,
                },
                Number {
                    precision: tp,
                    scale: ts,
                },
            ) => {
                let digits = |p: &u8, s: &u8| i16::from(*p) - i16::from(*s);
                if ts >= s && digits(tp, ts) >= digits(p, s) {
                    Fit::Yes
                } else if ts == s && tp < p {
                    Fit::Widen(source.clone())
                } else {
                    Fit::No
                }
            }
            // Snowflake converts a number to FLOAT on the way in; the reverse would lose fractions.
            (Number { .. } | Float, Float) => Fit::Yes,
            (Timestamp(a), Timestamp(b)) if a == b => Fit::Yes,
            (SemiStructured(_), SemiStructured("VARIANT")) => Fit::Yes,
            (SemiStructured(a), SemiStructured(b)) if a == b => Fit::Yes,
            (Boolean, Boolean) | (Date, Date) | (Time, Time) | (Binary, Binary) => Fit::Yes,
            // A Glue type this module does not know is not held against the run.
            (Other(_), _) => Fit::Yes,
            _ => Fit::No,
        }
    }
}

enum Fit {
    Yes,
    /// Snowflake can widen the target column in place to this type.
    Widen(SqlType),
    No,
}

/// One column: its name as Snowflake stores it, and its type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Column {
    pub name: Identifier,
    pub ty: SqlType,
}

impl Column {
    /// A Glue column: its name as Snowflake resolves it unquoted (Glue keeps names lowercase), or
    /// exactly as written when it is not a plain name.
    pub fn from_glue(name: &str, ty: &str) -> Option<Column> {
        let name = Identifier::new(name).ok().or_else(|| stored(name))?;
        Some(Column {
            name,
            ty: SqlType::from_glue(ty),
        })
    }

    /// A row of `DESC TABLE`: the name as stored, and the type as shown.
    pub fn from_snowflake(name: &str, ty: &str) -> Option<Column> {
        Some(Column {
            name: stored(name)?,
            ty: SqlType::from_snowflake(ty),
        })
    }
}

/// A name exactly as Snowflake stores it.
fn stored(name: &str) -> Option<Identifier> {
    Identifier::new(&format!("\"{}\"", name.replace('"', "\"\""))).ok()
}

/// One way the source and the target differ.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Difference {
    /// Upstream has a column the target lacks.
    Added(Column),
    /// The target (or the merge's configuration) has a column upstream no longer has.
    Dropped {
        column: Identifier,
        configured: bool,
    },
    /// A shared column's type changed in a way Snowflake can follow in place.
    Widened {
        column: Identifier,
        from: SqlType,
        to: SqlType,
    },
    /// A shared column's type changed in a way Snowflake cannot follow in place.
    Retyped {
        column: Identifier,
        from: SqlType,
        to: SqlType,
    },
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Difference::Added(c) => write!(f, "{} {} added upstream", c.name.as_str(), c.ty),
            Difference::Dropped {
                column,
                configured: true,
            } => write!(
                f,
                "{} dropped upstream, but the merge's keys or columns name it",
                column.as_str()
            ),
            Difference::Dropped { column, .. } => {
                write!(
                    f,
                    "{} dropped upstream (still in the target)",
                    column.as_str()
                )
            }
            Difference::Widened { column, from, to } => {
                write!(
                    f,
                    "{} changed from {from} to {to} upstream",
                    column.as_str()
                )
            }
            Difference::Retyped { column, from, to } => write!(
                f,
                "{} changed from {from} to {to} upstream, which Snowflake cannot change in place",
                column.as_str()
            ),
        }
    }
}

/// What a merge's schema check found and what it will do.
#[derive(Debug, PartialEq)]
pub struct Drift {
    pub differences: Vec<Difference>,
    /// The differences that stop the run (all of them under `fail`).
    pub fatal: Vec<Difference>,
    /// The ALTER TABLE statements that bring the target in line, in order.
    pub alters: Vec<String>,
}

/// A generated merge's drift: `source` as Glue lists it, `target` as `DESC TABLE` shows it,
/// `configured` the keys, columns and version column.
pub fn compare(
    target_name: &ObjectName,
    source: &[Column],
    target: &[Column],
    configured: &[&Identifier],
    mode: OnSchemaChange,
) -> Drift {
    let find = |cols: &[Column], name: &Identifier| cols.iter().find(|c| c.name == *name).cloned();
    let mut differences = Vec::new();
    for s in source {
        match find(target, &s.name) {
            None => differences.push(Difference::Added(s.clone())),
            Some(t) => match t.ty.takes(&s.ty) {
                Fit::Yes => {}
                Fit::Widen(to) => differences.push(Difference::Widened {
                    column: s.name.clone(),
                    from: t.ty,
                    to,
                }),
                Fit::No => differences.push(Difference::Retyped {
                    column: s.name.clone(),
                    from: t.ty,
                    to: s.ty.clone(),
                }),
            },
        }
    }
    let lost = target.iter().map(|t| &t.name).chain(
        configured
            .iter()
            .copied()
            .filter(|c| find(target, c).is_none()),
    );
    for name in lost {
        if find(source, name).is_none() {
            differences.push(Difference::Dropped {
                column: name.clone(),
                configured: configured.contains(&name),
            });
        }
    }

    let configured_column = |name: &Identifier| configured.contains(&name);
    let mut fatal = Vec::new();
    let mut alters = Vec::new();
    for d in &differences {
        let stops = match (mode, d) {
            (OnSchemaChange::Fail, _) => true,
            (_, Difference::Dropped { configured, .. }) => *configured,
            (_, Difference::Retyped { column, .. }) => {
                mode != OnSchemaChange::Ignore || configured_column(column)
            }
            // Append merges every shared column but changes no type: say so rather than fail mid-MERGE.
            (OnSchemaChange::AppendNewColumns, Difference::Widened { .. }) => true,
            _ => false,
        };
        if stops {
            fatal.push(d.clone());
            continue;
        }
        match (mode, d) {
            (
                OnSchemaChange::AppendNewColumns | OnSchemaChange::SyncAllColumns,
                Difference::Added(c),
            ) => alters.push(format!(
                "ALTER TABLE {target_name} ADD COLUMN IF NOT EXISTS {} {}",
                c.name, c.ty
            )),
            (OnSchemaChange::SyncAllColumns, Difference::Dropped { column, .. }) => alters.push(
                format!("ALTER TABLE {target_name} DROP COLUMN IF EXISTS {column}"),
            ),
            (OnSchemaChange::SyncAllColumns, Difference::Widened { column, to, .. }) => alters
                .push(format!(
                    "ALTER TABLE {target_name} ALTER COLUMN {column} SET DATA TYPE {to}"
                )),
            _ => {}
        }
    }
    if !fatal.is_empty() {
        alters.clear();
    }
    Drift {
        differences,
        fatal,
        alters,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn glue(cols: &[(&str, &str)]) -> Vec<Column> {
        cols.iter()
            .map(|(n, t)| Column::from_glue(n, t).unwrap())
            .collect()
    }

    fn desc(cols: &[(&str, &str)]) -> Vec<Column> {
        cols.iter()
            .map(|(n, t)| Column::from_snowflake(n, t).unwrap())
            .collect()
    }

    fn ids(names: &[&str]) -> Vec<Identifier> {
        names.iter().map(|n| Identifier::new(n).unwrap()).collect()
    }

    const TARGET: [(&str, &str); 4] = [
        ("ORDER_ID", "NUMBER(38,0)"),
        ("STATUS", "VARCHAR(16777216)"),
        ("AMOUNT", "NUMBER(10,2)"),
        ("UPDATED_AT", "TIMESTAMP_NTZ(9)"),
    ];

    fn check(source: &[(&str, &str)], mode: OnSchemaChange) -> Drift {
        compare(
            &ObjectName::parse("core.orders").unwrap(),
            &glue(source),
            &desc(&TARGET),
            &ids(&["order_id", "status", "amount", "updated_at"])
                .iter()
                .collect::<Vec<_>>(),
            mode,
        )
    }

    const SAME: [(&str, &str); 4] = [
        ("order_id", "bigint"),
        ("status", "string"),
        ("amount", "decimal(10,2)"),
        ("updated_at", "timestamp"),
    ];

    #[test]
    fn the_glue_types_of_the_target_columns_fit_them() {
        for mode in OnSchemaChange::ALL {
            let drift = check(&SAME, mode);
            assert!(drift.differences.is_empty(), "{drift:?}");
        }
    }

    #[test]
    fn a_new_column_fails_appends_or_is_ignored_as_configured() {
        let mut source = SAME.to_vec();
        source.push(("channel", "string"));
        let fail = check(&source, OnSchemaChange::Fail);
        assert_eq!(fail.fatal.len(), 1);
        assert_eq!(fail.fatal[0].to_string(), "CHANNEL VARCHAR added upstream");
        for mode in [
            OnSchemaChange::AppendNewColumns,
            OnSchemaChange::SyncAllColumns,
        ] {
            let drift = check(&source, mode);
            assert!(drift.fatal.is_empty());
            assert_eq!(
                drift.alters,
                ["ALTER TABLE \"CORE\".\"ORDERS\" ADD COLUMN IF NOT EXISTS \"CHANNEL\" VARCHAR"]
            );
        }
        let ignore = check(&source, OnSchemaChange::Ignore);
        assert!(ignore.fatal.is_empty() && ignore.alters.is_empty());
        assert_eq!(ignore.differences.len(), 1);
    }

    #[test]
    fn a_configured_column_dropped_upstream_always_fails() {
        let source = &SAME[..3];
        for mode in OnSchemaChange::ALL {
            let drift = check(source, mode);
            assert_eq!(
                drift.fatal,
                [Difference::Dropped {
                    column: Identifier::new("UPDATED_AT").unwrap(),
                    configured: true
                }],
                "{mode:?}"
            );
            assert!(drift.alters.is_empty());
        }
    }

    #[test]
    fn an_unconfigured_target_column_dropped_upstream_is_dropped_only_by_sync() {
        let under = |mode| {
            compare(
                &ObjectName::parse("t").unwrap(),
                &glue(&[("k", "int")]),
                &desc(&[("K", "NUMBER(38,0)"), ("OLD", "VARCHAR(10)")]),
                &[&Identifier::new("k").unwrap()],
                mode,
            )
        };
        let target = under(OnSchemaChange::SyncAllColumns);
        assert_eq!(
            target.alters,
            ["ALTER TABLE \"T\" DROP COLUMN IF EXISTS \"OLD\""]
        );
        let append = under(OnSchemaChange::AppendNewColumns);
        assert!(append.alters.is_empty() && append.fatal.is_empty());
        assert_eq!(append.differences.len(), 1);
    }

    #[test]
    fn types_widen_in_place_only_where_snowflake_can() {
        let mut source = SAME.to_vec();
        source[2] = ("amount", "decimal(14,2)");
        let sync = check(&source, OnSchemaChange::SyncAllColumns);
        assert_eq!(
            sync.alters,
            ["ALTER TABLE \"CORE\".\"ORDERS\" ALTER COLUMN \"AMOUNT\" SET DATA TYPE NUMBER(14,2)"]
        );
        assert_eq!(
            check(&source, OnSchemaChange::AppendNewColumns).fatal.len(),
            1
        );
        assert!(check(&source, OnSchemaChange::Ignore).fatal.is_empty());
        // A scale change, or a string where a number was, cannot be made in place.
        for changed in ["decimal(10,4)", "string", "double"] {
            source[2] = ("amount", changed);
            for mode in OnSchemaChange::ALL {
                let drift = check(&source, mode);
                assert_eq!(drift.fatal.len(), 1, "{changed} {mode:?}");
                assert!(
                    drift.fatal[0]
                        .to_string()
                        .contains("which Snowflake cannot change in place"),
                    "{}",
                    drift.fatal[0]
                );
            }
        }
        // Narrower upstream types fit the target as it is.
        source[2] = ("amount", "decimal(8,2)");
        source[0] = ("order_id", "int");
        assert!(check(&source, OnSchemaChange::Fail).differences.is_empty());
    }

    #[test]
    fn glue_and_snowflake_type_names_map_as_snowflake_documents() {
        assert_eq!(SqlType::from_glue("bigint"), number(19, 0));
        assert_eq!(SqlType::from_glue("int"), number(10, 0));
        assert_eq!(SqlType::from_glue("DECIMAL(12, 3)"), number(12, 3));
        assert_eq!(SqlType::from_glue("varchar(20)"), SqlType::Text(Some(20)));
        assert_eq!(
            SqlType::from_glue("struct<a:int,b:string>"),
            SqlType::SemiStructured("OBJECT")
        );
        assert_eq!(SqlType::from_snowflake("NUMBER(38,0)"), number(38, 0));
        assert_eq!(
            SqlType::from_snowflake("TIMESTAMP_NTZ(9)"),
            SqlType::Timestamp("TIMESTAMP_NTZ")
        );
        assert_eq!(
            SqlType::from_snowflake("VARCHAR(16777216)"),
            SqlType::Text(Some(16_777_216))
        );
        assert_eq!(
            Column::from_glue("Order Id", "int")
                .unwrap()
                .name
                .to_string(),
            "\"Order Id\""
        );
    }
}
