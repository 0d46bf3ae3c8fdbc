//! The workspace's shape: the step crates and the CLI never dev-depend on this test crate, so the
//! test world depends on the product and never the other way round (no dependency loop; their
//! integration tests live here, in tests/tests/<crate>.rs).

use postetl_tests::repo_root;
use std::path::PathBuf;

/// Every member's manifest, as the workspace's Cargo.toml lists them.
fn members() -> Vec<(String, PathBuf, toml::Table)> {
    let root = repo_root();
    let workspace: toml::Table =
        toml::from_str(&std::fs::read_to_string(root.join("Cargo.toml")).unwrap()).unwrap();
    workspace["workspace"]["members"]
        .as_array()
        .expect("workspace.members")
        .iter()
        .map(|m| {
            let dir = m.as_str().unwrap().to_string();
            let path = root.join(&dir).join("Cargo.toml");
            let manifest = toml::from_str(&std::fs::read_to_string(&path).unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            (dir, path, manifest)
        })
        .collect()
}

/// The package names a manifest depends on in `section`, with `package = ".."` renames resolved.
fn dependencies(manifest: &toml::Table, section: &str) -> Vec<String> {
    let Some(deps) = manifest.get(section).and_then(toml::Value::as_table) else {
        return Vec::new();
    };
    deps.iter()
        .map(|(key, spec)| {
            spec.get("package")
                .and_then(toml::Value::as_str)
                .unwrap_or(key)
                .to_string()
        })
        .collect()
}

#[test]
fn no_crate_under_functions_dev_depends_on_the_tests() {
    let members = members();
    let mut checked = 0;
    for (dir, path, manifest) in &members {
        if !dir.starts_with("functions/") {
            continue;
        }
        checked += 1;
        // Target-specific tables too: `[target.'cfg(..)'.dev-dependencies]`.
        let mut tables = vec![manifest.clone()];
        if let Some(targets) = manifest.get("target").and_then(toml::Value::as_table) {
            tables.extend(targets.values().filter_map(|t| t.as_table().cloned()));
        }
        for table in &tables {
            for section in ["dev-dependencies", "dependencies", "build-dependencies"] {
                assert!(
                    !dependencies(table, section)
                        .iter()
                        .any(|d| d == "postetl-tests"),
                    "{} has postetl-tests in [{section}]: move its tests to tests/tests/ instead",
                    path.display()
                );
            }
        }
    }
    // The libraries, the seven Lambdas and the CLI.
    assert!(checked >= 10, "only {checked} crates under functions/");
    // Each step crate that has a handler to test has its integration tests here, one file each.
    for name in [
        "plan",
        "warehouse",
        "refresh_iceberg",
        "run_merge",
        "dq_check",
        "refresh_marts",
        "postetl_cli",
    ] {
        let file = repo_root().join("tests/tests").join(format!("{name}.rs"));
        assert!(file.exists(), "{} is missing", file.display());
    }
}

/// The values of `key: '...'` in TypeScript source, in order.
fn ts_values(text: &str, key: &str) -> Vec<String> {
    let needle = format!("{key}: '");
    text.match_indices(&needle)
        .map(|(at, _)| {
            let rest = &text[at + needle.len()..];
            rest[..rest.find('\'').unwrap()].to_string()
        })
        .collect()
}

/// Step ids are declared once (`pipeline::StepId`); the workspace, the CDK app, the definition's
/// substitutions and the test world's functions all follow it.
#[test]
fn step_ids_are_the_workspace_binaries_the_cdk_functions_and_the_test_functions() {
    use pipeline::{STEP_IDS, StepId};
    let root = repo_root();
    // The workspace: one crate `functions/<id>` per id, named so, with its binary of that name.
    let members = members();
    for id in STEP_IDS {
        let (_, path, manifest) = members
            .iter()
            .find(|(dir, _, _)| *dir == format!("functions/{id}"))
            .unwrap_or_else(|| panic!("functions/{id} is not a workspace member"));
        assert_eq!(
            manifest["package"]["name"].as_str(),
            Some(id),
            "{}",
            path.display()
        );
        let bins: Vec<&str> = manifest
            .get("bin")
            .and_then(toml::Value::as_array)
            .map(|b| b.iter().filter_map(|b| b["name"].as_str()).collect())
            .unwrap_or_default();
        assert!(
            bins.contains(&id) || (bins.is_empty() && path.with_file_name("src/main.rs").exists()),
            "{}: no binary named {id}",
            path.display()
        );
    }
    // And no function crate the list forgets (the libraries and the CLI have no Lambda).
    for (dir, _, _) in &members {
        if let Some(name) = dir.strip_prefix("functions/")
            && root.join(dir).join("src/main.rs").exists()
            && name != "cli"
        {
            assert!(
                STEP_IDS.contains(&name),
                "{dir} is not in pipeline::STEP_IDS"
            );
        }
    }

    // The CDK app: the six steps in workflow order with their substitutions, and finalize.
    let cdk = std::fs::read_to_string(root.join("cdk/lib/step-lambda.ts")).unwrap();
    let binaries = ts_values(&cdk, "binary");
    assert_eq!(
        binaries, STEP_IDS,
        "cdk/lib/step-lambda.ts: STEPS, then FINALIZE"
    );
    let substitutions: Vec<&str> = StepId::ALL
        .iter()
        .filter_map(|s| s.substitution())
        .collect();
    assert_eq!(
        ts_values(&cdk, "substitution"),
        substitutions,
        "cdk/lib/step-lambda.ts"
    );

    // The definition names exactly those functions, and the alert topic.
    let asl = std::fs::read_to_string(root.join("statemachine/post-etl.asl.json")).unwrap();
    let placeholders: std::collections::BTreeSet<&str> = asl
        .split("${")
        .skip(1)
        .map(|p| &p[..p.find('}').unwrap()])
        .collect();
    let mut expected: std::collections::BTreeSet<&str> = substitutions.into_iter().collect();
    expected.insert(postetl_tests::workflow::ALERT_TOPIC_SUBSTITUTION);
    assert_eq!(placeholders, expected, "post-etl.asl.json's substitutions");

    // The test world: the local Lambda service runs these functions, and the workflow the tests
    // deploy invokes them by these names.
    assert_eq!(postetl_tests::FUNCTIONS, STEP_IDS);
    let filled = postetl_tests::workflow::definition("arn:aws:sns:us-east-1:123456789012:t");
    assert!(!filled.contains("${"));
    for id in &STEP_IDS[..6] {
        assert!(
            filled.contains(&format!(":function:{id}\"")),
            "the tests' workflow does not invoke {id}"
        );
    }
}

/// The words of `text` that look like one of postetl's environment variables.
fn env_names(text: &str) -> std::collections::BTreeSet<String> {
    let mut names = std::collections::BTreeSet::new();
    for prefix in ["POSTETL_", "SNOWFLAKE_"] {
        for (at, _) in text.match_indices(prefix) {
            let before = text[..at].chars().next_back();
            if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
                continue;
            }
            let word: String = text[at..]
                .chars()
                .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
                .collect();
            names.insert(word);
        }
    }
    names
}

/// The environment the functions read is declared once (`pipeline::env_vars`): the CDK app sets
/// exactly those names, the test world sets no other, and the config layer is where the
/// functions look for the config by default.
#[test]
fn environment_variable_names_are_the_ones_the_functions_read() {
    use pipeline::env_vars::DEPLOYED;
    let root = repo_root();
    let deployed: std::collections::BTreeSet<String> =
        DEPLOYED.iter().map(|s| s.to_string()).collect();
    let stack = std::fs::read_to_string(root.join("cdk/lib/postetl-stack.ts")).unwrap();
    assert_eq!(
        env_names(&stack),
        deployed,
        "cdk/lib/postetl-stack.ts sets other names than pipeline::env_vars::DEPLOYED"
    );
    let world = std::fs::read_to_string(root.join("tests/src/world.rs")).unwrap();
    // Its values (a warehouse named POSTETL_WH) are no variables; only string literals count.
    let literals: String = world
        .split('"')
        .skip(1)
        .step_by(2)
        .collect::<Vec<_>>()
        .join(" ");
    for name in env_names(&literals) {
        assert!(
            deployed.contains(&name) || name == "POSTETL_WH",
            "tests/src/world.rs sets {name}, which no function reads (pipeline::env_vars)"
        );
    }
    // The config layer's path.
    assert!(
        stack.contains(&format!(
            "CONFIG_PATH_IN_LAMBDA = '{}'",
            pipeline::runtime::DEFAULT_CONFIG_PATH
        )),
        "cdk/lib/postetl-stack.ts: CONFIG_PATH_IN_LAMBDA is not pipeline::runtime::DEFAULT_CONFIG_PATH"
    );
}

/// Every `.rs` file under `dir`, at any depth.
fn rust_files(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out
}

/// One AWS SDK configuration per process: only `snowflake::AwsConfig` loads one, and a main
/// hands that one to every client it builds (and to the Snowflake credentials).
#[test]
fn only_aws_config_loads_an_sdk_configuration() {
    let root = repo_root();
    let files = rust_files(&root.join("functions"));
    let loaders: Vec<String> = files
        .iter()
        .filter(|f| {
            let text = std::fs::read_to_string(f).unwrap();
            text.contains("load_from_env()") || text.contains("aws_config::load_from_env")
        })
        .map(|f| f.strip_prefix(&root).unwrap().display().to_string())
        .collect();
    assert_eq!(loaders, ["functions/snowflake/src/sdk_config.rs"]);
}

/// The environment is read at a binary's edge only: a main, the CLI (a binary crate), and the
/// Lambda bootstrap every main runs (`pipeline::runtime`: `serve*`, `*from_env`). The libraries
/// under them (the snowflake client, the config, the steps) take what they need as arguments.
#[test]
fn only_the_binaries_edge_reads_the_environment() {
    let root = repo_root();
    let files = rust_files(&root.join("functions"));
    let readers: Vec<String> = files
        .iter()
        .map(|f| f.strip_prefix(&root).unwrap().display().to_string())
        .filter(|f| {
            let text = std::fs::read_to_string(root.join(f)).unwrap();
            text.contains("env::var")
        })
        .filter(|f| f.contains("/src/"))
        .filter(|f| !f.ends_with("/main.rs") && !f.starts_with("functions/cli/"))
        .collect();
    assert_eq!(readers, ["functions/pipeline/src/runtime.rs"]);
}
