#!/usr/bin/env bash
# The main job, locally: sets up what a fresh machine lacks, builds the Lambda binaries, and
# replays a Glue completion event through the real workflow (local Step Functions, the real
# Lambdas, local Glue/Secrets Manager/SNS, the Snowflake emulator), with progress and a summary.
# Every server it starts stops when it ends. `--keyless`: the Lambdas hold no secret and use
# workload identity (an STS GetWebIdentityToken JWT, as Snowflake documents for the SQL API).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash tests/setup.sh
cargo build --quiet --workspace --bins
cargo run --quiet -p postetl-tests --example demo -- "$@"
