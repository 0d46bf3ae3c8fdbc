//! The README's "Try the CLI locally" block, run as written against the local stack
//! (`bash tests/local.sh up`): every command in it must work by copy and paste.

use std::path::Path;
use std::process::{Command, Output};

/// The bash block between the README's `cli-examples` markers.
fn readme_block() -> String {
    let readme = std::fs::read_to_string(postetl_tests::repo_root().join("README.md")).unwrap();
    let (_, rest) = readme
        .split_once("<!-- cli-examples:begin -->")
        .expect("the README's cli-examples block");
    let (block, _) = rest.split_once("<!-- cli-examples:end -->").unwrap();
    let block = block.trim();
    block
        .strip_prefix("```bash")
        .and_then(|b| b.strip_suffix("```"))
        .expect("a bash code block")
        .to_string()
}

/// `bash -c script` from the repository root, with the local stack's folder in `dir`, the
/// binaries as built (no setup, no build) and none of the caller's AWS or Snowflake settings.
fn bash(script: &str, dir: &Path) -> Output {
    let mut command = Command::new("bash");
    command
        .args(["-c", script])
        .current_dir(postetl_tests::repo_root());
    for (k, _) in std::env::vars().filter(|(k, _)| {
        k.starts_with("AWS_") || k.starts_with("POSTETL_") || k.starts_with("SNOWFLAKE_")
    }) {
        command.env_remove(k);
    }
    command
        .env("POSTETL_LOCAL_DIR", dir)
        .env("POSTETL_LOCAL_NO_BUILD", "1")
        .env("AWS_CONFIG_FILE", "/nonexistent/postetl-test")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/postetl-test")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap()
}

/// Stops the stack however the test ends.
struct Down<'a>(&'a Path);

impl Drop for Down<'_> {
    fn drop(&mut self) {
        if self.0.join("pid").exists() {
            bash("bash tests/local.sh down", self.0);
        }
    }
}

#[test]
fn the_readme_cli_examples_work_as_written() {
    let root = postetl_tests::repo_root();
    for bin in ["target/debug/postetl", "target/debug/examples/local"] {
        assert!(
            root.join(bin).exists(),
            "{bin} is missing: cargo build --workspace --bins && cargo build -p postetl-tests --example local"
        );
    }
    // The stack's folder: made by `up`, removed by `down`.
    let dir = std::env::temp_dir().join(format!("postetl-local-{}", std::process::id()));
    let _down = Down(&dir);
    let block = readme_block();
    assert!(block.contains("source target/local/env.sh"), "{block}");
    // The same commands, with the stack's folder where the test put it.
    let script = format!(
        "set -euo pipefail\n{}",
        block.replace("target/local/env.sh", "\"$POSTETL_LOCAL_DIR/env.sh\"")
    );
    let out = bash(&script, &dir);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    for expected in [
        "statemachine/pipelines.toml is valid",
        "-- 1. ResumeWarehouse",
        "✓ connection   authenticated, with role POSTETL",
        "{\"dryRun\":true,\"pipeline\":\"orders\",\"tables\":[\"ORDERS\"]}",
        "status         SUCCEEDED (dry run: statements logged, no data changed)",
        "rows merged    ",
        "stopped (pid ",
    ] {
        assert!(
            stdout.contains(expected),
            "{expected:?} missing from\n{stdout}\n{stderr}"
        );
    }
    assert_eq!(
        stdout.matches("status         SUCCEEDED").count(),
        4,
        "{stdout}"
    );
    assert!(!dir.exists(), "local.sh down leaves {}", dir.display());
}
