#!/usr/bin/env bash
# One installer for the project's side environments: a Python whose packages pin versions that the
# project's .venv must not be bent to (LIBERO: mujoco 2.3.7 + numpy 1.26; lerobot 0.6.1: Python >= 3.12
# and torch < 2.12; openpi-client: numpy < 2). Each lives under var/, installed from its hash-locked
# requirements file on first use and reused after: a stamp in the venv holds the lock's sha256, so an
# unchanged lock is a no-op and a changed one reinstalls. Concurrent callers (pytest workers, a CLI
# run) serialise on VENV.install-lock. The callers are packages/libero/scripts/venv.sh,
# scripts/lerobot-fixtures.sh and scripts/openpi-client.sh.
#
#   bash scripts/side-venv.sh install NAME VENV LOCK X.Y [PYTHON]   # prints VENV/bin/python
#   bash scripts/side-venv.sh lock IN LOCK X.Y                      # re-lock after editing IN
#
# PYTHON: the interpreter to build from (default: pyenv's X.Y.*, else pythonX.Y, else python3 if it is X.Y).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
UV=${UV:-$ROOT/.tools/uv/bin/uv}
[[ -x "$UV" ]] || UV=$(command -v uv || true)
[[ -n "$UV" ]] || { echo "side-venv: uv not found (run scripts/bootstrap.sh first)" >&2; exit 2; }

pick_python() { # NAME X.Y [PYTHON]
  local name=$1 want=$2 given=${3:-} c
  if [[ -n "$given" ]]; then
    [[ -x "$given" ]] || { echo "$name: $given is not an executable Python" >&2; return 2; }
    echo "$given"
    return
  fi
  for c in "$HOME"/.pyenv/versions/"$want".*/bin/python "$(command -v "python$want" || true)" \
    "$(command -v python3 || true)"; do
    [[ -n "$c" && -x "$c" ]] || continue
    if "$c" -c "import sys; sys.exit(0 if '%d.%d' % sys.version_info[:2] == '$want' else 1)" 2>/dev/null; then
      echo "$c"
      return
    fi
  done
  echo "$name: need Python $want (none found under ~/.pyenv/versions or on PATH)" >&2
  return 2
}

case "${1:-}" in
  install)
    [[ $# -ge 5 ]] || { echo "usage: $0 install NAME VENV LOCK X.Y [PYTHON]" >&2; exit 2; }
    name=$2 venv=$3 lock=$4 want_py=$5 given=${6:-}
    want=$(sha256sum "$lock" | cut -d' ' -f1)
    mkdir -p "$(dirname "$venv")"
    exec 9>"$venv.install-lock"
    flock 9
    if [[ ! -f "$venv/.lock-sha256" || "$(cat "$venv/.lock-sha256")" != "$want" ]]; then
      py=$(pick_python "$name" "$want_py" "$given")
      echo "$name: installing $lock into $venv (first use only)" >&2
      rm -rf "$venv"
      "$UV" venv --quiet --python "$py" "$venv" >&2
      VIRTUAL_ENV="$venv" "$UV" pip install --quiet --require-hashes --no-deps -r "$lock" >&2
      echo "$want" >"$venv/.lock-sha256"
    fi
    echo "$venv/bin/python"
    ;;
  lock)
    [[ $# -eq 4 ]] || { echo "usage: $0 lock IN LOCK X.Y" >&2; exit 2; }
    "$UV" pip compile --python-version "$4" --python-platform x86_64-manylinux_2_28 --generate-hashes "$2" -o "$3"
    ;;
  *) echo "usage: $0 install NAME VENV LOCK X.Y [PYTHON] | lock IN LOCK X.Y" >&2; exit 2 ;;
esac
