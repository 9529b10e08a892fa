#!/usr/bin/env bash
# npm run build: the pinned OPA CLI (built on first use), then the Wasm policy bundle.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/ensure-opa.sh"
node "$root/scripts/build-policies.ts" "$@"
