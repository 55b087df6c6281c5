#!/usr/bin/env bash
# The whole test suite: set-up (idempotent), then unit and integration tests in one vitest run,
# closing with a plain "N passed, N failed" line.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
mkdir -p .berth
rm -f .berth/vitest.json
rc=0
npx vitest run --reporter=default --reporter=json --outputFile.json=.berth/vitest.json "$@" || rc=$?
if [ -f .berth/vitest.json ]; then
  node -e 'const r=require("./.berth/vitest.json");console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed` + (r.numPendingTests ? `, ${r.numPendingTests} skipped` : ""))'
fi
exit "$rc"
