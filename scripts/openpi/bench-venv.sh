#!/usr/bin/env bash
# The side environment of the openpi serving bench: openpi's own server (openpi-server 0.1.0) and
# client (openpi-client 0.1.2, numpy < 2) plus torch and the few packages pixelvla needs to load a
# bundle and run pixelvla.policy.Policy, at the .venv's versions. pixelvla itself is not installed:
# the bench puts packages/model on PYTHONPATH. Built once into var/openpi-bench-venv from the
# hash-locked scripts/openpi/bench-requirements.lock (a no-op after: the stamp holds the lock's hash).
# pixelvla_server.bench_openpi calls this; nothing in `npm test` needs it.
#
#   bash scripts/openpi/bench-venv.sh             # build if needed, print the venv's python
#
# Re-lock after changing bench-requirements.in:
#   bash scripts/side-venv.sh lock scripts/openpi/bench-requirements.in scripts/openpi/bench-requirements.lock 3.11
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
exec bash "$ROOT/scripts/side-venv.sh" install openpi-bench "${OPENPI_BENCH_VENV:-$ROOT/var/openpi-bench-venv}" \
  "$ROOT/scripts/openpi/bench-requirements.lock" 3.11 "${OPENPI_PYTHON:-}"
