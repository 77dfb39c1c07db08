#!/usr/bin/env bash
# Installs whatever is missing, idempotently: Debian packages (Chromium for e2e, MuJoCo's
# software-rendering libraries), Node packages from package-lock.json, and the Python workspace
# from uv.lock into .venv. Every step is a no-op when its result is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
UV_VERSION=0.13.8
PY_MIN=3.11
APT_PACKAGES=(chromium libosmesa6 libgl1 libegl1 libegl-mesa0 libglfw3)

say() { printf '[bootstrap] %s\n' "$*" >&2; }
die() { printf '[bootstrap] error: %s\n' "$*" >&2; exit 1; }

# --- Python interpreter -------------------------------------------------------------------------
PYTHON=${PIXELVLA_PYTHON:-$(command -v python3 || true)}
[ -n "$PYTHON" ] && [ -x "$(command -v "$PYTHON" || true)" ] || die "python3 not found. Install Python >= $PY_MIN (Debian: apt-get install python3 python3-venv) or set PIXELVLA_PYTHON=/path/to/python3."
"$PYTHON" -c "import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)" \
  || die "$PYTHON is $("$PYTHON" -V 2>&1); PixelVLA Studio needs Python >= $PY_MIN. Install it or set PIXELVLA_PYTHON."

# --- Debian packages ------------------------------------------------------------------------------
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    say "warning: missing Debian packages: ${missing[*]} (run: sudo apt-get install ${missing[*]}); e2e tests or sim rendering may fail"
  fi
fi

# --- Node packages --------------------------------------------------------------------------------
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing Node packages from package-lock.json"
  ONNXRUNTIME_NODE_INSTALL_CUDA=skip npm ci --no-audit --no-fund --loglevel=error
fi

# --- uv and the Python workspace ------------------------------------------------------------------
UV="$ROOT/.tools/uv/bin/uv"
if [ ! -x "$UV" ] || [ "$("$UV" --version 2>/dev/null | cut -d' ' -f2)" != "$UV_VERSION" ]; then
  say "installing uv $UV_VERSION into .tools/uv"
  rm -rf .tools/uv
  "$PYTHON" -m pip install --quiet --disable-pip-version-check --target .tools/uv "uv==$UV_VERSION" \
    || die "could not install uv with $PYTHON -m pip; is pip available (apt-get install python3-pip)?"
fi
export UV_PROJECT_ENVIRONMENT="$ROOT/.venv"
if [ ! -f .venv/.synced ] || [ uv.lock -nt .venv/.synced ] || [ ! -x .venv/bin/python ]; then
  say "syncing the Python environment from uv.lock into .venv (PyTorch is large; the first run downloads ~3 GB)"
fi
"$UV" sync --frozen --python "$PYTHON" --quiet || die "uv sync failed; see the messages above"
touch .venv/.synced
