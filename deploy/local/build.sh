#!/usr/bin/env bash
# Builds the local control plane's binaries from Go modules with the machine's
# `go`, through the Go module proxy, into a cache directory keyed by version:
#
#   ${RAYOP_CACHE_DIR:-$HOME/.cache/rayop}/bin/kubernetes-<ver>/  kube-apiserver kube-controller-manager kube-scheduler kubectl
#   ${RAYOP_CACHE_DIR:-$HOME/.cache/rayop}/bin/etcd-<ver>/        etcd
#   ${RAYOP_CACHE_DIR:-$HOME/.cache/rayop}/bin/kwok-<ver>/        kwok stages.yaml
#
# Versions come from deploy/local/versions.env; the wrapper modules (go.mod +
# go.sum, committed) from deploy/local/modules/. A component whose file is
# already in the cache is not rebuilt, so a fully cached run invokes no `go`
# at all and takes well under a second. Each binary is written under a
# temporary name and renamed into place, so an interrupted build never leaves
# a half-written binary that a later run would take as cached.
#
# Output: one progress line per component (with the time taken) on stderr;
# on stdout, KEY=dir lines a script or the Rust harness can read:
#   KUBERNETES_BIN_DIR=…  ETCD_BIN_DIR=…  KWOK_BIN_DIR=…  KWOK_STAGES=…
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"

cache="${RAYOP_CACHE_DIR:-$HOME/.cache/rayop}"
k8s_dir="$cache/bin/kubernetes-$KUBERNETES_VERSION"
etcd_dir="$cache/bin/etcd-$ETCD_VERSION"
kwok_dir="$cache/bin/kwok-$KWOK_VERSION"
kwok_stages="$kwok_dir/stages.yaml"
k8s_cmds=(kube-apiserver kube-controller-manager kube-scheduler kubectl)

log() { echo "build.sh: $*" >&2; }

print_dirs() {
  echo "KUBERNETES_BIN_DIR=$k8s_dir"
  echo "ETCD_BIN_DIR=$etcd_dir"
  echo "KWOK_BIN_DIR=$kwok_dir"
  echo "KWOK_STAGES=$kwok_stages"
}

all_cached() {
  local c
  for c in "${k8s_cmds[@]}"; do [[ -x "$k8s_dir/$c" ]] || return 1; done
  [[ -x "$etcd_dir/etcd" && -x "$kwok_dir/kwok" && -s "$kwok_stages" ]]
}

if all_cached; then
  log "all components cached under $cache/bin (kubernetes $KUBERNETES_VERSION, etcd $ETCD_VERSION, kwok $KWOK_VERSION)"
  print_dirs
  exit 0
fi

mkdir -p "$k8s_dir" "$etcd_dir" "$kwok_dir"
# Several test binaries or shells may ask for a build at once: one builds,
# the others wait here and then find everything cached.
exec 9>"$cache/bin/.build.lock"
if ! flock -n 9; then
  log "another build is running; waiting for it (lock $cache/bin/.build.lock)"
  flock 9
fi

export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS="-mod=readonly -buildvcs=false"
command -v go >/dev/null || { log "error: no 'go' on PATH (need Go >= 1.26)"; exit 1; }

# go_build <module-dir> <package> <output-file> <ldflags>
go_build() {
  local module="$1" pkg="$2" out="$3" ldflags="$4" start
  if [[ -x "$out" ]]; then
    log "$(basename "$out"): cached ($out)"
    return 0
  fi
  start=$SECONDS
  log "$(basename "$out"): building $pkg …"
  (cd "$here/modules/$module" && go build -trimpath -ldflags "$ldflags" -o "$out.partial" "$pkg")
  mv -f "$out.partial" "$out"
  log "$(basename "$out"): built in $((SECONDS - start))s"
}

minor="${KUBERNETES_VERSION#v1.}"
minor="${minor%%.*}"
# buildDate: the release's publication time, so rebuilds give identical binaries.
build_date="$(cd "$here/modules/kubernetes" &&
  go list -m -f '{{.Time.UTC.Format "2006-01-02T15:04:05Z"}}' k8s.io/kubernetes)"
k8s_ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  k8s_ldflags+=" -X $pkg.gitVersion=$KUBERNETES_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
  k8s_ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=${build_date:-1970-01-01T00:00:00Z}"
done

go_build etcd go.etcd.io/etcd/server/v3 "$etcd_dir/etcd" "-s -w"
go_build kwok sigs.k8s.io/kwok/cmd/kwok "$kwok_dir/kwok" \
  "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=${KWOK_VERSION#v} -X sigs.k8s.io/kwok/pkg/consts.KubeVersion=${KUBERNETES_VERSION#v}"

# kwok does nothing to nodes and pods without Stage objects. The stock ones
# ship inside the kwok module; take them from the module cache (it is there
# once kwok has been built) rather than keeping copies in git.
if [[ ! -s "$kwok_stages" ]]; then
  stage_src="$(cd "$here/modules/kwok" && go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)/kustomize/stage"
  {
    echo "# kwok Stage objects copied by deploy/local/build.sh from $stage_src"
    for f in node/fast/node-initialize.yaml node/heartbeat/node-heartbeat.yaml \
             pod/fast/pod-ready.yaml pod/fast/pod-delete.yaml; do
      echo "---"
      cat "$stage_src/$f"
    done
  } >"$kwok_stages.partial"
  mv -f "$kwok_stages.partial" "$kwok_stages"
  log "stages.yaml: copied node-initialize, node-heartbeat, pod-ready, pod-delete"
fi

for cmd in "${k8s_cmds[@]}"; do
  go_build kubernetes "k8s.io/kubernetes/cmd/$cmd" "$k8s_dir/$cmd" "$k8s_ldflags"
done

log "done: binaries under $cache/bin"
print_dirs
