#!/usr/bin/env bash
# Builds the helm CLI that the chart tests use (tests/deploy_helm.rs), from its
# Go module with the machine's `go`, through the Go module proxy. Debian
# (bookworm) ships no helm package, so this is the "equivalent" install: the
# version is pinned, checksum-verified, by the wrapper module in
# deploy/helm/tool/ (go.mod + go.sum, committed).
#
#   ${RAYOP_CACHE_DIR:-$HOME/.cache/rayop}/bin/helm-<version>/helm
#
# A cached helm is not rebuilt: a cached run invokes no `go` and takes a few
# milliseconds. The binary is written under a temporary name and renamed into
# place, and concurrent callers serialise on a lock file, so an interrupted or
# parallel build never leaves a half-written binary that a later run would
# take as cached. The first build takes a few minutes on a 2-core machine.
#
# Output: progress on stderr; on stdout one line, HELM=<path of the binary>.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
version="$(sed -n 's/^[[:space:]]*helm\.sh\/helm\/v3 \(v[0-9.]*\).*/\1/p' "$here/tool/go.mod")"
[[ -n "$version" ]] || { echo "build-helm.sh: no helm.sh/helm/v3 version in $here/tool/go.mod" >&2; exit 1; }
cache="${RAYOP_CACHE_DIR:-$HOME/.cache/rayop}"
dir="$cache/bin/helm-$version"
bin="$dir/helm"

if [[ -x "$bin" ]]; then
  echo "build-helm.sh: helm $version cached ($bin)" >&2
  echo "HELM=$bin"
  exit 0
fi

mkdir -p "$dir"
exec 9>"$dir/.build.lock"
if ! flock -n 9; then
  echo "build-helm.sh: another build of helm is running; waiting for it" >&2
  flock 9
fi
if [[ ! -x "$bin" ]]; then
  command -v go >/dev/null || { echo "build-helm.sh: error: no 'go' on PATH (need Go >= 1.26)" >&2; exit 1; }
  export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS="-mod=readonly -buildvcs=false"
  start=$SECONDS
  echo "build-helm.sh: building helm $version from its Go module …" >&2
  (cd "$here/tool" && go build -trimpath \
    -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$version" \
    -o "$bin.partial" helm.sh/helm/v3/cmd/helm)
  mv -f "$bin.partial" "$bin"
  echo "build-helm.sh: built helm $version in $((SECONDS - start))s" >&2
fi
echo "HELM=$bin"
