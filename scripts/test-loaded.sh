#!/usr/bin/env bash
# `npm run test:loaded`: the whole suite (scripts/test.sh) next to a bounded CPU load, to prove that
# no test depends on a quiet box. The load is two busy processes (one per core of the 2-core dev box;
# PIXELVLA_LOAD_PROCS changes it), at normal priority like a user's other work, each ended after at
# most PIXELVLA_LOAD_MAX_S seconds (default 2 h) even if this script is killed. The dead-man soak test
# runs for 5 minutes here (PIXELVLA_DEADMAN_SOAK_S=300) instead of its short default.
# Prints the wall time at the end; the exit code is the suite's.
set -uo pipefail
cd "$(dirname "$0")/.."
procs=${PIXELVLA_LOAD_PROCS:-2}
max_s=${PIXELVLA_LOAD_MAX_S:-7200}
python=$(command -v python3)
pids=()
stop_load() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  wait "${pids[@]}" 2>/dev/null
}
trap stop_load EXIT
for _ in $(seq "$procs"); do
  timeout "$max_s" "$python" -c 'while True: pass' &
  pids+=($!)
done
printf '[test:loaded] %s busy processes started (pids %s), at most %s s each\n' "$procs" "${pids[*]}" "$max_s" >&2
start=$(date +%s)
PIXELVLA_DEADMAN_SOAK_S=${PIXELVLA_DEADMAN_SOAK_S:-300} bash scripts/test.sh
rc=$?
end=$(date +%s)
printf '\n[test:loaded] suite exit %s, wall time %d min %02d s under %s busy processes\n' \
  "$rc" $(((end - start) / 60)) $(((end - start) % 60)) "$procs" >&2
exit "$rc"
