#!/usr/bin/env bash
# Installs what is missing, then runs the GPU server (127.0.0.1:8000) and the studio (127.0.0.1:5173)
# on the embedded defaults, and prints their URLs once both answer (scripts/wait-server.sh polls
# /healthz; if the server exits or never answers, it says so and stops both). Ctrl+C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
# The server, its robot sessions and the studio share a few cores; PyTorch's OpenMP threads
# spin-wait badly when oversubscribed (tiny-model predict: 50 ms on 1 thread, 817 ms on 2 threads
# with one other busy process, `python -m pixelvla.bench`), so one intra-op thread by default.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
export PATH="$PWD/.venv/bin:$PATH" PYTHONUNBUFFERED=1 MUJOCO_GL=${MUJOCO_GL:-osmesa} PYOPENGL_PLATFORM=${PYOPENGL_PLATFORM:-osmesa}
SERVER_PORT=${PIXELVLA_PORT:-8000}
STUDIO_PORT=${PIXELVLA_STUDIO_PORT:-5173}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in "$SERVER_PORT" "$STUDIO_PORT"; do
  if port_busy "$p"; then
    echo "[start] error: port $p on 127.0.0.1 is already in use (is PixelVLA Studio already running?)." >&2
    echo "[start] stop that process, or choose other ports: PIXELVLA_PORT=8001 PIXELVLA_STUDIO_PORT=5174 npm start" >&2
    exit 1
  fi
done

npm run gen --silent
DATA_DIR=${PIXELVLA_DATA_DIR:-var}
if [ ! -f "$DATA_DIR/datasets/sim-sample/meta/info.json" ]; then
  echo "[start] generating a small simulated dataset (sim-sample, 8 episodes) for the studio to show" >&2
  pixelvla-sim gen --episodes 8 --seed 0 --out "$DATA_DIR/datasets/sim-sample" || echo "[start] warning: sample dataset generation failed; the studio will have no dataset" >&2
fi
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

python -m pixelvla_server --port "$SERVER_PORT" --studio-origin "http://127.0.0.1:$STUDIO_PORT" \
  --studio-origin "http://localhost:$STUDIO_PORT" "$@" &
pids+=($!)
PIXELVLA_SERVER_URL="http://127.0.0.1:$SERVER_PORT" npx --workspace apps/web vite --port "$STUDIO_PORT" --strictPort --clearScreen false &
pids+=($!)

# The URLs are printed only once both answer (the first start imports PyTorch: it can take a minute).
WAIT_S=${PIXELVLA_START_TIMEOUT:-600}
bash scripts/wait-server.sh "GPU server" "http://127.0.0.1:$SERVER_PORT/healthz" "${pids[0]}" "$WAIT_S" || exit 1
bash scripts/wait-server.sh "studio" "http://127.0.0.1:$STUDIO_PORT/" "${pids[1]}" "$WAIT_S" || exit 1
echo
echo "  PixelVLA Studio:  http://127.0.0.1:$STUDIO_PORT"
echo "  GPU server:       http://127.0.0.1:$SERVER_PORT  (API docs at /docs and /redoc)"
echo
wait -n "${pids[@]}"
