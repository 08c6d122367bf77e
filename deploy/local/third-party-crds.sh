#!/usr/bin/env bash
# Fetches the CRDs of a third-party project that tests need (cert-manager,
# batch schedulers) from that project's Go module, through the Go module
# proxy, into a cache directory keyed by name and version:
#
#   ${RAYOP_CACHE_DIR:-$HOME/.cache/rayop}/crds/<name>-<version>/*.yaml
#
# Usage: third-party-crds.sh <name>    (names: see deploy/local/third-party.env)
# Output: the directory holding that project's CRD YAML files, on stdout;
# progress on stderr. A cached directory is returned without running `go`.
# The directory is filled under a temporary name and renamed into place, so
# an interrupted run never leaves a half-filled cache.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
name="${1:?usage: third-party-crds.sh <name>}"
cache="${RAYOP_CACHE_DIR:-$HOME/.cache/rayop}"
log() { echo "third-party-crds.sh: $*" >&2; }

# third-party.env lines: <name> <module> <version> <path in module>...
line="$(grep -E "^${name}[[:space:]]" "$here/third-party.env" || true)"
[[ -n "$line" ]] || { log "error: no entry '$name' in $here/third-party.env"; exit 1; }
read -r _ module version paths <<<"$line"
out="$cache/crds/$name-$version"
if [[ -d "$out" ]]; then
  echo "$out"
  exit 0
fi

mkdir -p "$cache/crds"
exec 9>"$cache/crds/.lock"
flock 9
if [[ -d "$out" ]]; then
  echo "$out"
  exit 0
fi

export GOTOOLCHAIN=local GOFLAGS=-mod=mod
command -v go >/dev/null || { log "error: no 'go' on PATH"; exit 1; }
log "$name: downloading $module@$version …"
dir="$(cd "$cache" && go mod download -json "$module@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
[[ -n "$dir" && -d "$dir" ]] || { log "error: go mod download gave no directory for $module@$version"; exit 1; }

tmp="$out.partial.$$"
rm -rf "$tmp"
mkdir -p "$tmp"
for path in $paths; do
  [[ -f "$dir/$path" ]] || { log "error: $module@$version has no $path"; rm -rf "$tmp"; exit 1; }
  cp "$dir/$path" "$tmp/$(basename "$path")"
  chmod u+w "$tmp/$(basename "$path")"
done
mv "$tmp" "$out"
log "$name: CRDs cached in $out"
echo "$out"
