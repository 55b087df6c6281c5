#!/usr/bin/env bash
# The API compatibility check (docs/api.md): proto/ against the newest released image in
# proto/released/, with buf's PACKAGE rules (buf.yaml). Fails on any change that would break a
# client built against that release.
set -euo pipefail
cd "$(dirname "$0")/.."
base=$(ls proto/released/*.binpb | sort -V | tail -1)
npx buf breaking --against "$base"
echo "[check:api] proto/ is compatible with $(basename "$base" .binpb)" >&2
