"""A gymnasium env (tests/fixtures/gym_robot.py, the user's env) as a remote robot in its own
process, driven through a real server's robot session: listed with what GymAdapter made of it, and
jogged (each step clipped to the env's action space). gymnasium is in the project's dev group
(pyproject.toml), so the robot process runs in this same environment: a missing gymnasium fails."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pixelvla.wire import packb
from pixelvla_server.config import Settings
from pixelvla_server.live import LiveServer, recv_type, serve
from websockets.sync.client import connect

FIXTURES = Path(__file__).parent / "fixtures"
PACKAGE = Path(__file__).parents[1]
ROOT = Path(__file__).parents[3]
OP = {"X-Operator-Token": "op"}


PY = sys.executable  # gymnasium, numpy, msgpack and websockets: the project's environment


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data = tmp_path_factory.mktemp("gym")
    settings = Settings(
        device="cpu", data_dir=data, models_dir=data / "m", operator_token="op", load_model=False
    )
    with serve(settings) as live:
        yield live


def test_a_gymnasium_env_in_another_process_is_driven_as_a_robot(server):
    env = {**os.environ, "PYTHONPATH": str(PACKAGE)}
    argv = [
        PY,
        str(FIXTURES / "gym_robot.py"),
        "--server",
        server.ws_url,
        "--name",
        "hand",
        "--operator-token",
        "op",
    ]
    proc = subprocess.Popen(
        [*argv, "--events"], stdout=subprocess.PIPE, text=True, env=env, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 60
        while not (robots := httpx.get(f"{server.url}/v1/remote-robots").json()["robots"]):
            assert proc.poll() is None and time.monotonic() < deadline, "the gym robot did not connect"
            time.sleep(0.05)
        r = robots[0]
        assert r["kind"] == "gym" and r["control_hz"] == 10.0 and r["instruction"] == "move the hand right"
        assert r["cameras"] == [{"name": "pixels", "width": 32, "height": 24, "intrinsics": None}]
        assert r["state_names"] == ["hand[0]", "hand[1]", "hand[2]"]
        assert r["action_low"][:3] == pytest.approx([-0.05] * 3) and r["action_high"][6] == 1.0

        made = httpx.post(
            f"{server.url}/v1/robots", json={"robot": "remote:hand", "seed": 7}, headers=OP, timeout=60
        )
        assert made.status_code == 201, made.text
        sid = made.json()["id"]
        with connect(
            f"{server.ws_url}/v1/robots/{sid}/stream?role=controller&operator_token=op", max_size=None
        ) as ws:
            recv_type(ws, "session")
            first = recv_type(ws, "frame")
            assert first["state"].shape == (3,) and set(first["images"]) == {"pixels"}
            x0 = float(first["state"][0])
            for _ in range(3):  # beyond the env's own limit: clipped to 0.05 a step
                ws.send(packb({"type": "jog", "delta": [0.2, 0, 0, 0, 0, 0, 0]}))
            moved: list[float] = []
            for _ in range(60):
                f = recv_type(ws, "frame")
                ws.send(packb({"type": "heartbeat"}))  # a frame is 100 ms: inside the 200 ms dead man
                if f["action"] is not None:
                    assert f["action"][0] == pytest.approx(0.05)
                    moved.append(float(f["state"][0]))
                if len(moved) == 3:
                    break
        assert moved == pytest.approx([x0 + 0.05, x0 + 0.1, x0 + 0.15], abs=1e-5)
        httpx.delete(f"{server.url}/v1/robots/{sid}", headers=OP)
    finally:
        proc.kill()
        proc.wait()
    assert proc.stdout is not None
    events = [json.loads(line) for line in proc.stdout]
    assert [e["event"] for e in events].count("acted") == 3
