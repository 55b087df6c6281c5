#!/usr/bin/env bash
# The whole test suite: set-up (idempotent), a type check of product and tests, the import rules
# (.dependency-cruiser.cjs), then unit and integration tests in one vitest run,
# closing with a plain "N passed, N failed" line.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The tests are type-checked too: a test that no longer compiles against the product fails here,
# before vitest (which strips types without checking them) could run it green.
echo "[test] tsc --noEmit -p tsconfig.test.json" >&2
npx tsc --noEmit -p tsconfig.test.json
# The import rules (.dependency-cruiser.cjs): manager/'s layers import downward only, no cycles.
echo "[test] npm run check:deps" >&2
npm run --silent check:deps
# The API: nothing a client built against the last release uses is removed or changed (buf).
echo "[test] npm run check:api" >&2
npm run --silent check:api
mkdir -p .berth
rm -f .berth/vitest.json
rc=0
npx vitest run --reporter=default --reporter=json --outputFile.json=.berth/vitest.json "$@" || rc=$?
if [ -f .berth/vitest.json ]; then
  node -e 'const r=require("./.berth/vitest.json");console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed` + (r.numPendingTests ? `, ${r.numPendingTests} skipped` : ""))'
fi
exit "$rc"
