#!/usr/bin/env bash
# Makes a Python 3.11 virtual environment with real Ray (`ray[default]==VERSION`
# from PyPI; `ray[default,serve]` from Ray 2.10 on, since the RayService tests
# run Serve on the modern Ray and the seed's 2.6.0 would need pins of its own
# for Serve's web stack) for the process node, which maps a Ray image to such a directory,
# and prints that directory on stdout (progress and timings on stderr):
#
#   ${RAYOP_CACHE_DIR:-$HOME/.cache/rayop}/ray/<VERSION>        symlink to the venv below
#   ${RAYOP_CACHE_DIR:-$HOME/.cache/rayop}/ray/.venvs/<VERSION>-<spec hash>/
#       bin/ray bin/python bin/python3 bin/python3.11 …   .rayop-venv-stamp
#   ${RAYOP_CACHE_DIR:-$HOME/.cache/rayop}/pip/wheelhouse/<VERSION>-<spec hash>/
#       the wheels of that venv: a rebuild installs from here, offline
#
# VERSION defaults to RAY_VERSION in versions.env. Extra pins for a version live
# in deploy/local/ray-constraints-<VERSION>.txt (pip constraints, optional).
#
# Cached: when the venv the symlink names carries a stamp equal to the pinned
# spec (Ray version + constraints), nothing runs but a few shell tests (no pip,
# no python). A changed pin gives a different spec, hence a new venv.
#
# Never half-built: the venv is made in its own hash-named directory and only
# the atomic rename of the symlink makes it visible, after pip finished and the
# stamp is written; a build left by an interrupted run is deleted and redone.
# A lock serialises concurrent callers. The venv cannot be moved after the
# build (pip writes absolute shebangs), hence the symlink and not a rename of
# the directory itself.
#
# bin/ may be bind-mounted elsewhere (the process node mounts it over
# /usr/local/bin in a pod): console scripts name the venv's interpreter by
# absolute path, and bin/python and bin/python3 are two-line wrappers that exec
# that interpreter by absolute path too, because a venv's python symlink run
# from another directory does not find pyvenv.cfg and would be the bare base
# interpreter without Ray.
#
# Python: RAYOP_PYTHON, or python3.11 on PATH.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"

(($# <= 1)) || { echo "usage: ray-venv.sh [VERSION]" >&2; exit 2; }
version="${1:-${RAY_VERSION:?RAY_VERSION missing in versions.env}}"
[[ "$version" =~ ^[0-9]+(\.[0-9]+)*$ ]] || { echo "ray-venv.sh: error: bad Ray version '$version'" >&2; exit 2; }
cache="${RAYOP_CACHE_DIR:-$HOME/.cache/rayop}"
root="$cache/ray"
link="$root/$version"
constraints="$here/ray-constraints-$version.txt"
stamp_name=".rayop-venv-stamp"
t0="$EPOCHREALTIME"

log() { echo "ray-venv.sh: $*" >&2; }
elapsed() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1fs", b - a }'; }

# Ray's extras: Serve from 2.10 on (see the top).
extras="default"
if [[ "$(printf '%s\n' 2.10 "$version" | sort -V | head -n 1)" == "2.10" ]]; then
  extras="default,serve"
fi
# The spec the stamp must equal; anything that changes what pip installs goes in.
spec="python 3.11
ray[$extras]==$version"
if [[ -f "$constraints" ]]; then
  spec+="
constraints:
$(grep -v -E '^[[:space:]]*(#|$)' "$constraints" || true)"
fi

is_complete() { # <dir>
  [[ -f "$1/$stamp_name" && "$(<"$1/$stamp_name")" == "$spec" &&
     -x "$1/bin/ray" && -x "$1/bin/python" && -x "$1/bin/python3" && -x "$1/bin/python3.11" ]]
}

if is_complete "$link"; then
  log "ray $version cached ($link, $(elapsed "$t0"))"
  echo "$link"
  exit 0
fi

mkdir -p "$root/.venvs"
exec 9>"$root/.$version.lock"
if ! flock -n 9; then
  log "another build of ray $version is running; waiting (lock $root/.$version.lock)"
  flock 9
fi
if is_complete "$link"; then
  log "ray $version built by another caller ($link, $(elapsed "$t0"))"
  echo "$link"
  exit 0
fi

python="${RAYOP_PYTHON:-python3.11}"
command -v "$python" >/dev/null || { log "error: no $python on PATH (set RAYOP_PYTHON to a Python 3.11)"; exit 1; }
"$python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' ||
  { log "error: $python is not Python 3.11"; exit 1; }

hash="$(printf '%s' "$spec" | sha256sum | cut -c1-12)"
name="$version-$hash"
venv="$root/.venvs/$name"
# Under the lock: leftovers of interrupted builds of this version go, and so do
# venvs of older pins of it (a pod still running on one loses it: change pins
# with no Ray pods running).
for old in "$root/.venvs/$version"-*; do
  [[ -e "$old" ]] || continue
  if [[ "$old" == "$venv" ]] || ! is_complete "$old"; then
    log "removing unfinished or outdated $old"
    rm -rf "$old"
  fi
done

# pip's HTTP cache stays empty here (the index's answers forbid caching), so
# the wheels of a spec are kept in a wheelhouse of their own: a rebuild of the
# same spec installs from it offline, with exactly the first build's wheels.
wheelhouse="$cache/pip/wheelhouse/$name"
req=("ray[$extras]==$version")
[[ -f "$constraints" ]] && req+=(--constraint "$constraints")
pip_common=(--progress-bar off --cache-dir "$cache/pip" --find-links "$wheelhouse")
cinfo=none
[[ -f "$constraints" ]] && cinfo="$(basename "$constraints")"
log "building ray[$extras]==$version into $venv (constraints: $cinfo)"

t="$EPOCHREALTIME"
"$python" -m venv "$venv"
log "venv created ($(elapsed "$t"))"

# Run pip through the versioned interpreter so console scripts' shebangs name
# bin/python3.11, a real interpreter, not the wrappers written below.
pip() { "$venv/bin/python3.11" -m pip "$@" >&2; }
mkdir -p "$wheelhouse"
t="$EPOCHREALTIME"
if [[ -f "$wheelhouse/.complete" ]] && pip install --no-index "${pip_common[@]}" "${req[@]}"; then
  log "pip install from the wheelhouse done ($(elapsed "$t"))"
else
  pip wheel "${pip_common[@]}" --wheel-dir "$wheelhouse" "${req[@]}"
  touch "$wheelhouse/.complete"
  log "pip wheel (download and build into $wheelhouse) done ($(elapsed "$t"))"
  t="$EPOCHREALTIME"
  pip install --no-index "${pip_common[@]}" "${req[@]}"
  log "pip install from the wheelhouse done ($(elapsed "$t"))"
fi

for py in python python3; do
  rm -f "$venv/bin/$py"
  printf '#!/bin/sh\nexec %q "$@"\n' "$venv/bin/python3.11" >"$venv/bin/$py"
  chmod 0755 "$venv/bin/$py"
done

t="$EPOCHREALTIME"
got="$("$venv/bin/ray" --version 2>&1)" || { log "error: $venv/bin/ray --version failed: $got"; exit 1; }
[[ "$got" == *" $version"* ]] || { log "error: $venv/bin/ray --version says '$got', want $version"; exit 1; }
log "check: $got ($(elapsed "$t"))"

printf '%s' "$spec" >"$venv/$stamp_name"
ln -sfn ".venvs/$name" "$root/.$version.link"
mv -fT "$root/.$version.link" "$link"
log "ray $version ready ($link -> .venvs/$name, $(du -sh "$venv" | cut -f1), total $(elapsed "$t0"))"
echo "$link"
