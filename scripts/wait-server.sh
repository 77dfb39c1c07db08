#!/usr/bin/env bash
# wait-server.sh NAME URL PID [TIMEOUT_S]: polls URL until it answers 2xx, printing what it waits
# for. Exits 0 once it answers; 1 with a message when process PID (the server) exits first, or
# when TIMEOUT_S seconds (default 600: the first start imports PyTorch and warms the model up)
# pass without an answer. Used by scripts/start.sh so the URLs are printed only once they work.
set -uo pipefail
name=$1 url=$2 pid=$3 limit=${4:-600}
start=$SECONDS
next_note=0
while :; do
  if curl -fsS -o /dev/null --max-time 5 "$url" 2>/dev/null; then
    echo "[start] $name answers at $url ($((SECONDS - start)) s)" >&2
    exit 0
  fi
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "[start] error: the $name exited before it answered $url (its messages are above)." >&2
    exit 1
  fi
  waited=$((SECONDS - start))
  if [ "$waited" -ge "$limit" ]; then
    echo "[start] error: the $name did not answer $url within $limit s; it is still running (pid $pid)." >&2
    echo "[start] its messages are above; PIXELVLA_START_TIMEOUT=<seconds> waits longer." >&2
    exit 1
  fi
  if [ "$waited" -ge "$next_note" ]; then
    echo "[start] waiting for the $name at $url (${waited} s so far)..." >&2
    next_note=$((waited + 10))
  fi
  # The poll interval, not a wait for readiness: readiness is the answer above.
  sleep 0.5
done
