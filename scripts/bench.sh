#!/usr/bin/env bash
# Runs every benchmark the project has and writes one JSON document to var/bench/results.json
# (also printed on stdout). Each room contributes a `bench` entry point that prints JSON.
# pixelvla_server.bench_openpi builds its side venv (scripts/openpi/bench-venv.sh) on first use.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
export PATH="$PWD/.venv/bin:$PATH" PYTHONUNBUFFERED=1 MUJOCO_GL=${MUJOCO_GL:-osmesa} PYOPENGL_PLATFORM=${PYOPENGL_PLATFORM:-osmesa}
mkdir -p var/bench
parts=()
for mod in pixelvla.bench pixelvla_sim.bench pixelvla_server.bench pixelvla_server.bench_openpi pixelvla_server.datasets.bench; do
  if python -c "import importlib.util,sys; sys.exit(0 if importlib.util.find_spec('$mod') else 1)" 2>/dev/null; then
    echo "[bench] $mod" >&2
    python -m "$mod" >"var/bench/$mod.json"
    parts+=("var/bench/$mod.json")
  fi
done
for ws in packages/model apps/web; do
  if node -e "process.exit(require('./$ws/package.json').scripts?.bench ? 0 : 1)"; then
    echo "[bench] $ws" >&2
    npm run bench --silent -w "$ws" >"var/bench/$(basename $ws).json"
    parts+=("var/bench/$(basename $ws).json")
  fi
done
python - "${parts[@]}" <<'PY' | tee var/bench/results.json
import json, os, platform, sys, time
out = {"machine": {"cpus": os.cpu_count(), "platform": platform.platform()}, "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "results": {}}
for path in sys.argv[1:]:
    out["results"][os.path.basename(path)[:-5]] = json.load(open(path))
print(json.dumps(out, indent=2))
PY
