//! The pipeline config: one TOML file that says, per pipeline, which Glue jobs trigger it and what
//! to do in Snowflake. Loading validates everything and reports every problem at once, each with
//! its path in the file.

use schemars::JsonSchema;
use serde::Deserialize;
use snowflake::{Identifier, ObjectName};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

// ---- the file, as written (serde + JSON Schema) ----

/// The whole file.
#[derive(Deserialize, JsonSchema)]
pub struct ConfigFile {
    /// Settings shared by every pipeline.
    #[serde(default)]
    pub settings: SettingsFile,
    /// Pipelines by name (lowercase letters, digits, `_` and `-`).
    pub pipelines: BTreeMap<String, PipelineFile>,
}

#[derive(Deserialize, JsonSchema, Default)]
pub struct SettingsFile {
    /// Where data-quality results go; created if absent. Default `POSTETL_AUDIT.PUBLIC.DQ_RESULTS`.
    pub audit_table: Option<String>,
    /// Snowflake-side limit for each statement, in seconds. Default 3600.
    pub statement_timeout_seconds: Option<u64>,
    /// How long the state machine waits between polls of a statement handed back. Default 30.
    pub poll_seconds: Option<u64>,
    /// How long a run waits for an earlier run of the same pipeline before failing. Default 60.
    pub max_wait_minutes: Option<u64>,
}

#[derive(Deserialize, JsonSchema)]
pub struct PipelineFile {
    /// Glue jobs whose SUCCEEDED runs start this pipeline.
    pub glue_jobs: Vec<String>,
    /// The warehouse the run uses (resumed at the start, suspended at the end if this run resumed it).
    pub warehouse: String,
    /// Optional size for the run (XSMALL .. X6LARGE); the previous size is restored afterwards.
    pub warehouse_size: Option<String>,
    /// How many merges run at once (1..=40). Default 4.
    pub max_concurrency: Option<u32>,
    /// Overrides `settings.statement_timeout_seconds`.
    pub statement_timeout_seconds: Option<u64>,
    #[serde(default)]
    pub iceberg_tables: Vec<IcebergTableFile>,
    #[serde(default)]
    pub merges: Vec<MergeFile>,
    #[serde(default)]
    pub checks: Vec<CheckFile>,
    #[serde(default)]
    pub marts: Vec<MartFile>,
}

#[derive(Deserialize, JsonSchema, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "snake_case")]
pub enum CatalogKind {
    /// Iceberg tables Snowflake reads from an external volume: refreshed to the Glue table's
    /// current `metadata_location`.
    ObjectStore,
    /// Tables behind a Glue catalog integration: `REFRESH` without a path.
    Glue,
}

#[derive(Deserialize, JsonSchema)]
pub struct IcebergTableFile {
    /// The Snowflake Iceberg table, `DB.SCHEMA.TABLE`.
    pub table: String,
    pub glue_database: String,
    pub glue_table: String,
    pub catalog: CatalogKind,
    /// The external volume's storage base location (object_store only), e.g. `s3://lake/warehouse/`.
    pub base_location: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
pub struct MergeFile {
    pub name: String,
    /// A SQL file (relative to this config file) holding the MERGE; or generate it from the fields below.
    pub sql_file: Option<String>,
    pub target: Option<String>,
    pub source: Option<String>,
    /// Columns that identify a row.
    pub keys: Option<Vec<String>>,
    /// Columns to insert and update besides the keys.
    pub columns: Option<Vec<String>>,
    /// When set, the source is de-duplicated on the keys and the highest version wins; older
    /// versions never overwrite newer target rows.
    pub version_column: Option<String>,
}

#[derive(Deserialize, JsonSchema, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "snake_case")]
pub enum CheckKind {
    RowCount,
    NotNull,
    Unique,
    AcceptedValues,
    Freshness,
    CustomSql,
}

#[derive(Deserialize, JsonSchema, Clone, Copy, PartialEq, Eq, Debug, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Warn,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warn => "warn",
            Severity::Error => "error",
        }
    }
}

#[derive(Deserialize, JsonSchema)]
pub struct CheckFile {
    pub name: String,
    pub kind: CheckKind,
    /// `warn` records and carries on; `error` stops the run before the marts.
    pub severity: Severity,
    /// The table checked (every kind but custom_sql).
    pub table: Option<String>,
    /// not_null, accepted_values, freshness.
    pub column: Option<String>,
    /// unique: the key columns.
    pub columns: Option<Vec<String>>,
    /// row_count bounds.
    pub min: Option<u64>,
    pub max: Option<u64>,
    /// accepted_values.
    pub values: Option<Vec<String>>,
    /// freshness: the newest row must be at most this old (the column holds UTC).
    pub max_age_minutes: Option<u64>,
    /// custom_sql: a query returning the failing rows; inline or in a file.
    pub sql: Option<String>,
    pub sql_file: Option<String>,
}

#[derive(Deserialize, JsonSchema, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "snake_case")]
pub enum MartKind {
    DynamicTable,
    Task,
    Sql,
}

#[derive(Deserialize, JsonSchema)]
pub struct MartFile {
    pub name: String,
    pub kind: MartKind,
    /// dynamic_table and task: the object to refresh or execute.
    pub object: Option<String>,
    /// sql: the file to run (relative to this config file).
    pub sql_file: Option<String>,
    /// Marts that must be refreshed first.
    #[serde(default)]
    pub after: Vec<String>,
}

// ---- the validated model ----

#[derive(Debug)]
pub struct Config {
    pub audit_table: ObjectName,
    pub poll_seconds: u64,
    pub max_wait: Duration,
    pub pipelines: BTreeMap<String, Pipeline>,
}

#[derive(Debug)]
pub struct Pipeline {
    pub name: String,
    pub glue_jobs: Vec<String>,
    pub warehouse: Identifier,
    pub warehouse_size: Option<String>,
    pub max_concurrency: u32,
    pub statement_timeout: Duration,
    pub iceberg_tables: Vec<IcebergTable>,
    pub merges: Vec<Merge>,
    pub checks: Vec<Check>,
    /// In refresh order (dependencies first).
    pub marts: Vec<Mart>,
}

#[derive(Debug)]
pub struct IcebergTable {
    pub table: ObjectName,
    pub glue_database: String,
    pub glue_table: String,
    pub catalog: CatalogKind,
    /// Normalised to end with `/`.
    pub base_location: Option<String>,
}

#[derive(Debug)]
pub struct Merge {
    pub name: String,
    pub how: MergeSpec,
}

#[derive(Debug)]
pub enum MergeSpec {
    Sql(String),
    Generated {
        target: ObjectName,
        source: ObjectName,
        keys: Vec<Identifier>,
        columns: Vec<Identifier>,
        version_column: Option<Identifier>,
    },
}

#[derive(Debug)]
pub struct Check {
    pub name: String,
    pub severity: Severity,
    pub rule: Rule,
}

#[derive(Debug)]
pub enum Rule {
    RowCount {
        table: ObjectName,
        min: Option<u64>,
        max: Option<u64>,
    },
    NotNull {
        table: ObjectName,
        column: Identifier,
    },
    Unique {
        table: ObjectName,
        columns: Vec<Identifier>,
    },
    AcceptedValues {
        table: ObjectName,
        column: Identifier,
        values: Vec<String>,
    },
    Freshness {
        table: ObjectName,
        column: Identifier,
        max_age: Duration,
    },
    CustomSql {
        sql: String,
    },
}

#[derive(Debug)]
pub struct Mart {
    pub name: String,
    pub action: MartAction,
}

#[derive(Debug)]
pub enum MartAction {
    RefreshDynamicTable(ObjectName),
    ExecuteTask(ObjectName),
    Sql(String),
}

/// One thing wrong in the file, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub path: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// The config could not be used; holds every problem found.
#[derive(Debug, thiserror::Error)]
pub struct ConfigError {
    pub file: String,
    pub problems: Vec<Problem>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} has {} problem(s)", self.file, self.problems.len())?;
        for p in &self.problems {
            write!(f, "\n  - {p}")?;
        }
        Ok(())
    }
}

const SIZES: &[&str] = &[
    "XSMALL", "SMALL", "MEDIUM", "LARGE", "XLARGE", "XXLARGE", "XXXLARGE", "X4LARGE", "X5LARGE",
    "X6LARGE",
];

/// A warehouse size in the form `ALTER WAREHOUSE .. SET WAREHOUSE_SIZE` takes, from any of the
/// spellings Snowflake uses (`X-Small`, `XSMALL`, `2X-Large`, `XXLARGE`); `None` if unknown.
pub fn normalise_size(size: &str) -> Option<String> {
    let compact = size.to_ascii_uppercase().replace(['-', '_', ' '], "");
    let name = match compact.as_str() {
        "2XLARGE" => "XXLARGE",
        "3XLARGE" => "XXXLARGE",
        "4XLARGE" => "X4LARGE",
        "5XLARGE" => "X5LARGE",
        "6XLARGE" => "X6LARGE",
        other => other,
    };
    SIZES.contains(&name).then(|| name.to_string())
}

impl Config {
    /// Reads and validates a config file; SQL files are read relative to it.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: file.clone(),
            problems: vec![Problem {
                path: "(file)".into(),
                message: format!("cannot read: {e}"),
            }],
        })?;
        Self::parse(&text, path.parent().unwrap_or(Path::new(".")), &file)
    }

    /// Validates config text; `base_dir` is where relative SQL files are looked up.
    pub fn parse(text: &str, base_dir: &Path, file: &str) -> Result<Self, ConfigError> {
        let fail = |problems| ConfigError {
            file: file.to_string(),
            problems,
        };
        let mut unknown = Vec::new();
        let de = toml::Deserializer::parse(text).map_err(|e| fail(vec![toml_problem(text, &e)]))?;
        let raw: ConfigFile = serde_ignored::deserialize(de, |path| unknown.push(path.to_string()))
            .map_err(|e| fail(vec![toml_problem(text, &e)]))?;
        let mut v = Validator {
            problems: Vec::new(),
            base_dir: base_dir.to_path_buf(),
        };
        for path in unknown {
            v.problem(&path, "unknown key");
        }
        let config = v.config(raw);
        if v.problems.is_empty() {
            Ok(config)
        } else {
            Err(fail(v.problems))
        }
    }

    pub fn pipeline(&self, name: &str) -> Option<&Pipeline> {
        self.pipelines.get(name)
    }

    /// The pipeline a Glue job triggers.
    pub fn pipeline_for_job(&self, job: &str) -> Option<&Pipeline> {
        self.pipelines
            .values()
            .find(|p| p.glue_jobs.iter().any(|j| j == job))
    }

    /// The JSON Schema of the file, for editors (`#:schema` in taplo / Even Better TOML).
    pub fn json_schema() -> serde_json::Value {
        serde_json::to_value(schemars::schema_for!(ConfigFile)).expect("a schema serialises")
    }
}

fn toml_problem(text: &str, e: &toml::de::Error) -> Problem {
    let path = e.span().map_or("(file)".into(), |span| {
        let before = &text[..span.start.min(text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
        format!("line {line}, column {column}")
    });
    Problem {
        path,
        message: e.message().to_string(),
    }
}

struct Validator {
    problems: Vec<Problem>,
    base_dir: PathBuf,
}

impl Validator {
    fn problem(&mut self, path: &str, message: impl Into<String>) {
        self.problems.push(Problem {
            path: path.to_string(),
            message: message.into(),
        });
    }

    fn ident(&mut self, path: &str, name: &str) -> Identifier {
        Identifier::new(name).unwrap_or_else(|e| {
            self.problem(path, e.to_string());
            Identifier::new("INVALID").expect("a valid placeholder")
        })
    }

    fn object(&mut self, path: &str, name: &str) -> ObjectName {
        ObjectName::parse(name).unwrap_or_else(|e| {
            self.problem(path, e.to_string());
            ObjectName::parse("INVALID").expect("a valid placeholder")
        })
    }

    fn required<'a, T>(&mut self, path: &str, value: &'a Option<T>) -> Option<&'a T> {
        if value.is_none() {
            self.problem(path, "required here");
        }
        value.as_ref()
    }

    fn forbidden<T>(&mut self, path: &str, value: &Option<T>, why: &str) {
        if value.is_some() {
            self.problem(path, format!("not allowed {why}"));
        }
    }

    fn sql_file(&mut self, path: &str, file: &str) -> String {
        // The config ships as a directory (the Lambda layer): SQL files must live inside it.
        let relative = Path::new(file);
        if relative.is_absolute()
            || relative
                .components()
                .any(|c| matches!(c, std::path::Component::ParentDir))
        {
            self.problem(
                path,
                "a path inside the config's directory, such as sql/merge.sql",
            );
            return String::new();
        }
        let full = self.base_dir.join(file);
        match std::fs::read_to_string(&full) {
            Ok(sql) if !sql.trim().is_empty() => sql,
            Ok(_) => {
                self.problem(path, format!("{} is empty", full.display()));
                String::new()
            }
            Err(e) => {
                self.problem(path, format!("cannot read {}: {e}", full.display()));
                String::new()
            }
        }
    }

    fn unique_names<'a>(&mut self, path: &str, names: impl Iterator<Item = &'a str>) {
        let mut seen = HashSet::new();
        for (i, name) in names.enumerate() {
            if !seen.insert(name) {
                self.problem(
                    &format!("{path}[{i}].name"),
                    format!("duplicate name {name:?}"),
                );
            }
        }
    }

    fn config(&mut self, raw: ConfigFile) -> Config {
        let audit_table = raw
            .settings
            .audit_table
            .as_deref()
            .unwrap_or("POSTETL_AUDIT.PUBLIC.DQ_RESULTS");
        let audit_table = self.object("settings.audit_table", audit_table);
        if audit_table.parts().len() != 3 {
            self.problem("settings.audit_table", "give DATABASE.SCHEMA.TABLE");
        }
        let timeout = raw.settings.statement_timeout_seconds.unwrap_or(3600);
        if timeout == 0 {
            self.problem("settings.statement_timeout_seconds", "must be positive");
        }
        if raw.pipelines.is_empty() {
            self.problem("pipelines", "no pipeline is defined");
        }
        let mut job_owner: HashMap<String, String> = HashMap::new();
        let mut pipelines = BTreeMap::new();
        for (name, p) in raw.pipelines {
            let path = format!("pipelines.{name}");
            if name.is_empty()
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
            {
                self.problem(
                    &path,
                    "a pipeline name is lowercase letters, digits, _ and -",
                );
            }
            if p.glue_jobs.is_empty() {
                self.problem(&format!("{path}.glue_jobs"), "name at least one Glue job");
            }
            for (i, job) in p.glue_jobs.iter().enumerate() {
                if let Some(other) = job_owner.insert(job.clone(), name.clone()) {
                    self.problem(
                        &format!("{path}.glue_jobs[{i}]"),
                        format!("Glue job {job:?} already triggers pipeline {other:?}"),
                    );
                }
            }
            let pipeline = self.pipeline(&path, name.clone(), p, timeout);
            pipelines.insert(name, pipeline);
        }
        let poll_seconds = raw.settings.poll_seconds.unwrap_or(30);
        if !(1..=3600).contains(&poll_seconds) {
            self.problem("settings.poll_seconds", "between 1 and 3600");
        }
        let max_wait_minutes = raw.settings.max_wait_minutes.unwrap_or(60);
        if max_wait_minutes == 0 {
            self.problem("settings.max_wait_minutes", "must be positive");
        }
        Config {
            audit_table,
            poll_seconds,
            max_wait: Duration::from_secs(max_wait_minutes * 60),
            pipelines,
        }
    }

    fn pipeline(
        &mut self,
        path: &str,
        name: String,
        p: PipelineFile,
        default_timeout: u64,
    ) -> Pipeline {
        let warehouse = self.ident(&format!("{path}.warehouse"), &p.warehouse);
        let warehouse_size = p.warehouse_size.and_then(|s| {
            let size = normalise_size(&s);
            if size.is_none() {
                self.problem(
                    &format!("{path}.warehouse_size"),
                    format!("unknown size {s:?}; one of {}", SIZES.join(", ")),
                );
            }
            size
        });
        let max_concurrency = p.max_concurrency.unwrap_or(4);
        if !(1..=40).contains(&max_concurrency) {
            self.problem(&format!("{path}.max_concurrency"), "between 1 and 40");
        }
        let timeout = p.statement_timeout_seconds.unwrap_or(default_timeout);
        if timeout == 0 {
            self.problem(
                &format!("{path}.statement_timeout_seconds"),
                "must be positive",
            );
        }

        self.unique_names(
            &format!("{path}.merges"),
            p.merges.iter().map(|m| m.name.as_str()),
        );
        self.unique_names(
            &format!("{path}.checks"),
            p.checks.iter().map(|c| c.name.as_str()),
        );
        self.unique_names(
            &format!("{path}.marts"),
            p.marts.iter().map(|m| m.name.as_str()),
        );
        let mut seen_tables = HashSet::new();
        let iceberg_tables = p
            .iceberg_tables
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let at = format!("{path}.iceberg_tables[{i}]");
                let table = self.iceberg(&at, t);
                if !seen_tables.insert(table.table.plain()) {
                    self.problem(&format!("{at}.table"), "this table is listed twice");
                }
                table
            })
            .collect();
        let merges: Vec<Merge> = p
            .merges
            .iter()
            .enumerate()
            .map(|(i, m)| self.merge(&format!("{path}.merges[{i}]"), m))
            .collect();
        // Columns are knowable for generated merge targets: checks on them must name real columns.
        let mut known_columns: HashMap<String, HashSet<String>> = HashMap::new();
        for m in &merges {
            if let MergeSpec::Generated {
                target,
                keys,
                columns,
                version_column,
                ..
            } = &m.how
            {
                let cols = keys
                    .iter()
                    .chain(columns)
                    .chain(version_column)
                    .map(|c| c.as_str().to_string());
                known_columns
                    .entry(target.plain())
                    .or_default()
                    .extend(cols);
            }
        }
        let checks = p
            .checks
            .iter()
            .enumerate()
            .map(|(i, c)| self.check(&format!("{path}.checks[{i}]"), c, &known_columns))
            .collect();
        let marts = self.marts(&format!("{path}.marts"), &p.marts);
        Pipeline {
            name,
            glue_jobs: p.glue_jobs,
            warehouse,
            warehouse_size,
            max_concurrency,
            statement_timeout: Duration::from_secs(timeout),
            iceberg_tables,
            merges,
            checks,
            marts,
        }
    }

    fn iceberg(&mut self, at: &str, t: &IcebergTableFile) -> IcebergTable {
        let table = self.object(&format!("{at}.table"), &t.table);
        for (field, value) in [
            ("glue_database", &t.glue_database),
            ("glue_table", &t.glue_table),
        ] {
            if value.trim().is_empty() {
                self.problem(&format!("{at}.{field}"), "must not be empty");
            }
        }
        let base_location = match t.catalog {
            CatalogKind::ObjectStore => self
                .required(&format!("{at}.base_location"), &t.base_location)
                .map(|b| {
                    if !b.contains("://") {
                        self.problem(
                            &format!("{at}.base_location"),
                            "a storage URL such as s3://bucket/path/",
                        );
                    }
                    if b.ends_with('/') {
                        b.clone()
                    } else {
                        format!("{b}/")
                    }
                }),
            CatalogKind::Glue => {
                self.forbidden(
                    &format!("{at}.base_location"),
                    &t.base_location,
                    "for a Glue catalog integration",
                );
                None
            }
        };
        IcebergTable {
            table,
            glue_database: t.glue_database.clone(),
            glue_table: t.glue_table.clone(),
            catalog: t.catalog,
            base_location,
        }
    }

    fn merge(&mut self, at: &str, m: &MergeFile) -> Merge {
        let how = if let Some(file) = &m.sql_file {
            for (field, present) in [
                ("target", m.target.is_some()),
                ("source", m.source.is_some()),
                ("keys", m.keys.is_some()),
                ("columns", m.columns.is_some()),
                ("version_column", m.version_column.is_some()),
            ] {
                if present {
                    self.problem(&format!("{at}.{field}"), "not allowed with sql_file");
                }
            }
            MergeSpec::Sql(self.sql_file(&format!("{at}.sql_file"), file))
        } else {
            let target = self
                .required(&format!("{at}.target"), &m.target)
                .map(|t| self.object(&format!("{at}.target"), t));
            let source = self
                .required(&format!("{at}.source"), &m.source)
                .map(|s| self.object(&format!("{at}.source"), s));
            let keys = self.idents(&format!("{at}.keys"), m.keys.as_deref(), true);
            let columns = self.idents(&format!("{at}.columns"), m.columns.as_deref(), true);
            for (i, c) in columns.iter().enumerate() {
                if keys.contains(c) {
                    self.problem(
                        &format!("{at}.columns[{i}]"),
                        format!("{} is already a key", c.as_str()),
                    );
                }
            }
            let version_column = m
                .version_column
                .as_ref()
                .map(|v| self.ident(&format!("{at}.version_column"), v));
            if let Some(v) = &version_column
                && keys.contains(v)
            {
                self.problem(
                    &format!("{at}.version_column"),
                    "the version column cannot be a key",
                );
            }
            MergeSpec::Generated {
                target: target.unwrap_or_else(|| ObjectName::parse("INVALID").unwrap()),
                source: source.unwrap_or_else(|| ObjectName::parse("INVALID").unwrap()),
                keys,
                columns,
                version_column,
            }
        };
        Merge {
            name: m.name.clone(),
            how,
        }
    }

    fn idents(&mut self, at: &str, names: Option<&[String]>, required: bool) -> Vec<Identifier> {
        let Some(names) = names else {
            if required {
                self.problem(at, "required here");
            }
            return Vec::new();
        };
        if required && names.is_empty() {
            self.problem(at, "must not be empty");
        }
        let mut seen = HashSet::new();
        names
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let id = self.ident(&format!("{at}[{i}]"), n);
                if !seen.insert(id.clone()) {
                    self.problem(
                        &format!("{at}[{i}]"),
                        format!("{} is listed twice", id.as_str()),
                    );
                }
                id
            })
            .collect()
    }

    fn check(
        &mut self,
        at: &str,
        c: &CheckFile,
        known: &HashMap<String, HashSet<String>>,
    ) -> Check {
        use CheckKind::*;
        let kind = c.kind;
        let uses = |field: &str| -> bool {
            match field {
                "table" => kind != CustomSql,
                "column" => matches!(kind, NotNull | AcceptedValues | Freshness),
                "columns" => kind == Unique,
                "min" | "max" => kind == RowCount,
                "values" => kind == AcceptedValues,
                "max_age_minutes" => kind == Freshness,
                "sql" | "sql_file" => kind == CustomSql,
                _ => false,
            }
        };
        let present = [
            ("table", c.table.is_some()),
            ("column", c.column.is_some()),
            ("columns", c.columns.is_some()),
            ("min", c.min.is_some()),
            ("max", c.max.is_some()),
            ("values", c.values.is_some()),
            ("max_age_minutes", c.max_age_minutes.is_some()),
            ("sql", c.sql.is_some()),
            ("sql_file", c.sql_file.is_some()),
        ];
        for (field, is_there) in present {
            if is_there && !uses(field) {
                self.problem(
                    &format!("{at}.{field}"),
                    format!("not used by kind {kind:?}"),
                );
            }
        }
        let table = if kind == CustomSql {
            None
        } else {
            self.required(&format!("{at}.table"), &c.table)
                .map(|t| self.object(&format!("{at}.table"), t))
        };
        let table_or =
            |t: Option<ObjectName>| t.unwrap_or_else(|| ObjectName::parse("INVALID").unwrap());
        let column_of = |v: &mut Self, field: &str, name: &str| -> Identifier {
            let id = v.ident(&format!("{at}.{field}"), name);
            if let Some(cols) = table.as_ref().and_then(|t| known.get(&t.plain()))
                && !cols.contains(id.as_str())
            {
                v.problem(
                    &format!("{at}.{field}"),
                    format!("{} is not a column of the merge target", id.as_str()),
                );
            }
            id
        };
        let rule = match kind {
            RowCount => {
                if c.min.is_none() && c.max.is_none() {
                    self.problem(at, "row_count needs min, max or both");
                }
                if let (Some(min), Some(max)) = (c.min, c.max)
                    && min > max
                {
                    self.problem(&format!("{at}.min"), "min is above max");
                }
                Rule::RowCount {
                    table: table_or(table.clone()),
                    min: c.min,
                    max: c.max,
                }
            }
            NotNull => {
                let column = self
                    .required(&format!("{at}.column"), &c.column)
                    .map(|n| column_of(self, "column", n));
                Rule::NotNull {
                    table: table_or(table.clone()),
                    column: column.unwrap_or_else(|| Identifier::new("INVALID").unwrap()),
                }
            }
            Unique => {
                let names = c.columns.clone();
                if names.as_ref().is_none_or(|n| n.is_empty()) {
                    self.problem(&format!("{at}.columns"), "name at least one column");
                }
                let columns = names
                    .unwrap_or_default()
                    .iter()
                    .enumerate()
                    .map(|(i, n)| column_of(self, &format!("columns[{i}]"), n))
                    .collect();
                Rule::Unique {
                    table: table_or(table.clone()),
                    columns,
                }
            }
            AcceptedValues => {
                let column = self
                    .required(&format!("{at}.column"), &c.column)
                    .map(|n| column_of(self, "column", n));
                let values = c.values.clone().unwrap_or_default();
                if values.is_empty() {
                    self.problem(&format!("{at}.values"), "name at least one value");
                }
                Rule::AcceptedValues {
                    table: table_or(table.clone()),
                    column: column.unwrap_or_else(|| Identifier::new("INVALID").unwrap()),
                    values,
                }
            }
            Freshness => {
                let column = self
                    .required(&format!("{at}.column"), &c.column)
                    .map(|n| column_of(self, "column", n));
                let minutes = self
                    .required(&format!("{at}.max_age_minutes"), &c.max_age_minutes)
                    .copied()
                    .unwrap_or(0);
                Rule::Freshness {
                    table: table_or(table.clone()),
                    column: column.unwrap_or_else(|| Identifier::new("INVALID").unwrap()),
                    max_age: Duration::from_secs(minutes * 60),
                }
            }
            CustomSql => {
                let sql = match (&c.sql, &c.sql_file) {
                    (Some(sql), None) => sql.clone(),
                    (None, Some(file)) => self.sql_file(&format!("{at}.sql_file"), file),
                    _ => {
                        self.problem(at, "custom_sql needs exactly one of sql and sql_file");
                        String::new()
                    }
                };
                let trimmed = sql.trim().trim_end_matches(';');
                if trimmed.contains(';') {
                    self.problem(at, "custom SQL is one query (no ';')");
                }
                Rule::CustomSql {
                    sql: trimmed.to_string(),
                }
            }
        };
        Check {
            name: c.name.clone(),
            severity: c.severity,
            rule,
        }
    }

    /// Validates marts and orders them so every mart comes after those it names in `after`;
    /// file order breaks ties. A cycle is a problem naming its members.
    fn marts(&mut self, at: &str, marts: &[MartFile]) -> Vec<Mart> {
        let index: HashMap<&str, usize> = marts
            .iter()
            .enumerate()
            .map(|(i, m)| (m.name.as_str(), i))
            .collect();
        let mut converted: Vec<Option<Mart>> = Vec::new();
        for (i, m) in marts.iter().enumerate() {
            let here = format!("{at}[{i}]");
            for (j, dep) in m.after.iter().enumerate() {
                if !index.contains_key(dep.as_str()) {
                    self.problem(
                        &format!("{here}.after[{j}]"),
                        format!("no mart named {dep:?}"),
                    );
                } else if dep == &m.name {
                    self.problem(
                        &format!("{here}.after[{j}]"),
                        "a mart cannot come after itself",
                    );
                }
            }
            let action = match m.kind {
                MartKind::DynamicTable | MartKind::Task => {
                    self.forbidden(&format!("{here}.sql_file"), &m.sql_file, "for this kind");
                    let object = self
                        .required(&format!("{here}.object"), &m.object)
                        .map(|o| self.object(&format!("{here}.object"), o));
                    let object = object.unwrap_or_else(|| ObjectName::parse("INVALID").unwrap());
                    if m.kind == MartKind::Task {
                        MartAction::ExecuteTask(object)
                    } else {
                        MartAction::RefreshDynamicTable(object)
                    }
                }
                MartKind::Sql => {
                    self.forbidden(&format!("{here}.object"), &m.object, "for kind sql");
                    let sql = self
                        .required(&format!("{here}.sql_file"), &m.sql_file)
                        .cloned();
                    MartAction::Sql(
                        sql.map(|f| self.sql_file(&format!("{here}.sql_file"), &f))
                            .unwrap_or_default(),
                    )
                }
            };
            converted.push(Some(Mart {
                name: m.name.clone(),
                action,
            }));
        }
        // Kahn's algorithm, always taking the earliest ready mart in file order.
        let mut done = vec![false; marts.len()];
        let mut ordered = Vec::with_capacity(marts.len());
        while ordered.len() < marts.len() {
            let ready = (0..marts.len()).find(|&i| {
                !done[i]
                    && marts[i]
                        .after
                        .iter()
                        .all(|d| index.get(d.as_str()).is_none_or(|&j| done[j] || j == i))
            });
            match ready {
                Some(i) => {
                    done[i] = true;
                    ordered.push(converted[i].take().expect("each mart taken once"));
                }
                None => {
                    let cycle: Vec<&str> = (0..marts.len())
                        .filter(|&i| !done[i])
                        .map(|i| marts[i].name.as_str())
                        .collect();
                    self.problem(
                        at,
                        format!(
                            "marts depend on each other in a cycle: {}",
                            cycle.join(", ")
                        ),
                    );
                    break;
                }
            }
        }
        ordered
    }
}
