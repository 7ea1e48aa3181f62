#!/usr/bin/env bash
# Builds the pinned livekit-server with this stack's hardening edits (scripts/livekit_hardening.py)
# into OUT. GOOS and GOARCH pass through, so the same script builds a node's linux/arm64 binary.
# The module's own go.mod and go.sum: the same dependencies as `go install ...@VERSION`.
set -euo pipefail
OUT="${1:?usage: build-livekit.sh OUT_BINARY}"
VERSION="${LIVEKIT_VERSION:?}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
command -v go >/dev/null || { echo "build-livekit: Go is required to build livekit-server" >&2; exit 1; }

module="$(GOFLAGS=-mod=mod go mod download -json "github.com/livekit/livekit-server@${VERSION}" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["Dir"])')"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp -r "$module" "$work/src"
chmod -R u+w "$work/src"
python3 "$HERE/livekit_hardening.py" "$work/src"
mkdir -p "$(dirname "$OUT")"
(cd "$work/src" && CGO_ENABLED=0 go build -trimpath -o "$work/livekit-server" ./cmd/server)
mv "$work/livekit-server" "$OUT"
