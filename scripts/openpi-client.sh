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
#   bash scripts/side-venv.sh lock scripts/openpi/requirements.in scripts/openpi/requirements.lock 3.11
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=${OPENPI_VENV:-$ROOT/var/openpi-venv}
LOCK=$ROOT/scripts/openpi/requirements.lock
what=${1:-venv}

venv() {
  PY=$(bash "$ROOT/scripts/side-venv.sh" install openpi-client "$VENV" "$LOCK" 3.11 "${OPENPI_PYTHON:-}")
}

case "$what" in
  venv) venv; echo "$PY" ;;
  python) shift; venv; exec "$PY" "$@" ;;
  *) echo "usage: $0 [venv|python ARGS...]" >&2; exit 2 ;;
esac
