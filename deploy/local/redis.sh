#!/usr/bin/env bash
# Makes `redis-server` available (Debian's package) for the GCS fault
# tolerance tests, which start their own private instances, and prints its
# path on stdout (progress on stderr).
#
# Installed already: prints the path, no apt call. Otherwise (as root):
# `apt-get update` only when apt does not know the package yet, then
# `apt-get install -y --no-install-recommends redis-server`. The package's own
# system service is kept from starting (a temporary policy-rc.d that refuses
# service starts, only when none exists) and stopped if it started anyway:
# nothing is left listening on 6379.
set -euo pipefail

log() { echo "redis.sh: $*" >&2; }
t0="$EPOCHREALTIME"
elapsed() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1fs", b - a }'; }

found() { command -v redis-server 2>/dev/null || { [[ -x /usr/bin/redis-server ]] && echo /usr/bin/redis-server; }; }

if path="$(found)"; then
  log "redis-server installed ($path, $(elapsed "$t0"))"
  echo "$path"
  exit 0
fi

[[ "$(id -u)" == 0 ]] || { log "error: redis-server is missing and installing it needs root"; exit 1; }
cache="${RAYOP_CACHE_DIR:-$HOME/.cache/rayop}"
mkdir -p "$cache"
exec 9>"$cache/.redis-install.lock"
flock 9
if path="$(found)"; then
  log "redis-server installed by another caller ($path)"
  echo "$path"
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
if ! apt-cache policy redis-server 2>/dev/null | grep -q 'Candidate: [0-9]'; then
  t="$EPOCHREALTIME"
  log "apt does not know redis-server yet: apt-get update"
  apt-get update >&2
  log "apt-get update done ($(elapsed "$t"))"
fi

policy=/usr/sbin/policy-rc.d
own_policy=0
if [[ ! -e "$policy" ]]; then
  printf '#!/bin/sh\n# temporary, from rayop deploy/local/redis.sh: no service starts during its install\nexit 101\n' >"$policy"
  chmod 0755 "$policy"
  own_policy=1
fi
cleanup() { if ((own_policy)); then rm -f "$policy"; fi; }
trap cleanup EXIT

t="$EPOCHREALTIME"
log "apt-get install redis-server"
apt-get install -y --no-install-recommends redis-server >&2
log "installed ($(elapsed "$t"))"

# If the package's service started after all (a policy-rc.d that allowed it),
# stop exactly that instance, by its init script and pid file.
pidfile=/run/redis/redis-server.pid
if [[ -s "$pidfile" ]] && kill -0 "$(<"$pidfile")" 2>/dev/null; then
  log "stopping the redis-server service the package started (pid $(<"$pidfile"))"
  if [[ -x /etc/init.d/redis-server ]]; then
    /etc/init.d/redis-server stop >&2 || true
  fi
  if [[ -s "$pidfile" ]] && kill -0 "$(<"$pidfile")" 2>/dev/null; then
    kill -TERM "$(<"$pidfile")"
  fi
fi

path="$(found)" || { log "error: redis-server still missing after the install"; exit 1; }
log "redis-server ready ($path, $("$path" --version | cut -d' ' -f3), total $(elapsed "$t0"))"
echo "$path"
