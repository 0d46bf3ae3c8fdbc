#!/usr/bin/env bash
# Installs what a fresh machine lacks for the local demo and the tests: openssl (test keys are made
# at test time), the Python venv with the emulator's packages. Safe to run again: it skips what is there.
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
