#!/usr/bin/env bash
# Builds the client package: the protos it loads at run time are copied in, its types are
# generated from them (the same generator and options as berth's own build), then compiled.
set -euo pipefail
cd "$(dirname "$0")"
root=../..
bin=$root/node_modules/.bin
rm -rf proto src/gen dist
mkdir -p proto/berth/v1
cp "$root"/proto/berth/v1/portal.proto "$root"/proto/berth/v1/common.proto proto/berth/v1/
"$bin"/proto-loader-gen-types --longs=Number --enums=String --defaults --arrays --oneofs --grpcLib=@grpc/grpc-js \
  -I proto -O src/gen berth/v1/portal.proto >/dev/null
"$bin"/tsc -p tsconfig.json
