#!/usr/bin/env bash
# Installs what the carved UI test needs: Debian's chromium and the npm
# package playwright-core (pinned by package-lock.json, into
# tests/server/ui/node_modules).  Idempotent; the test skips (exit 77)
# when either is missing.
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
  $SUDO apt-get install -y --no-install-recommends chromium
fi
if [ ! -d node_modules/playwright-core ]; then
  npm ci --no-audit --no-fund
fi
node -e "require('./node_modules/playwright-core'); console.log('playwright-core ok')"
