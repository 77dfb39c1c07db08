#!/usr/bin/env bash
# The real openpi client (openpi-client on PyPI, unmodified) in its own side environment, for
# driving a PixelVLA GPU server the way an openpi robot runtime does.
#
# openpi-client pins numpy < 2, so it cannot share the project's .venv: it lives in
# var/openpi-venv (Python 3.11), installed from the hash-locked scripts/openpi/requirements.lock.
# apps/gpu-server/tests/test_openpi_client.py builds it through this script when it is missing
# (a no-op once built: the stamp holds the lock's hash).
#
#   bash scripts/openpi-client.sh venv           # only build the side environment
#   bash scripts/openpi-client.sh python ARGS... # run its python (e.g. a script using openpi_client)
#
# Re-lock after changing requirements.in:
#   .tools/uv/bin/uv pip compile --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
#     --generate-hashes scripts/openpi/requirements.in -o scripts/openpi/requirements.lock
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY311=${OPENPI_PYTHON:-$HOME/.pyenv/versions/3.11.7/bin/python}
VENV=${OPENPI_VENV:-$ROOT/var/openpi-venv}
UV=$ROOT/.tools/uv/bin/uv
LOCK=$ROOT/scripts/openpi/requirements.lock
what=${1:-venv}

venv() {
  local want; want=$(sha256sum "$LOCK" | cut -d' ' -f1)
  if [[ -f "$VENV/.lock-sha256" && "$(cat "$VENV/.lock-sha256")" == "$want" ]]; then return; fi
  [[ -x "$PY311" ]] || PY311=$(command -v python3.11 || true)
  [[ -n "$PY311" && -x "$PY311" ]] || { echo "openpi-client: need Python 3.11 (set OPENPI_PYTHON)" >&2; exit 2; }
  rm -rf "$VENV"
  "$UV" venv --python "$PY311" "$VENV" >&2
  VIRTUAL_ENV="$VENV" "$UV" pip install --require-hashes --no-deps -r "$LOCK" >&2
  echo "$want" >"$VENV/.lock-sha256"
}

case "$what" in
  venv) venv ;;
  python) shift; venv; exec "$VENV/bin/python" "$@" ;;
  *) echo "usage: $0 [venv|python ARGS...]" >&2; exit 2 ;;
esac
