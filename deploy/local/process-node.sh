#!/usr/bin/env bash
# Builds rayop-process-node (the node whose pods run as local processes,
# module modules/process-node) with the machine's `go`, into
#
#   ${RAYOP_CACHE_DIR:-$HOME/.cache/rayop}/bin/process-node-<hash>/rayop-process-node
#
# <hash> is the first 12 hex digits of the sha256 over the module's go.mod,
# go.sum and every *.go file (path and content), so any source change gives
# a new binary and an unchanged tree reuses the cached one.
#
# Output: the binary's path on stdout; progress on stderr. A cached binary is
# returned without running `go`. Builds are serialised with flock and written
# under a temporary name, then renamed, so an interrupted build never leaves a
# half-written binary.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
module="$here/modules/process-node"
[[ -f "$module/go.mod" ]] || { echo "process-node.sh: no $module/go.mod" >&2; exit 1; }
hash="$(
  cd "$module"
  { printf '%s\n' go.mod go.sum; find . -name '*.go' -type f | sed 's|^\./||'; } | LC_ALL=C sort -u |
    while IFS= read -r f; do printf '%s\0' "$f"; sha256sum <"$f"; done | sha256sum | cut -c1-12
)"
cache="${RAYOP_CACHE_DIR:-$HOME/.cache/rayop}"
out="$cache/bin/process-node-$hash/rayop-process-node"
# shellcheck source=go-build-cached.sh
source "$here/go-build-cached.sh"
go_build_cached process-node.sh "$module" "$out" "rayop-process-node ($hash)"
