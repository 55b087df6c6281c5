#!/usr/bin/env bash
# Makes a Docker build context for berth's image from what set-up already built on this host:
# compiled dist/, the proto files, bin/, package*.json and node_modules pruned to production
# dependencies. The Dockerfile sees node_modules/.berth-prebuilt and skips `npm ci`.
#   scripts/image-context.sh DIR
set -euo pipefail
cd "$(dirname "$0")/.."
DIR="${1:?usage: scripts/image-context.sh DIR}"
[ -f dist/manager/main.js ] || { echo "[image-context] ERROR: no dist/: run npm run build first" >&2; exit 1; }
rm -rf "$DIR" && mkdir -p "$DIR"
cp -a package.json package-lock.json dist proto bin node_modules "$DIR"/
rm -rf "$DIR"/dist/test "$DIR"/dist/bench
find "$DIR/dist" -name '*.test.js' -delete
# Removes dev dependencies only; nothing is fetched.
(cd "$DIR" && npm prune --omit=dev --no-audit --no-fund --offline) >"$DIR.prune.log" 2>&1 \
  || { tail -20 "$DIR.prune.log" >&2; echo "[image-context] ERROR: npm prune failed" >&2; exit 1; }
rm -f "$DIR.prune.log"
find "$DIR/node_modules" -mindepth 1 -maxdepth 1 -type d -empty -delete
touch "$DIR/node_modules/.berth-prebuilt"
du -sh "$DIR/node_modules" | awk '{print "[image-context] production node_modules: " $1}' >&2
