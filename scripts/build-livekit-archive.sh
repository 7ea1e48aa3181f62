#!/usr/bin/env bash
# The SFU nodes' livekit-server: the hardened build (scripts/build-livekit.sh) for linux/ARCH,
# packed as a release archive is named (livekit_<version>_linux_<arch>.tar.gz) under OUT_DIR/<version>/,
# with its SHA-256 printed. `cdk deploy -c livekit_archive=<that file>` ships it to the nodes
# (docs/infrastructure.md, "The SFU binary").
set -euo pipefail
ARCH="${1:?usage: build-livekit-archive.sh arm64|amd64 [OUT_DIR]}"
OUT_DIR="${2:-.tools/livekit}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export LIVEKIT_VERSION="${LIVEKIT_VERSION:-$(cd "$HERE/.." && python3 -c 'from contract.names import LIVEKIT_VERSION; print(LIVEKIT_VERSION)')}"
case "$ARCH" in arm64 | amd64) ;; *) echo "build-livekit-archive: ARCH must be arm64 or amd64" >&2; exit 1 ;; esac

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
GOOS=linux GOARCH="$ARCH" bash "$HERE/build-livekit.sh" "$work/livekit-server"
folder="$OUT_DIR/$LIVEKIT_VERSION"
archive="$folder/livekit_${LIVEKIT_VERSION#v}_linux_${ARCH}.tar.gz"
mkdir -p "$folder"
# Reproducible: fixed owner, mode and time, so the same build packs to the same SHA-256.
tar --owner=0 --group=0 --numeric-owner --mode=0755 --mtime='2000-01-01 00:00Z' \
  -C "$work" -cf - livekit-server | gzip -n >"$archive"
echo "$archive"
sha256sum "$archive" | cut -d' ' -f1
