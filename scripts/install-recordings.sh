#!/usr/bin/env bash
# Installs the Debian packages whose test data holds the recorded voices of the spotlight benchmark
# (bench/spotlight/recorded.py), only if some are missing. The benchmark skips those parts without them.
set -euo pipefail
declare -A need=(
  [/usr/share/codec2/wav/hts1a.wav]=codec2-examples
  [/usr/share/pocketsphinx/test/data/numbers.raw]=pocketsphinx-testdata
  [/usr/share/sounds/alsa/Front_Center.wav]=alsa-utils
)
missing=()
for file in "${!need[@]}"; do
  [ -e "$file" ] || missing+=("${need[$file]}")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "install-recordings: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-recordings: need root or sudo to install ${missing[*]}" >&2; exit 1; }
  SUDO="sudo"
fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
