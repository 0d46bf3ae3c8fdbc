#!/usr/bin/env bash
# The main job, locally: sets up what a fresh machine lacks, builds the Lambda binaries, and
# replays a Glue completion event through the real workflow (local Step Functions, the real
# Lambdas, local Glue/Secrets Manager/SNS, the Snowflake emulator), with progress and a summary.
# Every server it starts stops when it ends, and its temporary files go with it (Ctrl-C
# included). `--keyless`: the Lambdas hold no secret and use workload identity (an STS
# GetWebIdentityToken JWT, as Snowflake documents for the SQL API).
set -euo pipefail
case "${1:-}" in
  -h|--help)
    cat <<'USAGE'
usage: bash tests/demo.sh [--keyless]

Replays a Glue completion event through the real workflow, locally: the state
machine on local Step Functions, the real Lambda binaries, local Glue, Secrets
Manager and SNS, and the Snowflake SQL API emulator. Prints each step and a
summary; everything it starts stops when it ends (Ctrl-C included). Installs
what is missing first (tests/setup.sh).

  --keyless   the Lambdas hold no secret: workload identity as their IAM role
  -h, --help  this text
USAGE
    exit 0 ;;
  ""|--keyless) ;;
  *) echo "tests/demo.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
esac
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash tests/setup.sh
cargo build --quiet --workspace --bins
# Everything the run writes to the temp directory lands in this folder, removed however it ends.
TMPDIR=$(mktemp -d "${TMPDIR:-/tmp}/postetl-demo.XXXXXX")
export TMPDIR
trap 'rm -rf "$TMPDIR"' EXIT
trap 'exit 130' INT TERM
cargo run --quiet -p postetl-tests --example demo -- "$@"
