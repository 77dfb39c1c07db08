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
#   bash scripts/side-venv.sh lock scripts/lerobot/requirements.in scripts/lerobot/requirements.lock 3.12
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=${LEROBOT_VENV:-$ROOT/var/lerobot-venv}
LOCK=$ROOT/scripts/lerobot/requirements.lock
what=${1:-all}

venv() {
  bash "$ROOT/scripts/side-venv.sh" install lerobot "$VENV" "$LOCK" 3.12 "${LEROBOT_PYTHON:-}" >/dev/null
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
