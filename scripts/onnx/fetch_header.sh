#!/bin/sh
# fetch_header.sh — puts onnxruntime_c_api.h into third_party/onnxruntime/include/.
# Uses the system's ONNX Runtime (pkg-config libonnxruntime) when present;
# otherwise downloads Debian 13 (trixie)'s libonnxruntime-dev .deb with
# `apt-get download` through a PRIVATE apt state folder: the system's sources
# are never read or changed and nothing is installed.  Idempotent.
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DEST="$ROOT/third_party/onnxruntime"
INC="$DEST/include"
. "$ROOT/scripts/onnx/pins.sh"

mkdir -p "$INC"
# the header of a previous run, unchanged since (its hash is recorded below)
if [ -f "$INC/onnxruntime_c_api.h" ] && sha256sum -c --status "$DEST/header.sha256" 2>/dev/null; then
    echo "onnx header: already present ($INC/onnxruntime_c_api.h)"; exit 0
fi
if pkg-config --exists libonnxruntime 2>/dev/null; then
    echo "onnx header: the system has libonnxruntime $(pkg-config --modversion libonnxruntime); meson uses it directly"
    exit 0
fi
APT="$DEST/apt"
mkdir -p "$APT/lists/partial" "$APT/cache/archives/partial" "$APT/etc/preferences.d" "$APT/etc/apt.conf.d" "$APT/debs"
: > "$APT/status"
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
[ -f /usr/share/keyrings/debian-archive-trixie-stable.gpg ] && KEYRING=/usr/share/keyrings/debian-archive-trixie-stable.gpg
echo "deb [signed-by=$KEYRING] http://deb.debian.org/debian trixie main" > "$APT/etc/sources.list"
OPTS="-o Dir::State=$APT -o Dir::State::Lists=$APT/lists -o Dir::State::status=$APT/status \
 -o Dir::Etc::SourceList=$APT/etc/sources.list -o Dir::Etc::SourceParts=$APT/etc/sources.list.d \
 -o Dir::Etc::Preferences=$APT/etc/preferences -o Dir::Etc::PreferencesParts=$APT/etc/preferences.d \
 -o Dir::Cache=$APT/cache -o Dir::Cache::archives=$APT/cache/archives -o Debug::NoLocking=1 \
 -o APT::Architecture=amd64"
mkdir -p "$APT/etc/sources.list.d"
# shellcheck disable=SC2086
apt-get $OPTS update -qq
cd "$APT/debs"
# shellcheck disable=SC2086
apt-get $OPTS download "libonnxruntime-dev=$ORT_HEADER_DEB_VERSION"
DEB=$(ls libonnxruntime-dev_*.deb | head -n1)
echo "$ORT_HEADER_DEB_SHA256  $DEB" | sha256sum -c -
rm -rf x && mkdir x && dpkg-deb -x "$DEB" x
H=$(find x -name onnxruntime_c_api.h | head -n1)
[ -n "$H" ] || { echo "onnx header: onnxruntime_c_api.h not in $DEB" >&2; exit 1; }
cp "$H" "$INC/onnxruntime_c_api.h"
rm -rf x
(cd "$INC" && sha256sum onnxruntime_c_api.h > "$DEST/header.sha256.tmp") && sed "s#  #  $INC/#" "$DEST/header.sha256.tmp" > "$DEST/header.sha256" && rm "$DEST/header.sha256.tmp"
echo "onnx header: $INC/onnxruntime_c_api.h (from $DEB)"
