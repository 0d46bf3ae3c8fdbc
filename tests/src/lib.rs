//! The project's local test infrastructure, started and stopped by the tests that use it: the
//! Snowflake SQL API emulator (tests/emulator) and test keys made at test time.

mod aws;
pub mod browser;
mod emulator;
mod extension;
mod keys;
mod process;
pub mod workflow;
pub mod world;

pub use aws::{FUNCTIONS, Lambdas, LocalAws};
pub use emulator::{AwsRoleCredentials, Emulator, Fault};
pub use extension::SecretsExtension;
pub use keys::TestKey;

use std::path::PathBuf;

/// The workspace root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the workspace")
        .to_path_buf()
}

/// The project venv's Python (made by tests/setup.sh), or `POSTETL_PYTHON`.
pub fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("POSTETL_PYTHON") {
        return PathBuf::from(p);
    }
    let venv = repo_root().join(".venv/bin/python");
    assert!(
        venv.exists(),
        "{} is missing: run `bash tests/setup.sh` first",
        venv.display()
    );
    venv
}
