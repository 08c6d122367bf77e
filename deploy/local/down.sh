#!/usr/bin/env bash
# Stops what deploy/local/up.sh started: the operator (if any), then the
# control plane (kwok, scheduler, controller-manager, apiserver, etcd), by the
# pids recorded under the state directory. Idempotent. The state directory
# (${RAYOP_STATE_DIR:-<repo>/.local}) keeps the logs; up.sh starts afresh.
# Usage: deploy/local/down.sh [--operator-only]
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
state="${RAYOP_STATE_DIR:-$root/.local}"

if [[ -f "$state/operator.pid" ]]; then
  pid="$(cat "$state/operator.pid")"
  # Only a live process running rayop: a stale file may name a reused pid.
  if kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q '/rayop run '; then
    kill "$pid"
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    echo "down.sh: stopped the operator (pid $pid)" >&2
  fi
  rm -f "$state/operator.pid"
fi
[[ "${1:-}" == --operator-only ]] && exit 0
if [[ -d "$state/pids" ]]; then
  cargo run -q -p rayop-testenv --bin rayop-local -- down --state-dir "$state"
else
  echo "down.sh: no control plane recorded under $state" >&2
fi
