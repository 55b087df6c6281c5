#!/usr/bin/env bash
# The whole test suite: set-up (idempotent), then unit and integration tests in one vitest run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec npx vitest run "$@"
