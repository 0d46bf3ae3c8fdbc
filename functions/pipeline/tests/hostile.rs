//! Hostile configs, table-driven: each must be refused by validate with the problem at its path
//! and a message a data engineer understands, and none may panic.

use pipeline::config::Config;
use std::path::{Path, PathBuf};

const HEAD: &str = "[pipelines.p]\nglue_jobs = [\"j\"]\nwarehouse = \"WH\"\n";

fn with(extra: &str) -> String {
    format!("{HEAD}{extra}")
}

fn check(kind_and_fields: &str) -> String {
    with(&format!(
        "[[pipelines.p.checks]]\nname = \"c\"\nseverity = \"error\"\n{kind_and_fields}\n"
    ))
}

fn custom(sql: &str) -> String {
    check(&format!("kind = \"custom_sql\"\nsql = '''{sql}'''"))
}

fn merge_file(file: &str) -> String {
    with(&format!(
        "[[pipelines.p.merges]]\nname = \"m\"\nsql_file = \"{file}\"\n"
    ))
}

fn mart_file(file: &str) -> String {
    with(&format!(
        "[[pipelines.p.marts]]\nname = \"k\"\nkind = \"sql\"\nsql_file = \"{file}\"\n"
    ))
}

fn iceberg(table: &str, rest: &str) -> String {
    format!(
        "[[pipelines.p.iceberg_tables]]\ntable = '{table}'\nglue_database = \"lake\"\nglue_table = \"t\"\n{rest}\n"
    )
}

fn generated(fields: &str) -> String {
    with(&format!(
        "[[pipelines.p.merges]]\nname = \"g\"\ntarget = \"A.B.T\"\nsource = \"A.B.S\"\n{fields}\n"
    ))
}

fn repeat(n: usize, item: impl Fn(usize) -> String) -> String {
    with(&(0..n).map(item).collect::<String>())
}

/// SQL files for the cases, and links out of the folder.
fn fixture() -> PathBuf {
    let root = std::env::temp_dir().join(format!("postetl-hostile-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let dir = root.join("config");
    let outside = root.join("outside");
    std::fs::create_dir_all(dir.join("sql")).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("secret.sql"), "DELETE FROM T").unwrap();
    for (name, sql) in [
        ("semicolon.sql", ";\n"),
        ("two.sql", "DELETE FROM T;\nDELETE FROM U;\n"),
        ("select.sql", "SELECT 1"),
        ("blank.sql", "  \n-- only a comment\n"),
        ("broken.sql", "MERGE INTO T USING"),
        ("commit.sql", "COMMIT"),
        ("use.sql", "USE WAREHOUSE X"),
        ("query.sql", "SELECT 1; SELECT 2"),
    ] {
        std::fs::write(dir.join("sql").join(name), sql).unwrap();
    }
    std::os::unix::fs::symlink(outside.join("secret.sql"), dir.join("sql/link.sql")).unwrap();
    std::os::unix::fs::symlink(&outside, dir.join("linked")).unwrap();
    dir
}

fn problems(text: &str, dir: &Path) -> Vec<String> {
    match Config::parse(text, dir, "hostile.toml") {
        Ok(_) => vec![],
        Err(e) => e.problems.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn hostile_configs_are_refused_with_their_path_and_a_clear_message() {
    let dir = fixture();
    let cases: Vec<(String, &str, &str)> = vec![
        // The file's shape.
        ("".into(), "pipelines", "no pipeline is defined"),
        (
            "pipelines = 3\n".into(),
            "pipelines",
            "expected a table, found a whole number",
        ),
        (format!("{HEAD}{HEAD}"), "pipelines.p", "duplicate key"),
        (
            "[pipelines.\"Bad Name\"]\nglue_jobs=[\"j\"]\nwarehouse=\"W\"\n".into(),
            "pipelines.\"Bad Name\"",
            "lowercase letters",
        ),
        (
            with("colour = \"blue\"\n"),
            "pipelines.p.colour",
            "unknown key; this table takes",
        ),
        (
            "[settings]\nfoo = 1\n".to_string() + HEAD,
            "settings.foo",
            "unknown key",
        ),
        (
            "[pipelines.p]\nglue_jobs = \"j\"\nwarehouse = \"W\"\n".into(),
            "pipelines.p.glue_jobs",
            "expected a list of strings, found a string",
        ),
        (
            "[pipelines.p]\nglue_jobs = [1]\nwarehouse = \"W\"\n".into(),
            "pipelines.p.glue_jobs[0]",
            "expected a string, found a whole number",
        ),
        (
            "[pipelines.p]\nglue_jobs = []\nwarehouse = \"W\"\n".into(),
            "pipelines.p.glue_jobs",
            "name at least one Glue job",
        ),
        (
            format!("{HEAD}[pipelines.q]\nglue_jobs = [\"j\"]\nwarehouse = \"W\"\n"),
            "pipelines.q.glue_jobs[0]",
            "Glue job \"j\" already triggers pipeline \"p\"",
        ),
        (
            "[pipelines.p]\nglue_jobs = [\"j\"]\n".into(),
            "pipelines.p.warehouse",
            "required here",
        ),
        // Names.
        (
            "[pipelines.p]\nglue_jobs = [\"j\"]\nwarehouse = \"WH; DROP TABLE X\"\n".into(),
            "pipelines.p.warehouse",
            "invalid Snowflake identifier",
        ),
        (
            "[pipelines.p]\nglue_jobs = [\"j\"]\nwarehouse = \"WH--\"\n".into(),
            "pipelines.p.warehouse",
            "invalid Snowflake identifier",
        ),
        (
            "[pipelines.p]\nglue_jobs = [\"j\"]\nwarehouse = '\"W\\H\"'\n".into(),
            "pipelines.p.warehouse",
            "a backslash in a name is not supported",
        ),
        (
            "[pipelines.p]\nglue_jobs = [\"j\"]\nwarehouse = '\"W\"\"'\n".into(),
            "pipelines.p.warehouse",
            "invalid Snowflake identifier",
        ),
        (
            "[settings]\naudit_table = \"T\"\n".to_string() + HEAD,
            "settings.audit_table",
            "give DATABASE.SCHEMA.TABLE",
        ),
        // Numbers.
        (
            with("warehouse_size = \"HUGE\"\n"),
            "pipelines.p.warehouse_size",
            "unknown size \"HUGE\"",
        ),
        (
            with("max_concurrency = 0\n"),
            "pipelines.p.max_concurrency",
            "0 is out of range: between 1 and 40",
        ),
        (
            with("max_concurrency = 41\n"),
            "pipelines.p.max_concurrency",
            "between 1 and 40",
        ),
        (
            with("statement_timeout_seconds = 604801\n"),
            "pipelines.p.statement_timeout_seconds",
            "between 1 and 604800",
        ),
        (
            "[settings]\nstatement_timeout_seconds = 0\n".to_string() + HEAD,
            "settings.statement_timeout_seconds",
            "between 1 and 604800",
        ),
        (
            "[settings]\nmax_wait_minutes = 9223372036854775807\n".to_string() + HEAD,
            "settings.max_wait_minutes",
            "out of range",
        ),
        (
            "[settings]\nrun_timeout_minutes = 4\n".to_string() + HEAD,
            "settings.run_timeout_minutes",
            "between 5 and 1440",
        ),
        (
            "[settings]\npoll_seconds = -1\n".to_string() + HEAD,
            "settings.poll_seconds",
            "-1 is out of range",
        ),
        (
            check(
                "kind = \"freshness\"\ntable = \"A.B.T\"\ncolumn = \"TS\"\nmax_age_minutes = 9223372036854775807",
            ),
            "pipelines.p.checks[0].max_age_minutes",
            "out of range: between 1 and 527040",
        ),
        (
            check("kind = \"freshness\"\ntable = \"A.B.T\"\ncolumn = \"TS\""),
            "pipelines.p.checks[0].max_age_minutes",
            "required here",
        ),
        // Iceberg tables.
        (
            with(&iceberg(
                "A.B.T",
                "catalog = \"object_store\"\nbase_location = \"s3://b/\"",
            )),
            "pipelines.p.iceberg_tables[0].base_location",
            "renamed storage_base_url",
        ),
        (
            with(&iceberg("A.B.T", "catalog = \"object_store\"")),
            "pipelines.p.iceberg_tables[0].storage_base_url",
            "required here",
        ),
        (
            with(&iceberg(
                "A.B.T",
                "catalog = \"object_store\"\nstorage_base_url = \"bucket/path\"",
            )),
            "pipelines.p.iceberg_tables[0].storage_base_url",
            "a storage URL such as s3://",
        ),
        (
            with(&iceberg(
                "A.B.T",
                "catalog = \"glue\"\nstorage_base_url = \"s3://b/\"",
            )),
            "pipelines.p.iceberg_tables[0].storage_base_url",
            "unknown key",
        ),
        (
            with(&iceberg("A.B.T", "catalog = \"hive\"")),
            "pipelines.p.iceberg_tables[0].catalog",
            "unknown catalog \"hive\"; one of object_store, glue",
        ),
        (
            with(&iceberg("A.B.C.D", "catalog = \"glue\"")),
            "pipelines.p.iceberg_tables[0].table",
            "invalid Snowflake identifier",
        ),
        (
            with(
                &(iceberg("lake.raw.t", "catalog = \"glue\"")
                    + &iceberg("LAKE.\"RAW\".T", "catalog = \"glue\"")),
            ),
            "pipelines.p.iceberg_tables[1].table",
            "this table is listed twice",
        ),
        (
            with(
                &(iceberg("LAKE.\"RAW.X\".Y", "catalog = \"glue\"")
                    + &iceberg("\"LAKE.RAW\".X.Y", "catalog = \"glue\"")),
            ),
            "pipelines.p.iceberg_tables[1].table",
            "are different tables with the same dotted name LAKE.RAW.X.Y",
        ),
        (
            repeat(501, |i| iceberg(&format!("A.B.T{i}"), "catalog = \"glue\"")),
            "pipelines.p.iceberg_tables",
            "501 items: at most 500",
        ),
        // Merge files.
        (
            merge_file("/etc/passwd"),
            "pipelines.p.merges[0].sql_file",
            "a path inside the config's directory",
        ),
        (
            merge_file("sql/../../x.sql"),
            "pipelines.p.merges[0].sql_file",
            "a path inside the config's directory",
        ),
        (
            merge_file("sql/link.sql"),
            "pipelines.p.merges[0].sql_file",
            "outside the config's directory",
        ),
        (
            merge_file("linked/secret.sql"),
            "pipelines.p.merges[0].sql_file",
            "outside the config's directory",
        ),
        (
            merge_file("sql/nope.sql"),
            "pipelines.p.merges[0].sql_file",
            "cannot read",
        ),
        (
            merge_file("sql"),
            "pipelines.p.merges[0].sql_file",
            "is not a file",
        ),
        (
            merge_file("sql/semicolon.sql"),
            "pipelines.p.merges[0].sql_file",
            "holds no SQL statement",
        ),
        (
            merge_file("sql/blank.sql"),
            "pipelines.p.merges[0].sql_file",
            "holds no SQL statement",
        ),
        (
            merge_file("sql/two.sql"),
            "pipelines.p.merges[0].sql_file",
            "holds 2 statements",
        ),
        (
            merge_file("sql/select.sql"),
            "pipelines.p.merges[0].sql_file",
            "holds one MERGE, INSERT, UPDATE or DELETE, not SELECT",
        ),
        (
            merge_file("sql/broken.sql"),
            "pipelines.p.merges[0].sql_file",
            "is not valid SQL",
        ),
        (
            with(
                "[[pipelines.p.merges]]\nname = \"m\"\nsql_file = \"sql/two.sql\"\nkeys = [\"ID\"]\n",
            ),
            "pipelines.p.merges[0].keys",
            "not allowed with sql_file",
        ),
        // Generated merges.
        (
            with(
                "[[pipelines.p.merges]]\nname = \"g\"\nsource = \"A.B.S\"\nkeys = [\"ID\"]\ncolumns = [\"V\"]\n",
            ),
            "pipelines.p.merges[0].target",
            "required here",
        ),
        (
            generated("keys = [\"ID\", \"id\"]\ncolumns = [\"V\"]"),
            "pipelines.p.merges[0].keys[1]",
            "ID is listed twice",
        ),
        (
            generated("keys = [\"ID\"]\ncolumns = [\"ID\"]"),
            "pipelines.p.merges[0].columns[0]",
            "ID is already a key",
        ),
        (
            generated("keys = [\"ID\"]\ncolumns = [\"V\", \"TS\"]\nversion_column = \"TS\""),
            "pipelines.p.merges[0].version_column",
            "TS is also listed in columns",
        ),
        (
            generated("keys = [\"ID\"]\ncolumns = [\"V\"]\nversion_column = \"ID\""),
            "pipelines.p.merges[0].version_column",
            "cannot be a key",
        ),
        (
            generated("keys = []\ncolumns = [\"V\"]"),
            "pipelines.p.merges[0].keys",
            "name at least one column",
        ),
        (
            generated(
                "keys = [\"ID\"]\ncolumns = [\"V\"]\n[[pipelines.p.merges]]\nname = \"g\"\nsql_file = \"sql/select.sql\"",
            ),
            "pipelines.p.merges[1].name",
            "duplicate name \"g\"",
        ),
        (
            repeat(501, |i| {
                format!(
                    "[[pipelines.p.merges]]\nname = \"m{i}\"\ntarget = \"A.B.T{i}\"\nsource = \"A.B.S\"\nkeys = [\"ID\"]\ncolumns = [\"V\"]\n"
                )
            }),
            "pipelines.p.merges",
            "501 items: at most 500 merges",
        ),
        // Checks.
        (
            check("kind = \"sum\"\ntable = \"A.B.T\""),
            "pipelines.p.checks[0].kind",
            "unknown kind \"sum\"; one of row_count, not_null",
        ),
        (
            with(
                "[[pipelines.p.checks]]\nname = \"c\"\nseverity = \"fatal\"\nkind = \"row_count\"\ntable = \"A.B.T\"\nmin = 1\n",
            ),
            "pipelines.p.checks[0].severity",
            "unknown severity \"fatal\"",
        ),
        (
            check("kind = \"row_count\"\ntable = \"A.B.T\""),
            "pipelines.p.checks[0]",
            "row_count needs min, max or both",
        ),
        (
            check("kind = \"row_count\"\ntable = \"A.B.T\"\nmin = 5\nmax = 1"),
            "pipelines.p.checks[0].min",
            "min is above max",
        ),
        (
            check("kind = \"row_count\"\ntable = \"A.B.T\"\nmin = 1\ncolumn = \"X\""),
            "pipelines.p.checks[0].column",
            "unknown key; this table takes",
        ),
        (
            generated(
                "keys = [\"ID\"]\ncolumns = [\"V\"]\n[[pipelines.p.checks]]\nname = \"c\"\nseverity = \"warn\"\nkind = \"not_null\"\ntable = \"a.b.t\"\ncolumn = \"MISSING\"",
            ),
            "pipelines.p.checks[0].column",
            "MISSING is not a column of the merge target",
        ),
        (
            check("kind = \"unique\"\ntable = \"A.B.T\"\ncolumns = []"),
            "pipelines.p.checks[0].columns",
            "name at least one column",
        ),
        (
            check("kind = \"accepted_values\"\ntable = \"A.B.T\"\ncolumn = \"S\"\nvalues = []"),
            "pipelines.p.checks[0].values",
            "name between 1 and 1000 values",
        ),
        // Custom SQL.
        (
            custom("SELECT 1) AS x UNION ALL SELECT COUNT(*) FROM (SELECT 1"),
            "pipelines.p.checks[0].sql",
            "the custom SQL is not valid SQL",
        ),
        (
            custom("SELECT 1; SELECT 2"),
            "pipelines.p.checks[0].sql",
            "holds 2 statements",
        ),
        (
            custom("SELECT 1; DROP TABLE T"),
            "pipelines.p.checks[0].sql",
            "holds 2 statements",
        ),
        (
            custom("DELETE FROM T"),
            "pipelines.p.checks[0].sql",
            "one query (SELECT or WITH)",
        ),
        (
            custom("SELECT 1 /* unterminated"),
            "pipelines.p.checks[0].sql",
            "not valid SQL",
        ),
        (
            custom("SELECT 'a\\') AS x --'"),
            "pipelines.p.checks[0].sql",
            "backslash",
        ),
        (
            custom(";"),
            "pipelines.p.checks[0].sql",
            "holds no SQL statement",
        ),
        (
            check("kind = \"custom_sql\"\nsql = \"SELECT 1\"\nsql_file = \"sql/select.sql\""),
            "pipelines.p.checks[0]",
            "exactly one of sql and sql_file",
        ),
        (
            check("kind = \"custom_sql\"\nsql_file = \"sql/query.sql\""),
            "pipelines.p.checks[0].sql_file",
            "holds 2 statements",
        ),
        (
            check("kind = \"custom_sql\"\nsql_file = \"sql/link.sql\""),
            "pipelines.p.checks[0].sql_file",
            "outside the config's directory",
        ),
        (
            repeat(501, |i| {
                format!(
                    "[[pipelines.p.checks]]\nname = \"c{i}\"\nseverity = \"warn\"\nkind = \"row_count\"\ntable = \"A.B.T\"\nmin = 1\n"
                )
            }),
            "pipelines.p.checks",
            "501 items: at most 500 checks",
        ),
        // Marts.
        (
            with(
                "[[pipelines.p.marts]]\nname = \"a\"\nkind = \"task\"\nobject = \"M.A\"\nafter = [\"b\"]\n[[pipelines.p.marts]]\nname = \"b\"\nkind = \"task\"\nobject = \"M.B\"\nafter = [\"a\"]\n",
            ),
            "pipelines.p.marts",
            "a cycle: a, b",
        ),
        (
            with(
                "[[pipelines.p.marts]]\nname = \"a\"\nkind = \"task\"\nobject = \"M.A\"\nafter = [\"ghost\"]\n",
            ),
            "pipelines.p.marts[0].after[0]",
            "no mart named \"ghost\"",
        ),
        (
            with("[[pipelines.p.marts]]\nname = \"a\"\nkind = \"dynamic_table\"\n"),
            "pipelines.p.marts[0].object",
            "required here",
        ),
        (
            with("[[pipelines.p.marts]]\nname = \"a\"\nkind = \"view\"\nobject = \"M.A\"\n"),
            "pipelines.p.marts[0].kind",
            "unknown kind \"view\"",
        ),
        (
            with(
                "[[pipelines.p.marts]]\nname = \"a\"\nkind = \"task\"\nobject = \"M.A\"\nsql_file = \"sql/select.sql\"\n",
            ),
            "pipelines.p.marts[0].sql_file",
            "unknown key",
        ),
        (
            mart_file("sql/two.sql"),
            "pipelines.p.marts[0].sql_file",
            "holds 2 statements",
        ),
        (
            mart_file("sql/commit.sql"),
            "pipelines.p.marts[0].sql_file",
            "COMMIT only changes the session",
        ),
        (
            mart_file("sql/use.sql"),
            "pipelines.p.marts[0].sql_file",
            "USE only changes the session",
        ),
        (
            mart_file("linked/secret.sql"),
            "pipelines.p.marts[0].sql_file",
            "outside the config's directory",
        ),
        (
            repeat(101, |i| {
                format!(
                    "[[pipelines.p.marts]]\nname = \"k{i}\"\nkind = \"task\"\nobject = \"M.T{i}\"\n"
                )
            }),
            "pipelines.p.marts",
            "101 items: at most 100 marts",
        ),
    ];
    assert!(cases.len() >= 40);
    let mut failures = Vec::new();
    for (text, path, message) in &cases {
        let got = problems(text, &dir);
        let wanted = format!("{path}: ");
        if !got
            .iter()
            .any(|g| g.starts_with(&wanted) && g.contains(message))
        {
            failures.push(format!(
                "want {path}: ..{message}..\n  got {got:?}\n  for:\n{text}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
