//! The config's field reference (`statemachine/pipelines.reference.md`) is generated from the JSON
//! Schema, which is generated from the config's types: one source for editors, docs and validate.
//! Regenerate with `UPDATE_SCHEMA=1 cargo test -p pipeline --test reference`.

use pipeline::Config;
use serde_json::Value;
use std::fmt::Write as _;

fn def<'a>(schema: &'a Value, reference: &str) -> &'a Value {
    let name = reference.trim_start_matches("#/$defs/");
    &schema["$defs"][name]
}

/// A property's type in words: `string`, `list of string`, `one of "warn", "error"`, a section.
fn type_of(schema: &Value, p: &Value) -> String {
    if let Some(r) = p["$ref"].as_str() {
        let d = def(schema, r);
        if let Some(options) = d["oneOf"].as_array()
            && options.iter().all(|o| o.get("const").is_some())
        {
            let words: Vec<String> = options
                .iter()
                .map(|o| format!("`{}`", o["const"]))
                .collect();
            return format!("one of {}", words.join(", "));
        }
        return format!("table ({})", r.trim_start_matches("#/$defs/"));
    }
    if let Some(c) = p.get("const") {
        return format!("`{c}`");
    }
    let kind = match &p["type"] {
        Value::String(t) => t.clone(),
        Value::Array(ts) => ts
            .iter()
            .filter_map(Value::as_str)
            .filter(|t| *t != "null")
            .collect::<Vec<_>>()
            .join(" or "),
        _ => "value".into(),
    };
    if kind == "array" {
        return format!("list of {}", type_of(schema, &p["items"]));
    }
    kind
}

fn limits(p: &Value) -> String {
    let mut out = Vec::new();
    for (key, word) in [
        ("minimum", "at least"),
        ("maximum", "at most"),
        ("minItems", "at least"),
        ("maxItems", "at most"),
        ("minLength", "at least"),
    ] {
        if let Some(n) = p.get(key) {
            let unit = if key.ends_with("Items") { " items" } else { "" };
            out.push(format!("{word} {n}{unit}"));
        }
    }
    out.join(", ")
}

fn table(schema: &Value, heading: &str, object: &Value, out: &mut String) {
    let _ = writeln!(out, "\n### `{heading}`\n");
    if let Some(d) = object["description"].as_str() {
        let _ = writeln!(out, "{d}\n");
    }
    let required: Vec<&str> = object["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    out.push_str("| field | type | required | limits | description |\n|---|---|---|---|---|\n");
    if let Some(props) = object["properties"].as_object() {
        for (name, p) in props {
            let _ = writeln!(
                out,
                "| `{name}` | {} | {} | {} | {} |",
                type_of(schema, p),
                if required.contains(&name.as_str()) {
                    "yes"
                } else {
                    ""
                },
                limits(p),
                p["description"]
                    .as_str()
                    .unwrap_or("")
                    .replace('|', "\\|")
                    .replace('\n', " ")
            );
        }
    }
}

/// The shapes a section may take, each with its label: a plain table, or one of several
/// (`anyOf` of named shapes, or `oneOf` told apart by a constant such as `kind` or `catalog`).
fn shapes<'a>(schema: &'a Value, d: &'a Value) -> Vec<(String, &'a Value)> {
    if let Some(refs) = d["anyOf"].as_array() {
        return refs
            .iter()
            .filter_map(|r| r["$ref"].as_str())
            .map(|r| (r.trim_start_matches("#/$defs/").to_string(), def(schema, r)))
            .collect();
    }
    match d["oneOf"].as_array() {
        Some(options) if options.iter().all(|o| o.get("properties").is_some()) => options
            .iter()
            .map(|o| {
                let label = o["properties"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .find_map(|(k, p)| p.get("const").map(|c| format!("{k} = {c}")))
                    .unwrap_or_default();
                (label, o)
            })
            .collect(),
        _ => vec![(String::new(), d)],
    }
}

/// Every section of the file, in the order one writes them.
fn render(schema: &Value) -> String {
    let mut out = String::from(
        "# `pipelines.toml` field reference\n\nGenerated from `pipelines.schema.json` by \
         `UPDATE_SCHEMA=1 cargo test -p pipeline --test reference`; do not edit by hand. \
         `postetl validate` checks everything here and more (names, SQL, paths), every problem at once.\n",
    );
    for (heading, name) in [
        ("[settings]", "SettingsFile"),
        ("[settings.prices]", "PricesFile"),
        ("[pipelines.<name>]", "PipelineFile"),
        ("[[pipelines.<name>.iceberg_tables]]", "IcebergTableFile"),
        ("[[pipelines.<name>.merges]]", "MergeFile"),
        ("[[pipelines.<name>.checks]]", "CheckFile"),
        ("[[pipelines.<name>.marts]]", "MartFile"),
    ] {
        let d = &schema["$defs"][name];
        for (label, shape) in shapes(schema, d) {
            let heading = if label.is_empty() {
                heading.to_string()
            } else {
                format!("{heading} {label}")
            };
            table(schema, &heading, shape, &mut out);
        }
    }
    out
}

#[test]
fn the_field_reference_is_generated_from_the_schema_and_current() {
    let schema = Config::json_schema();
    let text = render(&schema);
    // Every section and every kind of rule and mart is there.
    for needle in [
        "`[settings]`",
        "`ledger_table`",
        "`[settings.prices]`",
        "`snowflake_credit`",
        "kind = \"custom_sql\"",
        "kind = \"freshness\"",
        "kind = \"task\"",
        "catalog = \"glue\"",
        "GeneratedMergeFile",
        "SqlMergeFile",
        "`storage_base_url`",
    ] {
        assert!(text.contains(needle), "{needle} missing:\n{text}");
    }
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../statemachine/pipelines.reference.md");
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &text).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == text,
        "{} is stale: run UPDATE_SCHEMA=1 cargo test -p pipeline --test reference",
        path.display()
    );
}
