//! The pipeline config: the shipped sample loads, problems come all at once (structural ones
//! too) in one path style, the SQL that is accepted is what runs, and the committed JSON Schema is
//! generated from the types.

use pipeline::config::{Config, ConfigFile, MartAction, MergeSpec, Rule, count_failing_rows};
use std::path::{Path, PathBuf};

fn sample_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../statemachine/pipelines.toml")
}

fn sample_dir() -> PathBuf {
    sample_path().parent().unwrap().to_path_buf()
}

fn problems(text: &str) -> Vec<String> {
    match Config::parse(text, &sample_dir(), "test.toml") {
        Ok(_) => vec![],
        Err(e) => e.problems.iter().map(|p| p.to_string()).collect(),
    }
}

/// What validate accepts also deserialises into the schema's types: the reader and the JSON
/// Schema describe one file format.
fn accepted(text: &str, dir: &Path) -> Config {
    let config = Config::parse(text, dir, "test.toml").unwrap_or_else(|e| panic!("{e}"));
    if let Err(e) = toml::from_str::<ConfigFile>(text) {
        panic!("validate accepts what the schema types refuse: {e}\n{text}");
    }
    config
}

#[test]
fn the_sample_config_loads() {
    let text = std::fs::read_to_string(sample_path()).unwrap();
    accepted(&text, &sample_dir());
    let config = Config::load(&sample_path()).unwrap();
    let orders = config.pipeline("orders").unwrap();
    assert_eq!(
        config.pipeline_for_job("orders-to-iceberg").unwrap().name,
        "orders"
    );
    assert!(config.pipeline_for_job("nope").is_none());
    assert_eq!(config.run_timeout.as_secs(), 240 * 60);
    assert_eq!(orders.warehouse.as_str(), "POSTETL_WH");
    assert_eq!(orders.warehouse_size.as_deref(), Some("SMALL"));
    assert_eq!(orders.iceberg_tables.len(), 2);
    assert_eq!(
        orders.iceberg_tables[0].storage_base_url.as_deref(),
        Some("s3://postetl-lake/warehouse/")
    );
    assert!(matches!(orders.merges[0].how, MergeSpec::Generated { .. }));
    assert!(matches!(&orders.merges[1].how, MergeSpec::Sql(sql) if sql.starts_with("MERGE INTO")));
    assert_eq!(orders.checks.len(), 6);
    assert!(matches!(orders.checks[5].rule, Rule::CustomSql { .. }));
    let marts: Vec<&str> = orders.marts.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(marts, ["daily_revenue", "customer_value", "exports"]);
    assert!(matches!(orders.marts[2].action, MartAction::ExecuteTask(_)));
}

#[test]
fn the_committed_json_schema_is_current() {
    let schema = serde_json::to_string_pretty(&Config::json_schema()).unwrap() + "\n";
    let path = sample_path().with_file_name("pipelines.schema.json");
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &schema).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == schema,
        "statemachine/pipelines.schema.json is out of date; regenerate it with\n  \
         UPDATE_SCHEMA=1 cargo test -p pipeline --test config the_committed_json_schema_is_current\nand commit it"
    );
    // As strict as serde allows: unknown keys and out-of-range numbers are schema errors too.
    assert!(schema.contains("\"additionalProperties\": false"));
    assert!(schema.contains("\"maximum\": 604800"));
    assert!(schema.contains("\"maxItems\": 500"));
}

#[test]
fn structural_and_semantic_problems_come_all_at_once() {
    let text = r#"
[settings]
audit_tabel = "X"
max_wait_minutes = "soon"

[pipelines.orders]
glue_jobs = ["job-a"]
warehouse_size = "HUGE"
max_concurrency = 0

[[pipelines.orders.checks]]
name = "c1"
kind = "not_null"
severity = "fatal"
table = "A.B.T"
column = 7

[[pipelines.orders.checks]]
name = "c1"
kind = "row_count"
severity = "warn"
table = "A.B.T"
min = 5
max = 1
values = ["x"]
"#;
    let got = problems(text);
    let expect = [
        "settings.audit_tabel: unknown key; this table takes audit_table,",
        "settings.max_wait_minutes: expected a whole number, found a string",
        "pipelines.orders.warehouse: required here",
        "pipelines.orders.warehouse_size: unknown size \"HUGE\"",
        "pipelines.orders.max_concurrency: 0 is out of range: between 1 and 40",
        "pipelines.orders.checks[1].name: duplicate name \"c1\"",
        "pipelines.orders.checks[0].severity: unknown severity \"fatal\"; one of warn, error",
        "pipelines.orders.checks[0].column: expected a string, found a whole number",
        "pipelines.orders.checks[1].min: min is above max",
        "pipelines.orders.checks[1].values: unknown key; this table takes",
    ];
    for e in expect {
        assert!(
            got.iter().any(|g| g.starts_with(e)),
            "missing {e:?} in:\n{}",
            got.join("\n")
        );
    }
    assert_eq!(
        got.len(),
        expect.len(),
        "unexpected extra problems:\n{}",
        got.join("\n")
    );
}

#[test]
fn a_syntax_error_names_its_place_and_line() {
    let got = problems("[pipelines.x]\nglue_jobs = [\"j\"\nwarehouse = \"W\"\n");
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(got[0].starts_with("pipelines.x."), "{got:?}");
    assert!(got[0].contains("(line "), "{got:?}");
}

#[test]
fn custom_sql_is_read_so_that_it_cannot_leave_its_wrapper() {
    let rule = |sql: &str| {
        let text = format!(
            "[pipelines.p]\nglue_jobs = [\"j\"]\nwarehouse = \"W\"\n[[pipelines.p.checks]]\nname = \"c\"\nkind = \"custom_sql\"\nseverity = \"error\"\nsql = '''{sql}'''\n"
        );
        let config = accepted(&text, &sample_dir());
        let Rule::CustomSql { sql, .. } = &config.pipelines["p"].checks[0].rule else {
            panic!("a custom rule")
        };
        sql.clone()
    };
    // A `;` inside a string literal is data, not a second statement.
    assert_eq!(
        rule("SELECT ID FROM T WHERE NOTE = 'a;b'"),
        "SELECT ID FROM T WHERE NOTE = 'a;b'"
    );
    // A trailing comment and terminator are dropped, so the wrapper's `)` is never commented out.
    let sql = rule("SELECT ID FROM T WHERE AMOUNT < 0; -- negative amounts\n");
    assert_eq!(sql, "SELECT ID FROM T WHERE AMOUNT < 0");
    assert_eq!(
        count_failing_rows(&sql),
        "SELECT COUNT(*) FROM (SELECT ID FROM T WHERE AMOUNT < 0) AS failing_rows"
    );
    let sql = rule("/* lead */ WITH x AS (SELECT 1 AS a) SELECT a FROM x -- trailing");
    assert!(!sql.contains("--") && !sql.contains("/*"), "{sql}");
    assert_eq!(rule("SELECT 'it''s' AS q"), "SELECT 'it''s' AS q");
}

/// The Lambdas load the deployed config without the SQL parser (`load_deployed`); validate's
/// parser-checked reading must give them exactly the same config, SQL text included.
#[test]
fn the_lambdas_read_the_sample_config_as_validate_does() {
    let validated = Config::load(&sample_path()).unwrap();
    let deployed = Config::load_deployed(&sample_path()).unwrap();
    assert_eq!(format!("{deployed:?}"), format!("{validated:?}"));
}

/// Where the parser would delimit a statement differently from the Lambdas' reading, validate
/// refuses the file rather than let the Lambdas send other text than `postetl compile` shows.
#[test]
fn sql_the_lambdas_would_read_differently_is_refused() {
    let dir = scratch("merge-ambiguous");
    // The parser's Snowflake dialect reads `#` as a comment; the Lambdas' reading does not.
    std::fs::write(dir.join("m.sql"), "DELETE FROM T WHERE A = 1 # gone\n").unwrap();
    let text = "[pipelines.p]\nglue_jobs = [\"j\"]\nwarehouse = \"W\"\n[[pipelines.p.merges]]\nname = \"m\"\nsql_file = \"m.sql\"\n";
    let problems: Vec<String> = match Config::parse(text, &dir, "test.toml") {
        Ok(_) => panic!("validate accepted SQL the Lambdas read differently"),
        Err(e) => e.problems.iter().map(|p| p.to_string()).collect(),
    };
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].contains("sql_file") && problems[0].contains("cannot be read reliably"),
        "{problems:?}"
    );
}

#[test]
fn depends_on_names_merges_of_the_pipeline() {
    let text = "[pipelines.p]\nglue_jobs = [\"j\"]\nwarehouse = \"W\"\n\
        [[pipelines.p.merges]]\nname = \"m\"\ntarget = \"A.B.T\"\nsource = \"A.B.S\"\nkeys = [\"K\"]\ncolumns = [\"V\"]\n\
        [[pipelines.p.checks]]\nname = \"c\"\nkind = \"custom_sql\"\nseverity = \"error\"\nsql = \"SELECT 1 AS x\"\ndepends_on = [\"m\", \"nope\"]\n\
        [[pipelines.p.marts]]\nname = \"d\"\nkind = \"task\"\nobject = \"A.B.TASK\"\ndepends_on = [\"gone\"]\n";
    assert_eq!(
        problems(text),
        [
            "pipelines.p.checks[0].depends_on[1]: no merge named \"nope\"",
            "pipelines.p.marts[0].depends_on[0]: no merge named \"gone\"",
        ]
    );
}

#[test]
fn a_merge_file_runs_as_its_one_statement() {
    let dir = scratch("merge-text");
    std::fs::write(
        dir.join("m.sql"),
        "-- loads orders\nMERGE INTO T USING S ON T.ID = S.ID\nWHEN MATCHED THEN UPDATE SET V = 'x;y' ; -- done\n\n",
    )
    .unwrap();
    let text = "[pipelines.p]\nglue_jobs = [\"j\"]\nwarehouse = \"W\"\n[[pipelines.p.merges]]\nname = \"m\"\nsql_file = \"m.sql\"\n";
    let config = accepted(text, &dir);
    let MergeSpec::Sql(sql) = &config.pipelines["p"].merges[0].how else {
        panic!("a SQL file merge")
    };
    assert_eq!(
        sql,
        "MERGE INTO T USING S ON T.ID = S.ID\nWHEN MATCHED THEN UPDATE SET V = 'x;y'"
    );
}

#[test]
fn exotic_but_legal_names_stay_one_quoted_identifier() {
    let text = r#"
[pipelines.p-1_x]
glue_jobs = ["job with spaces"]
warehouse = '"My WH"'
[[pipelines.p-1_x.iceberg_tables]]
table = 'LAKE."RAW.X".Y'
glue_database = "lake"
glue_table = "y"
catalog = "glue"
[[pipelines.p-1_x.iceberg_tables]]
table = '"lake"."Raw;--/*".orders'
glue_database = "lake"
glue_table = "orders"
catalog = "glue"
[[pipelines.p-1_x.merges]]
name = "m"
target = '"Ana""lytics".CORE."Order Lines"'
source = 'LAKE."RAW.X".Y'
keys = ['"Id"']
columns = ['"Ünïcode 名前"', '"semi;colon"']
[[pipelines.p-1_x.checks]]
name = "n"
kind = "not_null"
severity = "warn"
table = '"Ana""lytics".CORE."Order Lines"'
column = '"semi;colon"'
"#;
    let config = accepted(text, &sample_dir());
    let p = &config.pipelines["p-1_x"];
    assert_eq!(p.warehouse.to_string(), "\"My WH\"");
    assert_eq!(
        p.iceberg_tables[1].table.to_string(),
        "\"lake\".\"Raw;--/*\".\"ORDERS\""
    );
    let MergeSpec::Generated {
        target, columns, ..
    } = &p.merges[0].how
    else {
        panic!("generated")
    };
    assert_eq!(
        target.to_string(),
        "\"Ana\"\"lytics\".\"CORE\".\"Order Lines\""
    );
    assert_eq!(target.parts().len(), 3);
    assert_eq!(columns[1].to_string(), "\"semi;colon\"");
}

/// A fresh directory under the system temp dir for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("postetl-config-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn tables_narrow_a_run_to_what_depends_on_them() {
    let config = Config::load(&sample_dir().join("pipelines.toml")).unwrap();
    let orders = config.pipeline("orders").unwrap();
    let names = |scope: &pipeline::config::Scope<'_>| {
        (
            scope
                .iceberg_tables
                .iter()
                .map(|t| t.table.plain())
                .collect::<Vec<_>>(),
            scope
                .merges
                .iter()
                .map(|m| m.name.clone())
                .collect::<Vec<_>>(),
            scope.checks.len(),
            scope.marts.len(),
        )
    };
    let all = orders.scope(None).unwrap();
    assert_eq!(
        names(&all),
        (
            vec![
                "LAKE.RAW.ORDERS".to_string(),
                "LAKE.RAW.CUSTOMERS".to_string()
            ],
            vec!["orders".to_string(), "customers".to_string()],
            6,
            3
        )
    );
    // The generated merge reads LAKE.RAW.ORDERS; every check is on its target (or custom SQL).
    let only = orders.scope(Some(&["orders".to_string()])).unwrap();
    assert_eq!(
        names(&only),
        (
            vec!["LAKE.RAW.ORDERS".to_string()],
            vec!["orders".to_string()],
            6,
            3
        )
    );
    // The SQL-file merge names LAKE.RAW.CUSTOMERS; no table check is on what it writes, the
    // custom SQL rule and two marts depend on the orders merge only: one mart is left.
    let customers = orders
        .scope(Some(&["LAKE.RAW.CUSTOMERS".to_string()]))
        .unwrap();
    assert_eq!(
        names(&customers),
        (
            vec!["LAKE.RAW.CUSTOMERS".to_string()],
            vec!["customers".to_string()],
            0,
            1
        )
    );
    assert_eq!(customers.marts[0].name, "customer_value");
    assert_eq!(
        orders.scope(Some(&["NOPE".to_string()])).unwrap_err(),
        "NOPE"
    );
}

#[test]
fn on_schema_change_is_for_generated_merges_and_defaults_to_fail() {
    let text = std::fs::read_to_string(sample_path()).unwrap();
    let base = text.replace("on_schema_change = \"fail\"\n", "");
    let config = Config::parse(&base, &sample_dir(), "test.toml").unwrap();
    let MergeSpec::Generated {
        on_schema_change, ..
    } = &config.pipelines["orders"].merges[0].how
    else {
        panic!("generated")
    };
    assert_eq!(*on_schema_change, pipeline::config::OnSchemaChange::Fail);

    let unknown = base.replace(
        "version_column = \"UPDATED_AT\"",
        "version_column = \"UPDATED_AT\"\non_schema_change = \"merge_everything\"",
    );
    let got = problems(&unknown);
    assert!(
        got.iter().any(|g| g.starts_with(
            "pipelines.orders.merges[0].on_schema_change: unknown on_schema_change \"merge_everything\"; \
             one of fail, append_new_columns, sync_all_columns, ignore"
        )),
        "{got:?}"
    );
    // A SQL file's MERGE is the author's: there are no configured columns to follow.
    let sql_file = base.replace(
        "sql_file = \"sql/merge_customers.sql\"",
        "sql_file = \"sql/merge_customers.sql\"\non_schema_change = \"ignore\"",
    );
    let got = problems(&sql_file);
    assert!(
        got.iter().any(|g| g
            .starts_with("pipelines.orders.merges[1].on_schema_change: not allowed with sql_file")),
        "{got:?}"
    );
}
