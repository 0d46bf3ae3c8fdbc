#!/usr/bin/env bash
# Every benchmark, printing figures: the Snowflake client (JWT, per-statement overhead) and the
# step Lambdas (cold start, first/warm invocation, peak RSS, binary size) from release builds.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash tests/setup.sh
cargo build --release --bins
cargo bench -p postetl-tests --bench client
cargo bench -p postetl-tests --bench lambdas
