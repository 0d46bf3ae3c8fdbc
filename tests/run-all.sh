#!/usr/bin/env bash
# Every test of the project, as CI runs it: formatting and lints, the Rust unit and integration
# tests (which start the emulator on loopback ports themselves), and the emulator's own tests.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
step() { printf '\033[1m==> %s\033[0m\n' "$*"; }

bash tests/setup.sh --browser

step "cargo fmt --check"
cargo fmt --all -- --check
step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --quiet -- -D warnings
step "cargo build (the Lambda binaries the replay tests run)"
cargo build --workspace --bins
step "cargo test"
cargo test --workspace --no-fail-fast
step "emulator tests (pytest)"
(cd tests/emulator && ../../.venv/bin/python -m pytest -q -p no:cacheprovider)
step "CDK app: assertions tests, synth without bundling, cfn-lint"
bash cdk/test.sh
