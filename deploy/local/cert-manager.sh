#!/usr/bin/env bash
# Builds the cert-manager controller the TLS tests run, from the published
# github.com/cert-manager/cert-manager module (version pinned in
# modules/cert-manager/go.mod, the same as the CRDs' in third-party.env), with
# the machine's `go`, into
#
#   ${RAYOP_CACHE_DIR:-$HOME/.cache/rayop}/bin/cert-manager-<version>/cert-manager-controller
#
# modules/cert-manager/main.go wires cert-manager's own controller packages
# for Issuers and Certificates of types selfSigned and ca (plus the
# CertificateRequest approver); cert-manager's controller binary is a module
# of its own that the Go proxy does not serve. No webhook and no leader
# election are needed for those types.
#
# Output: the binary's path on stdout; progress on stderr. A cached binary is
# returned without running `go`. Written under a temporary name and renamed
# into place, so an interrupted build never leaves a half-written binary.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
module="$here/modules/cert-manager"
version="$(sed -n 's/^require github.com\/cert-manager\/cert-manager \(v[^ ]*\)$/\1/p' "$module/go.mod")"
[[ -n "$version" ]] || { echo "cert-manager.sh: no cert-manager version in $module/go.mod" >&2; exit 1; }
cache="${RAYOP_CACHE_DIR:-$HOME/.cache/rayop}"
out="$cache/bin/cert-manager-$version/cert-manager-controller"
# shellcheck source=go-build-cached.sh
source "$here/go-build-cached.sh"
go_build_cached cert-manager.sh "$module" "$out" "cert-manager-controller $version"
