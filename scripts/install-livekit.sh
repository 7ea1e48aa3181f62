#!/usr/bin/env bash
# Builds the pinned livekit-server from the Go module proxy into a cache outside the clone,
# so that a fresh clone (CI) reuses it. Skips when the pinned version is already there.
set -euo pipefail
VERSION="${LIVEKIT_VERSION:-v1.13.5}"
CACHE="${SPACES_TOOLS_DIR:-$HOME/.cache/spaces-tools}"
DEST="$CACHE/livekit-server-$VERSION"
LINK_DIR="${1:-.tools/bin}"

mkdir -p "$CACHE" "$LINK_DIR"
if [ ! -x "$DEST/livekit-server" ]; then
  command -v go >/dev/null || { echo "install-livekit: Go is required to build livekit-server" >&2; exit 1; }
  echo "install-livekit: building livekit-server $VERSION with 'go install' (first time only, takes minutes)..."
  tmp="$(mktemp -d)"
  GOBIN="$tmp" GOFLAGS=-mod=mod go install "github.com/livekit/livekit-server/cmd/server@$VERSION"
  mkdir -p "$DEST"
  mv "$tmp/server" "$DEST/livekit-server"
  rm -rf "$tmp"
  echo "install-livekit: built $DEST/livekit-server"
fi
ln -sf "$DEST/livekit-server" "$LINK_DIR/livekit-server"
"$LINK_DIR/livekit-server" --version
