#!/bin/sh
# Installs the TF.js reference for the NanoDet conversion test
# (tests/nn/convert.sh): @tensorflow/tfjs-core, -converter and -backend-cpu,
# pinned with their dependencies (versions and sha512) by package-lock.json,
# into tests/nn/tfjs/node_modules (git-ignored).  No install scripts run.
# Idempotent; the test skips (exit 77) when they are missing.
set -eu
cd "$(dirname "$0")"
if ! command -v npm >/dev/null 2>&1; then
  echo "tfjs setup: npm is not installed (bash scripts/setup.sh --test)" >&2
  exit 1
fi
stamp=node_modules/.carve-lock
if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
  npm ci --ignore-scripts --no-audit --no-fund --silent
  cp package-lock.json "$stamp"
fi
echo "tfjs setup: ok (tests/nn/tfjs/node_modules)"
