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
#
# A path written `gen:<package pattern>` names Go API types rather than a
# file: for a project whose module ships no CRD YAML (Volcano's
# volcano.sh/apis), the CRDs are generated from those types with
# controller-gen, itself built from the module pinned on the `tool
# controller-gen` line and cached in
# ${RAYOP_CACHE_DIR:-$HOME/.cache/rayop}/bin/controller-tools-<version>/.
# The directory is filled under a temporary name and renamed into place, so
# an interrupted run never leaves a half-filled cache.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
name="${1:?usage: third-party-crds.sh <name>}"
cache="${RAYOP_CACHE_DIR:-$HOME/.cache/rayop}"
log() { echo "third-party-crds.sh: $*" >&2; }

# third-party.env lines: <name> <module> <version> <path in module>...
[[ "$name" != tool ]] || { log "error: 'tool' lines name build tools, not CRDs"; exit 1; }
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
# The controller-gen binary, built once per pinned version.
controller_gen() {
  local tool tmodule tversion tpkg bin
  tool="$(grep -E "^tool[[:space:]]+controller-gen[[:space:]]" "$here/third-party.env" || true)"
  [[ -n "$tool" ]] || { log "error: no 'tool controller-gen' line in $here/third-party.env"; return 1; }
  read -r _ _ tmodule tversion tpkg <<<"$tool"
  bin="$cache/bin/controller-tools-$tversion"
  if [[ ! -x "$bin/controller-gen" ]]; then
    log "building controller-gen from $tmodule@$tversion …"
    mkdir -p "$bin.partial.$$"
    (cd "$cache" && GOBIN="$bin.partial.$$" go install "$tmodule/$tpkg@$tversion") >&2 \
      || { rm -rf "$bin.partial.$$"; return 1; }
    rm -rf "$bin"
    mv "$bin.partial.$$" "$bin"
  fi
  echo "$bin/controller-gen"
}

for path in $paths; do
  if [[ "$path" == gen:* ]]; then
    gen="$(controller_gen)" || { rm -rf "$tmp"; exit 1; }
    # controller-gen loads the packages with their dependencies: run it in a
    # writable copy of the module (the module cache is read-only).
    work="$tmp.work"
    rm -rf "$work"
    cp -r "$dir" "$work"
    chmod -R u+w "$work"
    log "$name: generating CRDs from $module@$version ${path#gen:} …"
    (cd "$work" && "$gen" crd:allowDangerousTypes=true "paths=${path#gen:}" "output:crd:dir=$tmp") >&2 \
      || { log "error: controller-gen failed on $module@$version ${path#gen:}"; rm -rf "$tmp" "$work"; exit 1; }
    rm -rf "$work"
    ls "$tmp"/*.yaml >/dev/null 2>&1 || { log "error: controller-gen wrote no CRD for ${path#gen:}"; rm -rf "$tmp"; exit 1; }
    continue
  fi
  [[ -f "$dir/$path" ]] || { log "error: $module@$version has no $path"; rm -rf "$tmp"; exit 1; }
  cp "$dir/$path" "$tmp/$(basename "$path")"
  chmod u+w "$tmp/$(basename "$path")"
done
mv "$tmp" "$out"
log "$name: CRDs cached in $out"
echo "$out"
