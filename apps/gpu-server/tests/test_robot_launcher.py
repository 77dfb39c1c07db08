"""Launched robots (robots/launcher.py): the server starts a LIBERO task as a remote robot on request.

The slow test launches real ones: LIBERO's environment through packages/libero/scripts/venv.sh
(installed on first use and cached after, as the LIBERO smoke tests install it), then
`python -m pixelvla_robot.libero` in it, connecting back to the server it was launched by."""

from __future__ import annotations

import functools
import time
from pathlib import Path

import httpx
import pytest
from pixelvla_libero.tasks import TASKS
from pixelvla_server.config import Settings
from pixelvla_server.live import LiveServer, serve
from pixelvla_server.live import recv_type as live_recv_type
from websockets.sync.client import connect

OP = {"X-Operator-Token": "op"}


def test_the_catalog_lists_the_suites_tasks(bare: LiveServer) -> None:
    cat = httpx.get(f"{bare.url}/v1/remote-robots/launchable").json()
    (libero,) = cat["kinds"]
    assert libero["kind"] == "libero" and libero["available"] and libero["init_states"] == 50
    suites = {s["suite"]: s["tasks"] for s in libero["suites"]}
    assert set(suites) == {"libero_spatial", "libero_object", "libero_goal", "libero_10"}
    assert suites["libero_spatial"][3] == {
        "task_id": 3,
        "instruction": "pick up the black bowl on the cookie box and place it on the plate",
    }
    assert cat["max_running"] >= 1


def test_a_bad_task_id_is_a_typed_error_and_launching_needs_the_operator(bare: LiveServer) -> None:
    url = f"{bare.url}/v1/remote-robots/launch"
    r = httpx.post(url, json={"suite": "libero_spatial", "task_id": 12}, headers=OP)
    assert r.status_code == 400 and r.json()["error"]["code"] == "unknown_task", r.text
    assert "tasks 0..9" in r.json()["error"]["message"]
    r = httpx.post(url, json={"suite": "libero_spatial", "task_id": 0})
    assert r.status_code == 403 and r.json()["error"]["code"] == "operator_token_required"
    r = httpx.post(url, json={"suite": "libero_90", "task_id": 0}, headers=OP)
    assert r.status_code == 422
    r = httpx.post(url, json={"suite": "libero_spatial", "task_id": 0, "init_index": 50}, headers=OP)
    assert r.status_code == 422  # the official initial states are 0..49
    assert httpx.get(f"{bare.url}/v1/remote-robots/launched").json()["robots"] == []
    r = httpx.delete(f"{bare.url}/v1/remote-robots/launched/launch-404", headers=OP)
    assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_launch"


def test_a_failed_install_ends_in_libero_unavailable(
    bare: LiveServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The real venv script, told to build a new environment from an interpreter that is not there.
    monkeypatch.setenv("LIBERO_VENV", str(tmp_path / "venv"))
    monkeypatch.setenv("LIBERO_PYTHON", str(tmp_path / "no-such-python"))
    body = {"suite": "libero_goal", "task_id": 1, "init_index": 2}
    r = httpx.post(f"{bare.url}/v1/remote-robots/launch", json=body, headers=OP)
    assert r.status_code == 202, r.text
    rec = r.json()
    assert rec["status"] == "installing" and rec["name"] == "libero-goal-t1-i2"
    assert rec["instruction"] == TASKS["libero_goal"][1]
    launch = bare.app.state.studio.launcher.get(rec["id"])
    assert launch.thread is not None
    launch.thread.join()  # the launch's own thread: the install ran and failed
    got = httpx.get(f"{bare.url}/v1/remote-robots/launched/{rec['id']}").json()
    assert got["status"] == "failed" and got["pid"] is None, got
    assert got["error"]["code"] == "libero_unavailable"
    assert "is not an executable Python" in got["error"]["message"]  # what the script said
    assert "venv.sh" in got["error"]["message"]  # and what to do
    assert not (tmp_path / "venv" / ".lock-sha256").exists()
    r = httpx.delete(f"{bare.url}/v1/remote-robots/launched/{rec['id']}", headers=OP)
    assert r.status_code == 204
    assert httpx.get(f"{bare.url}/v1/remote-robots/launched").json()["robots"] == []


_recv_type = functools.partial(live_recv_type, timeout=60.0)


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_a_launched_libero_task_connects_is_driven_and_stops(tmp_path: Path) -> None:
    settings = Settings(
        device="cpu", data_dir=tmp_path, models_dir=tmp_path / "m", operator_token="op", load_model=False
    )
    with serve(settings) as server:
        launcher = server.app.state.studio.launcher
        base = f"{server.url}/v1/remote-robots"
        first = {"suite": "libero_spatial", "task_id": 3, "init_index": 4, "image_size": 64}
        a = httpx.post(f"{base}/launch", json=first, headers=OP).json()
        b = httpx.post(
            f"{base}/launch", json={**first, "task_id": 0, "name": "second"}, headers=OP, timeout=30
        ).json()
        assert a["name"] == "libero-spatial-t3-i4" and b["name"] == "second"
        r = httpx.post(f"{base}/launch", json={**first, "name": "third"}, headers=OP)
        assert r.status_code == 409 and r.json()["error"]["code"] == "too_many_launched"
        r = httpx.post(f"{base}/launch", json=first, headers=OP)
        assert r.status_code == 409 and r.json()["error"]["code"] == "robot_name_taken"

        deadline = time.monotonic() + 900  # a first run installs LIBERO's environment (~2 GB)
        while (rec := httpx.get(f"{base}/launched/{a['id']}").json())["status"] != "connected":
            assert rec["status"] in ("installing", "starting"), rec
            assert time.monotonic() < deadline, f"the launched robot did not connect: {rec}"
            time.sleep(0.5)
        assert rec["pid"] is not None
        (robot,) = [x for x in httpx.get(base).json()["robots"] if x["name"] == a["name"]]
        assert robot["kind"] == "libero" and robot["instruction"] == TASKS["libero_spatial"][3]
        assert robot["cameras"][0] == {"name": "agentview", "width": 64, "height": 64, "intrinsics": None}

        made = httpx.post(
            f"{server.url}/v1/robots",
            json={"robot": f"remote:{a['name']}", "seed": rec["init_index"], "deadman_ms": 2000},
            headers=OP,
            timeout=600,
        )
        assert made.status_code == 201, made.text
        sid = made.json()["id"]
        with connect(f"{server.ws_url}/v1/robots/{sid}/stream?role=watcher", max_size=None) as ws:
            frame = _recv_type(ws, "frame")
        assert frame["images"]["agentview"][:2] == b"\xff\xd8"  # LIBERO's camera, as a JPEG
        assert frame["instruction"] == TASKS["libero_spatial"][3]
        httpx.delete(f"{server.url}/v1/robots/{sid}", headers=OP, timeout=60)

        proc_a = launcher.get(a["id"]).proc
        assert httpx.delete(f"{base}/launched/{a['id']}", headers=OP, timeout=60).status_code == 204
        assert proc_a.poll() is not None  # stopped, and the record is gone
        assert all(x["id"] != a["id"] for x in httpx.get(f"{base}/launched").json()["robots"])
        second = launcher.get(b["id"])
    # Server shutdown stops what is still running, whatever its phase.
    assert second.thread is not None
    second.thread.join()
    assert second.proc is not None and second.proc.poll() is not None
    assert second.status == "stopped"
