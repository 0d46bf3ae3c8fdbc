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
                    !dependencies(table, section).iter().any(|d| d == "postetl-tests"),
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
