#!/usr/bin/env bash
# Every check the project has, in one run. Each step runs even when an earlier one failed, so a
# single run shows everything that is wrong; the exit code is non-zero if any step failed.
# The output ends with the runners' own summary lines (vitest, pytest, Playwright).
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh || exit 1
# Tests run several processes at once (pytest, servers, Chromium) on few cores; PyTorch's OpenMP
# threads spin-wait badly when oversubscribed (measured: a tiny-model predict took 3.5 s with 2
# threads on a loaded 2-core box, 0.27 s with 1), so each process gets one thread unless told otherwise.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
export PATH="$PWD/.venv/bin:$PATH" PYTHONUNBUFFERED=1 MUJOCO_GL=${MUJOCO_GL:-osmesa} PYOPENGL_PLATFORM=${PYOPENGL_PLATFORM:-osmesa}

failed=()
step() {
  local name=$1
  shift
  printf '\n=== %s\n' "$name"
  if ! "$@"; then failed+=("$name"); fi
}

step "generate API types" npm run gen --silent
step "typescript typecheck" npx tsc -b
step "eslint" npx eslint . --max-warnings 0
step "prettier" npx prettier --check --log-level warn .
step "ruff lint" ruff check .
step "ruff format" ruff format --check --quiet .
step "mypy" mypy packages/model/pixelvla packages/sim/pixelvla_sim apps/gpu-server/pixelvla_server packages/libero/pixelvla_libero packages/robot-client/pixelvla_robot
step "studio build" npm run build --silent -w apps/web
step "vitest" npx vitest run
step "pytest" pytest -q
step "playwright" npm test --silent -w e2e

if [ ${#failed[@]} -gt 0 ]; then
  printf '\nFAILED steps: %s\n' "${failed[*]}" >&2
  exit 1
fi
