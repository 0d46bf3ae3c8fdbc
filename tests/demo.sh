#!/usr/bin/env bash
# The local demo: sets up what a fresh machine lacks, then runs one post-ETL run against the local
# Snowflake SQL API emulator, with progress and a summary. The emulator stops when the demo ends.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash tests/setup.sh
cargo run --quiet -p postetl-tests --example demo
