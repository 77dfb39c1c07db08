"""A LIBERO task as a remote robot: `python -m pixelvla_robot.libero` in LIBERO's own environment
(var/libero-venv, made by pixelvla_libero.host when missing, as the LIBERO smoke tests do), jogged
through a real server's robot session. Slow (~30 s: LIBERO builds its scene) but part of npm test."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from pixelvla.wire import packb
from pixelvla_server.config import Settings
from pixelvla_server.live import recv_type as live_recv_type
from pixelvla_server.live import serve
from websockets.sync.client import connect

PACKAGES = Path(__file__).parents[2]
OP = {"X-Operator-Token": "op"}
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]


recv_type = functools.partial(live_recv_type, timeout=30.0)


def test_a_libero_task_in_libero_s_venv_is_driven_as_a_robot(tmp_path: Path) -> None:
    from pixelvla_libero import host

    python = host.libero_python()
    settings = Settings(
        device="cpu", data_dir=tmp_path, models_dir=tmp_path / "m", operator_token="op", load_model=False
    )
    env = {
        **os.environ,
        "PYTHONPATH": f"{PACKAGES / 'robot-client'}:{PACKAGES / 'libero'}",
        "MUJOCO_GL": "osmesa",
        "PYOPENGL_PLATFORM": "osmesa",
    }
    with serve(settings) as server:
        argv = [str(python), "-m", "pixelvla_robot.libero", "--server", server.ws_url, "--name", "libero"]
        argv += ["--operator-token", "op", "--image-size", "64", "--events"]
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, env=env, start_new_session=True)
        try:
            deadline = time.monotonic() + 600
            while not (robots := httpx.get(f"{server.url}/v1/remote-robots").json()["robots"]):
                assert proc.poll() is None, f"the LIBERO robot exited with {proc.returncode}"
                assert time.monotonic() < deadline, "the LIBERO robot did not connect"
                time.sleep(0.2)
            r = robots[0]
            assert r["kind"] == "libero" and r["control_hz"] == 20.0 and "bowl" in r["instruction"]
            assert r["cameras"][0]["name"] == "agentview" and r["state_names"][0] == "eef_x"
            made = httpx.post(
                f"{server.url}/v1/robots",
                json={"robot": "remote:libero", "seed": 1, "deadman_ms": 2000},
                headers=OP,
                timeout=600,
            )
            assert made.status_code == 201, made.text  # seed 1: the suite's initial state 1, settled
            sid = made.json()["id"]
            url = f"{server.ws_url}/v1/robots/{sid}/stream?role=controller&operator_token=op"
            with connect(url, max_size=None) as ws:
                recv_type(ws, "session")
                x0 = float(recv_type(ws, "frame")["state"][0])
                ws.send(packb({"type": "jog", "delta": [1.0, 0, 0, 0, 0, 0, 0]}))  # OSC_POSE: full +x
                moved = None
                for _ in range(200):  # frames are latest-wins: the state says it moved, in a later one
                    f = recv_type(ws, "frame")
                    ws.send(packb({"type": "heartbeat"}))
                    if float(f["state"][0]) > x0 + 1e-3:
                        moved = f
                        break
            assert moved is not None, "the end effector never moved along +x"
            assert moved["images"]["agentview"][:2] == b"\xff\xd8"  # a JPEG frame of LIBERO's camera
            httpx.delete(f"{server.url}/v1/robots/{sid}", headers=OP)
        finally:
            proc.kill()
            proc.wait()
    assert proc.stdout is not None
    assert any(json.loads(line)["event"] == "acted" for line in proc.stdout)
