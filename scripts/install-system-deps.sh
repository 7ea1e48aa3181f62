#!/usr/bin/env bash
# Installs the Debian packages the test suite and `make dev` use, only those that are missing.
# With --recordings: instead, the packages whose test data holds the recorded voices of the
# spotlight benchmark (bench/spotlight/recorded.py; the benchmark skips those parts without them).
set -euo pipefail
missing=()
if [ "${1:-}" = "--recordings" ]; then
  declare -A need=(
    [/usr/share/codec2/wav/hts1a.wav]=codec2-examples
    [/usr/share/pocketsphinx/test/data/numbers.raw]=pocketsphinx-testdata
    [/usr/share/sounds/alsa/Front_Center.wav]=alsa-utils
  )
  for file in "${!need[@]}"; do
    [ -e "$file" ] || missing+=("${need[$file]}")
  done
else
  declare -A need=(
    [chromium]=chromium
    [chromedriver]=chromium-driver
    [espeak-ng]=espeak-ng
    [sox]=sox
    [redis-server]=redis-server
    [java]=default-jre-headless
    [mvn]=maven
    [shellcheck]=shellcheck
    [nginx]=nginx
  )
  for bin in "${!need[@]}"; do
    # nginx lives in /usr/sbin, which is not on a normal user's PATH.
    command -v "$bin" >/dev/null 2>&1 || [ -x "/usr/sbin/$bin" ] || missing+=("${need[$bin]}")
  done
  # An emoji font for headless Chromium, so the reaction bar in the e2e screenshots (docs/screenshots)
  # shows emoji rather than empty boxes; a viewer's own system has one.
  [ -e /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf ] || missing+=(fonts-noto-color-emoji)
  # The composer's font for names and titles in the broadcast (composer/render.py FONT_FILES).
  [ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || missing+=(fonts-dejavu-core)
fi
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "install-system-deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-system-deps: need root or sudo to install ${missing[*]}" >&2; exit 1; }
  SUDO="sudo"
fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
