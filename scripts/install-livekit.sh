#!/usr/bin/env bash
# Builds the pinned livekit-server, hardened (scripts/build-livekit.sh), into a cache outside the
# clone, so that a fresh clone (CI) reuses it. Skips when that version and revision are there.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export LIVEKIT_VERSION="${LIVEKIT_VERSION:-$(cd "$HERE/.." && python3 -c 'from contract.names import LIVEKIT_VERSION; print(LIVEKIT_VERSION)')}"
REVISION="$(python3 "$HERE/livekit_hardening.py" --revision)"
CACHE="${SPACES_TOOLS_DIR:-$HOME/.cache/spaces-tools}"
DEST="$CACHE/livekit-server-$LIVEKIT_VERSION-$REVISION"
LINK_DIR="${1:-.tools/bin}"

mkdir -p "$CACHE" "$LINK_DIR"
if [ ! -x "$DEST/livekit-server" ]; then
  echo "install-livekit: building livekit-server $LIVEKIT_VERSION ($REVISION) (first time only, takes minutes)..."
  bash "$HERE/build-livekit.sh" "$DEST/livekit-server"
  echo "install-livekit: built $DEST/livekit-server"
fi
ln -sf "$DEST/livekit-server" "$LINK_DIR/livekit-server"
"$LINK_DIR/livekit-server" --version
