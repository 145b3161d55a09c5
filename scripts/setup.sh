#!/usr/bin/env bash
# Installs what carve needs to build, test and run, from Debian's packages
# (idempotent: only missing packages are installed).  Run as root or with sudo.
#   bash scripts/setup.sh            build + run dependencies
#   bash scripts/setup.sh --test     also what the test suite needs
set -euo pipefail
sudo=""
[ "$(id -u)" -eq 0 ] || sudo=sudo

pkgs=(gcc pkg-config meson ninja-build libvips-dev libpng-dev libjansson-dev libsqlite3-dev libmicrohttpd-dev
      librsvg2-dev librsvg2-bin)
# carved's PostgreSQL store (several nodes) and webhooks (libcurl)
pkgs+=(libpq-dev libcurl4-openssl-dev)
# python3 + npm: the default models' installer (scripts/onnx/setup.sh: ONNX
# Runtime and model downloads, the NanoDet conversion)
command -v python3 >/dev/null 2>&1 || pkgs+=(python3)
command -v node >/dev/null 2>&1 || pkgs+=(nodejs)
command -v npm >/dev/null 2>&1 || pkgs+=(npm)
if [ "${1:-}" = "--test" ]; then
  # python3: HTTP tests of carved; chromium: the web UI test (driven by npm
  # playwright-core); node: the TF.js reference of the conversion test
  pkgs+=(python3 curl chromium)
  # postgresql: carved's multi-node tests start their own server (initdb in a temp dir)
  pkgs+=(postgresql)
  # vector exports: PDF rendered by poppler, EPS by Ghostscript, DXF read back by ezdxf
  pkgs+=(poppler-utils ghostscript python3-ezdxf)
  # clang + its runtime libraries: libFuzzer targets (scripts/fuzz.sh)
  pkgs+=(clang libclang-rt-dev)
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: apt-get install ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "setup: Debian packages ok"
