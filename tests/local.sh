#!/usr/bin/env bash
# A local postetl stack that stays up, to try the CLI by hand (every command in the README's
# "Try the CLI locally" works against it): the Snowflake emulator, local AWS (Glue, Secrets
# Manager, SNS, Step Functions) with the real Lambda binaries, and the state machine.
#
#   bash tests/local.sh up       start it (or show it, if it runs) and write target/local/env.sh
#   source target/local/env.sh   AWS_ENDPOINT_URL, POSTETL_STATE_MACHINE_ARN, ..., postetl on PATH
#   bash tests/local.sh status   is it up?
#   bash tests/local.sh down     stop it and remove its files
#
# POSTETL_LOCAL_DIR moves its folder (default target/local); POSTETL_LOCAL_NO_BUILD=1 skips the
# setup and build (tests that built everything already).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
dir=${POSTETL_LOCAL_DIR:-$root/target/local}
pid_file=$dir/pid

running() { [[ -f $pid_file ]] && kill -0 "$(cat "$pid_file")" 2>/dev/null; }

usage() { sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; }

case "${1:-}" in
  up)
    if running; then
      echo "already up (pid $(cat "$pid_file")):"; cat "$dir/env.sh"; exit 0
    fi
    if [[ -z ${POSTETL_LOCAL_NO_BUILD:-} ]]; then
      bash tests/setup.sh
      cargo build --quiet --workspace --bins
      cargo build --quiet -p postetl-tests --example local
    fi
    rm -rf "$dir"; mkdir -p "$dir/tmp"
    # Its temporary files (the config copy) stay in its folder, removed by `down`.
    TMPDIR=$dir/tmp nohup target/debug/examples/local "$dir" >"$dir/stack.log" 2>&1 </dev/null &
    echo $! >"$pid_file"
    for _ in $(seq 1 600); do
      [[ -f $dir/env.sh ]] && break
      if ! running; then echo "the local stack did not start:" >&2; cat "$dir/stack.log" >&2; exit 1; fi
      sleep 0.2
    done
    [[ -f $dir/env.sh ]] || { echo "the local stack did not start in 120 s" >&2; exit 1; }
    cat "$dir/env.sh"
    echo "up (pid $(cat "$pid_file")). Next: source ${dir#$root/}/env.sh; postetl start orders --watch"
    echo "stop it with: bash tests/local.sh down" ;;
  down)
    if running; then
      pid=$(cat "$pid_file"); kill "$pid"
      for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
      echo "stopped (pid $pid)"
    else
      echo "not running"
    fi
    rm -rf "$dir" ;;
  status)
    if running; then echo "up (pid $(cat "$pid_file")), env: $dir/env.sh"; else echo "not running"; exit 1; fi ;;
  -h|--help|"") usage ;;
  *) echo "tests/local.sh: unknown command '$1'" >&2; usage >&2; exit 2 ;;
esac
