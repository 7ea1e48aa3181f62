#!/usr/bin/env bash
# The control plane's unit tests on the Lambda's Python, with the Lambda's dependencies only.
#
# The Lambda runs CPython $LAMBDA_PYTHON (contract/names.py; infrastructure/constructs/
# control_plane.py deploys it, a CDK test checks the two agree). This builds a small venv with that
# interpreter, installs the runtime dependencies at the versions uv.lock pins (what the Lambda
# bundle installs) plus the test tools, and runs tests/unit/control_plane with it. The main venv
# (.venv) keeps the project's development Python.
#
# Where the interpreter comes from, first found wins:
#   1. one uv already knows (uv-managed, or `python3.13` on PATH);
#   2. pyenv's build ($PYENV_ROOT/versions/3.13.*; the project's machines carry one);
#   3. `uv python install`, where uv's Python downloads are reachable.
# None of these: the script fails and says so. Debian 12 and PyPI ship no CPython 3.13.
set -euo pipefail
cd "$(dirname "$0")/.."

UV=${UV:-$(command -v uv || echo "$HOME/.cache/spaces-tools/uv/bin/uv")}
VERSION=$(sed -n 's/^LAMBDA_PYTHON: Final = "\(.*\)"$/\1/p' contract/names.py)
[[ -n "$VERSION" ]] || { echo "test-lambda-python: LAMBDA_PYTHON not found in contract/names.py" >&2; exit 2; }
# The test tools, at the versions uv.lock pins for the main venv.
TEST_TOOLS=(pytest pytest-asyncio pytest-timeout httpx moto)
VENV=.tools/lambda-python/venv-$VERSION

find_python() {
  local found
  if found=$("$UV" python find --no-project "$VERSION" 2>/dev/null) && [[ -n "$found" ]]; then
    echo "$found"; return 0
  fi
  local root=${PYENV_ROOT:-$HOME/.pyenv}
  for found in "$root"/versions/"$VERSION".*/bin/python"$VERSION"; do
    if [[ -x "$found" ]]; then echo "$found"; return 0; fi
  done
  if "$UV" python install "$VERSION" >&2 && found=$("$UV" python find --no-project "$VERSION" 2>/dev/null); then
    echo "$found"; return 0
  fi
  return 1
}

if ! PYTHON=$(find_python); then
  cat >&2 <<EOF
test-lambda-python: no CPython $VERSION here, and uv could not download one.
The Lambda runs Python $VERSION, so its tests need that interpreter: install it with pyenv
(pyenv install $VERSION) or let uv fetch it (uv python install $VERSION), then run make test again.
EOF
  exit 1
fi
echo "test-lambda-python: $("$PYTHON" -VV | head -1) from $PYTHON"

lock_stamp=$(sha256sum uv.lock | cut -c1-16)
if [[ ! -f "$VENV/.installed-$lock_stamp" ]]; then
  rm -rf "$VENV"
  "$UV" venv --quiet --python "$PYTHON" "$VENV"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  # The Lambda bundle's list (infrastructure/constructs/lambda_bundle.py exports the same).
  "$UV" export --frozen --no-default-groups --no-emit-project --no-hashes --no-header --no-annotate \
    > "$tmp/runtime.txt"
  # Every pin of the lock, as constraints: the test tools come at the tested versions.
  "$UV" export --frozen --all-groups --no-emit-project --no-hashes --no-header --no-annotate \
    > "$tmp/constraints.txt"
  "$UV" pip install --quiet --python "$VENV/bin/python" -r "$tmp/runtime.txt" \
    -c "$tmp/constraints.txt" "${TEST_TOOLS[@]}"
  touch "$VENV/.installed-$lock_stamp"
fi

exec "$VENV/bin/python" -m pytest tests/unit/control_plane -q -p no:cacheprovider "$@"
