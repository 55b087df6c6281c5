#!/usr/bin/env bash
# Records the API as released (docs/api.md): proto/released/<version>.binpb, the image later
# versions are checked against. Usage: npm run api:release -- v0.2.0
set -euo pipefail
cd "$(dirname "$0")/.."
version=${1:?usage: npm run api:release -- vX.Y.Z}
[[ $version =~ ^v[0-9]+\.[0-9]+\.[0-9]+$ ]] || { echo "not a version: $version" >&2; exit 2; }
npx buf build -o "proto/released/$version.binpb"
echo "proto/released/$version.binpb written: commit it with the release" >&2
