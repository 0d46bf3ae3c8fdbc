//! The pipeline config: the shipped sample loads, and every kind of mistake is reported with its
//! path, all at once.

use pipeline::config::{Config, MartAction, MergeSpec, Rule};
use std::path::{Path, PathBuf};

fn sample_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../statemachine/pipelines.toml")
}

fn problems(text: &str) -> Vec<String> {
    let dir = sample_path().parent().unwrap().to_path_buf();
    match Config::parse(text, &dir, "test.toml") {
        Ok(_) => vec![],
        Err(e) => e.problems.iter().map(|p| p.to_string()).collect(),
    }
}

#[test]
fn the_sample_config_loads() {
    let config = Config::load(&sample_path()).unwrap();
    let orders = config.pipeline("orders").unwrap();
    assert_eq!(
        config.pipeline_for_job("orders-to-iceberg").unwrap().name,
        "orders"
    );
    assert!(config.pipeline_for_job("nope").is_none());
    assert_eq!(orders.warehouse.as_str(), "POSTETL_WH");
    assert_eq!(orders.warehouse_size.as_deref(), Some("SMALL"));
    assert_eq!(orders.iceberg_tables.len(), 2);
    assert_eq!(
        orders.iceberg_tables[0].base_location.as_deref(),
        Some("s3://postetl-lake/warehouse/")
    );
    assert!(matches!(orders.merges[0].how, MergeSpec::Generated { .. }));
    assert!(matches!(&orders.merges[1].how, MergeSpec::Sql(sql) if sql.contains("MERGE INTO")));
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
    assert_eq!(
        committed, schema,
        "run `UPDATE_SCHEMA=1 cargo test -p pipeline --test config` and commit"
    );
}

#[test]
fn every_problem_is_reported_with_its_path() {
    let text = r#"
[settings]
audit_tabel = "X"

[pipelines.orders]
glue_jobs = ["job-a"]
warehouse = "WH; DROP"
warehouse_size = "HUGE"
max_concurrency = 0

[[pipelines.orders.iceberg_tables]]
table = "LAKE.RAW.ORDERS"
glue_database = "lake"
glue_table = "orders"
catalog = "object_store"

[[pipelines.orders.merges]]
name = "m"
target = "A.B.T"
source = "A.B.S"
keys = ["ID", "ID"]
columns = ["ID", "V"]
version_column = "ID"

[[pipelines.orders.merges]]
name = "m"
sql_file = "sql/nope.sql"

[[pipelines.orders.checks]]
name = "c1"
kind = "not_null"
severity = "error"
table = "A.B.T"
column = "MISSING"

[[pipelines.orders.checks]]
name = "c2"
kind = "row_count"
severity = "warn"
table = "A.B.T"
min = 5
max = 1
values = ["x"]

[[pipelines.orders.marts]]
name = "a"
kind = "dynamic_table"
object = "M.A"
after = ["b"]

[[pipelines.orders.marts]]
name = "b"
kind = "task"
object = "M.B"
after = ["a", "ghost"]

[pipelines.other]
glue_jobs = ["job-a"]
warehouse = "WH"
colour = "blue"
"#;
    let got = problems(text);
    let expect = [
        "settings.audit_tabel: unknown key",
        "pipelines.other.colour: unknown key",
        "pipelines.orders.warehouse: invalid Snowflake identifier",
        "pipelines.orders.warehouse_size: unknown size \"HUGE\"",
        "pipelines.orders.max_concurrency: between 1 and 40",
        "pipelines.orders.merges[1].name: duplicate name \"m\"",
        "pipelines.orders.iceberg_tables[0].base_location: required here",
        "pipelines.orders.merges[0].keys[1]: ID is listed twice",
        "pipelines.orders.merges[0].columns[0]: ID is already a key",
        "pipelines.orders.merges[0].version_column: the version column cannot be a key",
        "pipelines.orders.merges[1].sql_file: cannot read",
        "pipelines.orders.checks[0].column: MISSING is not a column of the merge target",
        "pipelines.orders.checks[1].values: not used by kind RowCount",
        "pipelines.orders.checks[1].min: min is above max",
        "pipelines.orders.marts[1].after[1]: no mart named \"ghost\"",
        "pipelines.orders.marts: marts depend on each other in a cycle: a, b",
        "pipelines.other.glue_jobs[0]: Glue job \"job-a\" already triggers pipeline \"orders\"",
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
fn syntax_and_type_errors_are_reported_not_panicked() {
    assert!(!problems("[pipelines.x\n").is_empty());
    let got = problems("[pipelines.x]\nglue_jobs = \"not-a-list\"\nwarehouse = \"W\"\n");
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(got[0].starts_with("line 2, column 13"), "{got:?}");
    assert!(problems("").iter().any(|p| p.contains("pipelines")));
    for outside in ["/etc/passwd", "../pipelines.toml", "sql/../../x.sql"] {
        let text = format!(
            "[pipelines.x]\nglue_jobs = [\"j\"]\nwarehouse = \"W\"\n[[pipelines.x.merges]]\nname = \"m\"\nsql_file = \"{outside}\"\n"
        );
        let got = problems(&text);
        assert!(
            got.iter()
                .any(|p| p.contains("inside the config's directory")),
            "{outside}: {got:?}"
        );
    }
    assert!(
        problems("[pipelines.\"Bad Name\"]\nglue_jobs=[\"j\"]\nwarehouse=\"W\"\n")
            .iter()
            .any(|p| p.contains("lowercase"))
    );
}
