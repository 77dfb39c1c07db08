#!/usr/bin/env bash
# Makes the LeRobot compatibility fixtures with real lerobot, and checks the other direction
# (lerobot opens and edits what pixelvla.data writes).
#
# lerobot 0.6.1 needs Python >= 3.12 and torch < 2.12, so it cannot share the project's .venv
# (Python 3.11, torch 2.15): it runs in its own side environment, var/lerobot-venv, installed
# from the hash-locked scripts/lerobot/requirements.lock. Nothing in `npm test` needs it: the
# fixtures it writes are committed under packages/model/testdata/lerobot/.
#
#   bash scripts/lerobot-fixtures.sh venv     # only build the side environment
#   bash scripts/lerobot-fixtures.sh make     # (re)write the fixtures + expected.json
#   bash scripts/lerobot-fixtures.sh check    # lerobot reads/edits datasets our writer wrote
#   bash scripts/lerobot-fixtures.sh          # all three
#
# Re-lock after changing requirements.in:
#   .tools/uv/bin/uv pip compile --python-version 3.12 --python-platform x86_64-manylinux_2_28 \
#     --generate-hashes scripts/lerobot/requirements.in -o scripts/lerobot/requirements.lock
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY312=${LEROBOT_PYTHON:-$HOME/.pyenv/versions/3.12.1/bin/python}
VENV=${LEROBOT_VENV:-$ROOT/var/lerobot-venv}
UV=$ROOT/.tools/uv/bin/uv
LOCK=$ROOT/scripts/lerobot/requirements.lock
what=${1:-all}

venv() {
  # The stamp holds the lock's hash, so a changed lock reinstalls and an unchanged one is a no-op.
  local want; want=$(sha256sum "$LOCK" | cut -d' ' -f1)
  if [[ -f "$VENV/.lock-sha256" && "$(cat "$VENV/.lock-sha256")" == "$want" ]]; then return; fi
  [[ -x "$PY312" ]] || { echo "lerobot-fixtures: need Python 3.12 at $PY312 (set LEROBOT_PYTHON)" >&2; exit 2; }
  rm -rf "$VENV"
  "$UV" venv --python "$PY312" "$VENV"
  VIRTUAL_ENV="$VENV" "$UV" pip install --require-hashes --no-deps -r "$LOCK"
  echo "$want" >"$VENV/.lock-sha256"
}

run_py() {
  # The side environment imports our writer/reader from source (pure Python + numpy/pyarrow/av,
  # all of which the lock brings), never the project's .venv.
  # HF_LEROBOT_HOME: lerobot's default output folder, kept inside var/ instead of ~/.cache.
  PYTHONPATH="$ROOT/packages/model${PYTHONPATH:+:$PYTHONPATH}" HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 \
    HF_LEROBOT_HOME="$ROOT/var/lerobot-home" \
    OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} "$VENV/bin/python" "$@"
}

case "$what" in
  venv) venv ;;
  make) venv; run_py scripts/lerobot/make_fixtures.py --out packages/model/testdata/lerobot ;;
  check) venv; run_py scripts/lerobot/check_writer.py ;;
  all)
    venv
    run_py scripts/lerobot/make_fixtures.py --out packages/model/testdata/lerobot
    run_py scripts/lerobot/check_writer.py
    ;;
  *) echo "usage: $0 [venv|make|check|all]" >&2; exit 2 ;;
esac
