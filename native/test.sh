#!/bin/sh
# What `npm test` runs on a fresh clone: build (or reuse) the pinned native tools, install Node 24
# and the dependencies where missing, type-check, check format and lint (Biome, biome.jsonc), then
# every test, including the end-to-end tests against the native stack.
set -eu
cd "$(dirname "$0")/.."
sh native/build-tools.sh
sh native/with-node.sh tsc -p tsconfig.json
sh native/with-node.sh biome ci --reporter=summary --colors=off .
# One test file at a time: the end-to-end test owns the stack's fixed ports while it runs.
exec sh native/with-node.sh node --test --test-concurrency=1 "test/**/*.test.ts"
