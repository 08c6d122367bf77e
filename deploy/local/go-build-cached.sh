# shellcheck shell=bash
# Sourced by the scripts that build one Go binary into the cache
# (cert-manager.sh, process-node.sh); defines go_build_cached.
#
# go_build_cached SCRIPT MODULE OUT LABEL: prints OUT when it is already an
# executable, else builds the main package of MODULE into it with the
# machine's `go` and prints it. Builds are serialised by a lock beside OUT and
# written under a temporary name, then renamed, so an interrupted build never
# leaves a half-written binary that a later run would take as cached.
# SCRIPT names the caller in messages; LABEL says what is built.

go_build_cached() {
  local script="$1" module="$2" out="$3" label="$4"
  if [[ -x "$out" ]]; then
    echo "$out"
    return 0
  fi
  mkdir -p "$(dirname "$out")"
  exec 9>"$(dirname "$out")/.build.lock"
  flock 9
  if [[ -x "$out" ]]; then
    echo "$out"
    return 0
  fi
  export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS="-mod=readonly -buildvcs=false"
  command -v go >/dev/null || { echo "$script: error: no 'go' on PATH" >&2; return 1; }
  local start=$SECONDS
  echo "$script: building $label …" >&2
  (cd "$module" && go build -trimpath -ldflags "-s -w" -o "$out.partial" .)
  mv -f "$out.partial" "$out"
  echo "$script: built in $((SECONDS - start))s: $out" >&2
  echo "$out"
}
