#!/usr/bin/env bash
# Every benchmark, printing figures: the Snowflake client (JWT, per-statement overhead, paired) and
# cold start to first statement result of the release warehouse Lambda side by side with seed 000's
# Python handler (tests/benches/lambdas.rs). The Python side runs from its own venv,
# .venv-seed-bench (tests/seed_bench/requirements.txt), so the test venv stays lean.
# `bash tests/bench.sh --venv-only` only makes that venv.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash tests/setup.sh

stamp=.venv-seed-bench/.requirements.sha256
want=$(sha256sum tests/seed_bench/requirements.txt | cut -d' ' -f1)
if [[ ! -x .venv-seed-bench/bin/python || ! -f $stamp || $(cat "$stamp") != "$want" ]]; then
  printf '\033[1m==> %s\033[0m\n' "creating .venv-seed-bench with tests/seed_bench/requirements.txt"
  python3 -m venv .venv-seed-bench
  .venv-seed-bench/bin/pip install --disable-pip-version-check -q -r tests/seed_bench/requirements.txt
  echo "$want" > "$stamp"
fi
[[ ${1:-} == --venv-only ]] && exit 0

# Only the binary the cold-start bench runs (fat LTO on every binary takes long).
cargo build --release -p warehouse
cargo bench -p postetl-tests --bench client
cargo bench -p postetl-tests --bench lambdas
