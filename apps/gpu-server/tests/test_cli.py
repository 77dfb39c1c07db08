"""`python -m pixelvla_server` fails fast, with a message that says what to do."""

from __future__ import annotations

import socket
import subprocess
import sys


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pixelvla_server", *args], capture_output=True, text=True, timeout=120
    )


def test_unknown_flag():
    r = run_cli("--no-such-flag")
    assert r.returncode == 2
    assert "unrecognized arguments: --no-such-flag" in r.stderr


def test_port_in_use():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = run_cli("--port", str(port), "--device", "cpu")
    assert r.returncode == 2
    assert f"port {port} on 127.0.0.1 is already in use" in r.stderr
    assert "--port" in r.stderr


def test_public_bind_without_token():
    r = run_cli("--host", "0.0.0.0", "--port", "1", "--device", "cpu")
    assert r.returncode == 2
    assert "API token" in r.stderr


def test_cuda_without_gpu_is_explained():
    import torch

    if torch.cuda.is_available():
        return
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = run_cli("--port", str(port), "--device", "cuda")
    assert r.returncode == 2
    assert "CUDA is not available" in r.stderr


def test_unknown_model_is_refused(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = run_cli("--port", str(port), "--device", "cpu", "--models-dir", str(tmp_path), "--model", "nope")
    assert r.returncode == 2
    assert "model 'nope' is not in the model registry" in r.stderr
