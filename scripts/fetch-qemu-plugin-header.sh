#!/usr/bin/env bash
# Install qemu-plugin.h (QEMU's TCG plugin API header) for the QEMU installed here.
# Debian ships the header in no binary package, so it comes from Debian's qemu source
# package of the same version: a deb-src entry is added, the source fetched, and only
# include/qemu/qemu-plugin.h is taken from it, to /usr/local/include where a QEMU
# install from source would put it. protobrain builds its instruction counter with it.
set -euo pipefail

DEST=${QEMU_PLUGIN_H_DEST:-/usr/local/include/qemu-plugin.h}
[ -f "$DEST" ] && exit 0

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "setup: not root; cannot install $DEST (or set PROTOBRAIN_QEMU_PLUGIN_H to your QEMU's qemu-plugin.h)" >&2
    exit 1
  fi
fi

version=$(dpkg-query -W -f='${source:Version}' qemu-system-arm)
LIST=/etc/apt/sources.list.d/protobrain-src.sources
if ! grep -rqsE "^(Types:.*deb-src|deb-src )" /etc/apt/sources.list /etc/apt/sources.list.d/; then
  echo "setup: adding deb-src entries ($LIST) to fetch the qemu $version source"
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] && sed -n 's/^Types: deb$/Types: deb-src/; p' "$f"
    echo
  done | $SUDO tee "$LIST" >/dev/null
fi
$SUDO apt-get update -qq

work=$(mktemp -d)
chmod 777 "$work"  # apt fetches as the _apt user
trap 'rm -rf "$work"' EXIT
echo "setup: fetching qemu $version source for qemu-plugin.h"
(cd "$work" && apt-get source --download-only -qq "qemu=$version" >/dev/null)
tarball=$(ls "$work"/qemu_*.orig.tar.* | head -n 1)
tar -xf "$tarball" -C "$work" --wildcards '*/include/qemu/qemu-plugin.h'
$SUDO install -D -m 644 "$(find "$work" -path '*/include/qemu/qemu-plugin.h' | head -n 1)" "$DEST"
echo "setup: installed $DEST"
