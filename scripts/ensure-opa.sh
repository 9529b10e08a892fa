#!/usr/bin/env bash
# Builds the pinned OPA CLI from the Go module proxy into tools/ (git-ignored) unless it is
# already there at the pinned version. Every script that needs `opa` goes through this one,
# so a fresh machine gets the same binary as CI and the Dockerfile's build stage.
set -euo pipefail
OPA_VERSION="${OPA_VERSION:-v1.22.3}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="$root/tools/bin/opa"
# The version is read whole before it is matched: `opa version | grep -q` under pipefail fails
# at random (grep exits at the first match, opa then dies of SIGPIPE), which rebuilt a good binary.
if [ -x "$bin" ] && have="$("$bin" version 2>/dev/null)" && grep -qxF "Version: ${OPA_VERSION#v}" <<<"$have"; then
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  echo "ensure-opa: 'go' is not on PATH; install Go to build the pinned OPA CLI ($OPA_VERSION)" >&2
  exit 1
fi
echo "ensure-opa: building opa $OPA_VERSION from the Go module proxy into tools/bin (first run only, a few minutes)..." >&2
mkdir -p "$root/tools/bin"
start=$(date +%s)
# Progress: go prints each module it downloads with -x off; a heartbeat keeps the terminal alive.
( while sleep 20; do echo "ensure-opa: still building ($(( $(date +%s) - start ))s)..." >&2; done ) &
beat=$!
trap 'kill $beat 2>/dev/null || true' EXIT
GOTOOLCHAIN=local GOBIN="$root/tools/bin" CGO_ENABLED=0 \
  go install "github.com/open-policy-agent/opa@${OPA_VERSION}"
echo "ensure-opa: built $("$bin" version | head -1) in $(( $(date +%s) - start ))s" >&2
