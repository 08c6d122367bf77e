#!/usr/bin/env bash
# Starts rayop locally with no cluster of your own:
#   1. builds what is missing (deploy/local/build.sh; cached after the first run),
#   2. starts a local control plane in the background (etcd, kube-apiserver,
#      kube-controller-manager, kube-scheduler, kwok with 3 fake nodes),
#   3. installs the CRDs from deploy/crd/ (RayCluster, RayJob, RayCronJob, RayService; when that directory exists),
#   4. starts the rayop operator (unless --no-operator, or when the rayop
#      binary has no `run` subcommand yet),
#   5. applies deploy/samples/,
#   6. waits until the RayClusters are ready (only when the operator runs),
#   7. prints `kubectl get rayclusters,statefulsets,deployments,services,pods`,
#      then an `export KUBECONFIG=…` and an `export PATH=…` line.
#
# With --real-ray the plane also runs the process node, where pods run as
# real processes with real Ray from PyPI (built and installed on first use,
# cached after), the fake nodes are cordoned, and step 7 also prints
# `ray status` from the head and the dashboard's address.
#
# Everything it leaves running logs to files under the state directory
# (${RAYOP_STATE_DIR:-<repo>/.local}); progress goes to stderr, so
# `$(deploy/local/up.sh)` returns once all is ready. Stop with
# deploy/local/down.sh.
#
# Usage: deploy/local/up.sh [--no-operator] [--real-ray]
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
state="${RAYOP_STATE_DIR:-$root/.local}"
with_operator=1
real_ray=()
for arg in "$@"; do
  case "$arg" in
    --no-operator) with_operator=0 ;;
    --real-ray) real_ray=(--real-ray) ;;
    -h|--help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "up.sh: unknown option $arg (usage: up.sh [--no-operator] [--real-ray])" >&2; exit 2 ;;
  esac
done
log() { echo "up.sh: $*" >&2; }

# 1-2. Binaries, then the plane (rayop-local shares the test harness's flags
# and readiness checks; it prints KUBECONFIG=, KUBECTL=, LOGS= lines).
bash deploy/local/build.sh >/dev/null
log "building rayop-local (the control-plane launcher) …"
plane_out="$(cargo run -q -p rayop-testenv --bin rayop-local -- up --state-dir "$state" "${real_ray[@]}" </dev/null)"
KUBECONFIG="$(sed -n 's/^KUBECONFIG=//p' <<<"$plane_out")"
kubectl="$(sed -n 's/^KUBECTL=//p' <<<"$plane_out")"
logs="$(sed -n 's/^LOGS=//p' <<<"$plane_out")"
export KUBECONFIG
k() { "$kubectl" "$@"; }

# 3. The CRDs (RayCluster, RayJob, RayCronJob, RayService).
crd_installed=0
if compgen -G "deploy/crd/*.yaml" >/dev/null; then
  log "installing the CRDs from deploy/crd/ …"
  k apply --server-side --force-conflicts -f deploy/crd/ >&2
  k wait --for=condition=Established --timeout=60s -f deploy/crd/ >&2
  crd_installed=1
else
  log "deploy/crd/ holds no CRD yet: skipping the CRD"
fi

# 4. The operator.
operator_running=0
if [[ $with_operator == 1 ]]; then
  log "building the rayop operator …"
  cargo build -q --bin rayop >&2
  rayop_bin="${CARGO_TARGET_DIR:-$root/target}/debug/rayop"
  if "$rayop_bin" run --help >/dev/null 2>&1; then
    if [[ -f "$state/operator.pid" ]]; then
      log "stopping the previous operator"
      bash deploy/local/down.sh --operator-only
    fi
    setsid "$rayop_bin" run --kubeconfig "$KUBECONFIG" --journal "$state/journal" </dev/null >>"$logs/rayop.log" 2>&1 &
    echo $! >"$state/operator.pid"
    operator_running=1
    log "operator started (pid $!, log $logs/rayop.log)"
  else
    log "the operator step is not available yet: '$rayop_bin' has no 'run' subcommand."
    log "the control plane is up; run any operator against the KUBECONFIG below."
  fi
else
  log "--no-operator: not starting the operator"
fi

# 5. The samples (they are RayClusters: they need the CRD).
if [[ $crd_installed == 1 ]]; then
  log "applying deploy/samples/ …"
  k apply -f deploy/samples/ >&2
else
  log "not applying deploy/samples/: the RayCluster CRD is not installed"
fi

# 6. Ready.
if [[ $operator_running == 1 && $crd_installed == 1 ]]; then
  log "waiting until every RayCluster is ready …"
  if ! k wait --for=jsonpath='{.status.state}'=ready rayclusters --all --timeout=300s >&2; then
    log "RayClusters not ready after 300s; see $logs/rayop.log"
  fi
fi

# 7. What is there, and how to use it.
if [[ $crd_installed == 1 ]]; then
  k get rayclusters,statefulsets,deployments,services,pods
else
  k get statefulsets,deployments,services,pods
fi
if [[ ${#real_ray[@]} -gt 0 && $operator_running == 1 && $crd_installed == 1 ]]; then
  for cluster in $(k get rayclusters -o jsonpath='{.items[*].metadata.name}'); do
    head="$(k get pods -l "ray.io/cluster=$cluster,ray.io/node-type=head" -o jsonpath='{.items[0].metadata.name}')"
    ip="$(k get pod "$head" -o jsonpath='{.status.podIP}')"
    echo "--- ray status on $head (real Ray):"
    k exec "$head" -c ray-head -- ray status || log "ray status failed on $head"
    echo "--- the dashboard of $cluster: http://$ip:8265 (the pod's address on the process node's bridge, reachable from this machine)"
  done
fi
echo "export KUBECONFIG=$KUBECONFIG"
echo "export PATH=$(dirname "$kubectl"):\$PATH"
