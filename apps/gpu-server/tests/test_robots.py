"""Robot sessions over a real uvicorn server and real WebSockets, driving the real MuJoCo sim robot."""

from __future__ import annotations

import functools
import io
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image
from pixelvla.wire import packb, unpackb
from pixelvla_server.live import EventProcess, LiveServer
from pixelvla_server.live import recv_type as live_recv_type
from pixelvla_server.robots.link import FreezeLedger, silence
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

OP = {"X-Operator-Token": "op"}
CONTROLLER = Path(__file__).parent / "fixtures" / "robot_controller.py"
# How long the loaded soak drives the robot: 20 s in the suite; `npm run test:loaded` sets 300 s.
SOAK_S = float(os.environ.get("PIXELVLA_DEADMAN_SOAK_S", "20"))


def create(server: LiveServer, **body: Any) -> dict[str, Any]:
    r = httpx.post(f"{server.url}/v1/robots", json={"control_hz": 20.0, **body}, headers=OP, timeout=60)
    assert r.status_code == 201, r.text
    return r.json()


def open_ws(server: LiveServer, sid: str, role: str, token: str | None = "op") -> ClientConnection:
    q = f"?role={role}" + (f"&operator_token={token}" if token else "")
    return connect(f"{server.ws_url}/v1/robots/{sid}/stream{q}", open_timeout=10, max_size=None)


def recv(ws: ClientConnection, timeout: float = 5.0) -> dict[str, Any]:
    msg = unpackb(ws.recv(timeout=timeout))
    assert isinstance(msg, dict)
    return msg


recv_type = functools.partial(live_recv_type, timeout=5.0)


def close_code(ws: ClientConnection) -> int | None:
    with pytest.raises(ConnectionClosed):
        for _ in range(100):
            ws.recv(timeout=5)
    return ws.close_code


def test_watcher_gets_jpeg_frames_at_the_control_rate(bare):
    sid = create(bare)["id"]
    with open_ws(bare, sid, "watcher", token=None) as ws:
        first = recv(ws)
        assert first["type"] == "session" and first["role"] == "watcher" and first["id"] == sid
        frames = [recv_type(ws, "frame") for _ in range(11)]
    img = Image.open(io.BytesIO(frames[-1]["images"]["front"]))
    assert img.format == "JPEG" and img.size == (224, 224)
    assert frames[-1]["state"].dtype == np.float32 and frames[-1]["state"].shape == (8,)
    seqs = [f["seq"] for f in frames]
    assert seqs == sorted(seqs)
    rate = (len(frames) - 1) / (frames[-1]["t"] - frames[0]["t"])  # simulated time: exact control period
    assert rate == pytest.approx(20.0, rel=0.05)
    httpx.delete(f"{bare.url}/v1/robots/{sid}", headers=OP)


def test_controller_jogs_one_controller_watchers_cannot_command(bare):
    sid = create(bare)["id"]
    with open_ws(bare, sid, "controller") as ctl, open_ws(bare, sid, "watcher", token=None) as watcher:
        assert recv(ctl)["role"] == "controller"
        recv(watcher)
        with open_ws(bare, sid, "controller") as second:
            assert close_code(second) == 4409
        x0 = recv_type(ctl, "frame")["state"][0]
        ctl.send(packb({"type": "jog", "delta": [0.01, 0, 0, 0, 0, 0, 0]}))
        assert recv_type(ctl, "ack")["command"] == "jog"
        moved = None
        for _ in range(20):
            f = recv_type(ctl, "frame")
            if f["action"] is not None:
                moved = f
                break
        assert moved is not None and moved["state"][0] == pytest.approx(x0 + 0.01, abs=2e-3)
        watcher.send(packb({"type": "go"}))
        assert recv_type(watcher, "error")["error"]["code"] == "not_controller"
        ctl.send(packb({"type": "jog", "delta": [0.01, 0, 0]}))
        assert recv_type(ctl, "error")["error"]["code"] == "invalid_command"
        ctl.send(packb({"type": "estop"}))
        assert recv_type(ctl, "ack")["mode"] == "estopped"
        ctl.send(packb({"type": "jog", "delta": [0.01, 0, 0, 0, 0, 0, 0]}))
        assert recv_type(ctl, "error")["error"]["code"] == "estopped"
        ctl.send(packb({"type": "reset_estop"}))
        assert recv_type(ctl, "ack")["mode"] == "idle"
        ctl.send(b"\xc1")  # never-used msgpack byte
        assert recv_type(ctl, "error")["error"]["code"] == "invalid_message"
    info = httpx.get(f"{bare.url}/v1/robots/{sid}").json()
    assert info["controller_connected"] is False and info["watchers"] == 0
    httpx.delete(f"{bare.url}/v1/robots/{sid}", headers=OP)


def test_bad_connections_and_inputs(bare):
    with open_ws(bare, "nope", "watcher") as ws:
        assert close_code(ws) == 4404
    sid = create(bare)["id"]
    with open_ws(bare, sid, "controller", token=None) as ws:
        assert close_code(ws) == 4403
    with open_ws(bare, sid, "controller", token="wrong") as ws:
        assert close_code(ws) == 4403
    with open_ws(bare, sid, "controller") as ws:
        recv(ws)
        ws.send("text")
        assert close_code(ws) == 1003
    with open_ws(bare, sid, "controller") as ws:
        recv(ws)
        ws.send(packb({"type": "go"}))  # no model in this server
        assert recv_type(ws, "error")["error"]["code"] == "model_not_loaded"
    r = httpx.post(f"{bare.url}/v1/robots", json={"task": "juggle"}, headers=OP, timeout=30)
    assert r.status_code == 400 and r.json()["error"]["message"]
    assert httpx.post(f"{bare.url}/v1/robots", json={}).json()["error"]["code"] == "operator_token_required"
    assert httpx.post(f"{bare.url}/v1/robots", json={"control_hz": 1000}, headers=OP).status_code == 422
    assert httpx.get(f"{bare.url}/v1/robots/nope").json()["error"]["code"] == "unknown_session"
    assert httpx.delete(f"{bare.url}/v1/robots/{sid}", headers=OP).status_code == 204
    assert httpx.delete(f"{bare.url}/v1/robots/{sid}", headers=OP).status_code == 404


class Heartbeat:
    """What a real controller does: a heartbeat every 50 ms from its own thread, whatever the frames do."""

    def __init__(self, ws: ClientConnection):
        self.ws = ws
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.wait(0.05):
            self.ws.send(packb({"type": "heartbeat"}))

    def silence(self) -> float:
        self.stop.set()
        self.thread.join()
        return time.monotonic()


def go_and_wait_moving(ws: ClientConnection) -> Heartbeat:
    recv(ws)
    beat = Heartbeat(ws)
    ws.send(packb({"type": "go"}))
    assert recv_type(ws, "ack")["mode"] == "go"
    deadline = time.monotonic() + 60
    while recv_type(ws, "frame", timeout=60)["action"] is None:  # the first chunk is on its way
        assert time.monotonic() < deadline
    return beat


def test_frames_carry_the_plan_and_camera_models(live):
    """What the studio needs to draw the planned end-effector path on the live frame."""
    sid = create(live)["id"]
    with open_ws(live, sid, "controller") as ctl:
        recv(ctl)
        idle = recv_type(ctl, "frame")
        assert idle["plan"] == []  # nothing planned before go
        cam = idle["camera_models"]["front"]
        k, w2c = np.array(cam["intrinsics"]), np.array(cam["world_to_camera"])
        assert k.shape == (3, 3) and w2c.shape == (4, 4) and (cam["width"], cam["height"]) == (224, 224)
        # the hand at reset is in front of the front camera and inside its image
        p = w2c[:3, :3] @ np.asarray(idle["state"][:3], np.float64) + w2c[:3, 3]
        u, v = (k @ p)[:2] / (k @ p)[2]
        assert p[2] > 0 and 0 <= u < 224 and 0 <= v < 224
        beat = Heartbeat(ctl)
        ctl.send(packb({"type": "go"}))
        deadline = time.monotonic() + 60
        while not (f := recv_type(ctl, "frame", timeout=60))["plan"]:
            assert time.monotonic() < deadline
        chunk = live.app.state.studio.policy.current.metadata["chunk_size"]  # type: ignore[attr-defined]
        assert 1 <= len(f["plan"]) <= chunk - 1 and all(len(a) == 7 for a in f["plan"])
        ctl.send(packb({"type": "stop"}))
        recv_type(ctl, "ack")
        while (f := recv_type(ctl, "frame"))["mode"] == "go":  # frames built before the stop
            assert time.monotonic() < deadline
        assert f["plan"] == []  # a stopped robot has no plan left
        beat.silence()
    httpx.delete(f"{live.url}/v1/robots/{sid}", headers=OP)


def test_dead_man_stops_a_silent_controller_within_300ms(live):
    sid = create(live)["id"]
    with open_ws(live, sid, "controller") as ctl:
        silent_from = go_and_wait_moving(ctl).silence()  # from here on the controller says nothing
        status = recv_type(ctl, "status", timeout=5)
        elapsed_ms = (time.monotonic() - silent_from) * 1000
        assert status["reason"] == "deadman" and status["mode"] == "stopped"
        # The part held against the limit leaves out the server's own measured lag (server_ms).
        held_ms = status["stop"]["silent_ms"] - status["stop"]["server_ms"]
        assert status["stop"]["limit_ms"] == 200 and status["stop"]["silent_ms"] >= 200 and held_ms <= 300
        # Server-side measure: silence to stop decision. Client-side adds only delivery time.
        info = httpx.get(f"{live.url}/v1/robots/{sid}").json()
        assert info["mode"] == "stopped" and info["last_stop"]["reason"] == "deadman"
        assert info["last_stop"] == status["stop"] and info["deadman_stops"] == 1
        assert elapsed_ms <= 1000  # client side: includes frame delivery on a loaded machine
        after = [recv_type(ctl, "frame") for _ in range(3)]
        assert all(f["action"] is None for f in after[1:])  # nothing moves after the stop
        assert np.allclose(after[1]["state"][:3], after[2]["state"][:3], atol=1e-6)
    httpx.delete(f"{live.url}/v1/robots/{sid}", headers=OP)


def test_a_controller_disconnect_stops_the_robot(live):
    sid = create(live)["id"]
    with open_ws(live, sid, "controller") as ctl:
        beat = go_and_wait_moving(ctl)
        beat.silence()  # the socket closes right after, long before the dead man would fire
    deadline = time.monotonic() + 1.0
    while (info := httpx.get(f"{live.url}/v1/robots/{sid}").json())["mode"] == "go":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert info["last_stop"]["reason"] == "controller disconnected"
    httpx.delete(f"{live.url}/v1/robots/{sid}", headers=OP)


def test_a_server_error_in_the_control_loop_stops_the_robot(bare):
    from pixelvla_server.robots.protocol import Episode
    from pixelvla_server.robots.sim import SimTeleopRobot

    class FaultyArm(SimTeleopRobot):
        """The sim robot with an actuator that faults on a long x move: a server-side error in the
        control loop, on a robot the manager got through create_session (as remote robots are)."""

        def act(self, action: np.ndarray) -> np.ndarray:
            if action[0] > 0.015:
                raise RuntimeError("actuator fault")
            return super().act(action)

    robots = bare.app.state.studio.robots
    session = robots.create_session(
        lambda: FaultyArm(224, 20.0, ("front",)),
        episode=Episode(task="pick", seed=0),
        control_hz=20.0,
        cameras=("front",),
    )
    with open_ws(bare, session.id, "controller") as ctl:
        recv(ctl)
        ctl.send(packb({"type": "jog", "delta": [0.02, 0, 0, 0, 0, 0]}))
        status = recv_type(ctl, "status", timeout=10)
        assert status["mode"] == "error" and "actuator fault" in status["error"]
        assert status["stop"]["reason"] == "error"
    assert httpx.get(f"{bare.url}/v1/robots/{session.id}").json()["mode"] == "error"
    httpx.delete(f"{bare.url}/v1/robots/{session.id}", headers=OP)


def test_saving_an_episode_does_not_stop_a_going_robot(live):
    """Writing an episode takes seconds; the heartbeats the controller sends meanwhile are read all
    the same, so the dead man has no reason to stop the robot."""
    sid = create(live)["id"]
    with open_ws(live, sid, "controller") as ctl:
        beat = go_and_wait_moving(ctl)
        ctl.send(packb({"type": "record", "on": True, "dataset": "going"}))
        assert recv_type(ctl, "ack")["recording"] is True
        applied = 0
        while applied < 10:
            applied += recv_type(ctl, "frame", timeout=30)["action"] is not None
        ctl.send(packb({"type": "record", "on": False}))
        ack = recv_type(ctl, "ack", timeout=60)
        assert ack["command"] == "record" and ack["episode"] == 0 and ack["steps"] >= 10
        after = recv_type(ctl, "frame")
        beat.silence()
    info = httpx.get(f"{live.url}/v1/robots/{sid}").json()
    assert info["deadman_stops"] == 0 and after["mode"] == "go", info["last_stop"]
    httpx.delete(f"{live.url}/v1/robots/{sid}", headers=OP)


def test_record_jogs_into_a_dataset(bare):
    sid = create(bare)["id"]
    with open_ws(bare, sid, "controller") as ctl:
        recv(ctl)
        ctl.send(packb({"type": "record", "on": True, "dataset": "teleop"}))
        assert recv_type(ctl, "ack")["dataset"] == "teleop"
        for _ in range(3):
            ctl.send(packb({"type": "jog", "delta": [0.0, 0.01, 0, 0, 0, 0, 0]}))
            recv_type(ctl, "ack")
        applied = 0
        while applied < 3:
            applied += recv_type(ctl, "frame")["action"] is not None
        ctl.send(packb({"type": "record", "on": False}))
        ack = recv_type(ctl, "ack", timeout=30)
        assert ack["steps"] == 3 and ack["episode"] == 0
        ctl.send(packb({"type": "record", "on": True, "dataset": "../escape"}))
        assert recv_type(ctl, "error")["error"]["code"] == "invalid_id"
    eps = httpx.get(f"{bare.url}/v1/datasets/teleop/episodes").json()["episodes"]
    assert [(e["index"], e["length"]) for e in eps] == [(0, 3)]
    ep = httpx.get(f"{bare.url}/v1/datasets/teleop/episodes/0").json()
    assert [round(a[1], 3) for a in ep["actions"]] == [0.01, 0.01, 0.01]
    httpx.delete(f"{bare.url}/v1/robots/{sid}", headers=OP)


def test_a_bad_prompt_is_refused_when_it_arrives_and_the_robot_keeps_going(live):
    """Prompt fields are checked by the policy's own validators when the command arrives: a typed
    error to the controller, and the robot goes on in the mode it was in (before, the prompt was
    stored as sent and the next control tick put the robot in "error")."""
    sid = create(live)["id"]
    box = {"type": "box", "x0": 0.1, "y0": 0.1, "x1": 0.2, "y1": 0.2}
    # The codes are the validators' own: the observation codec's or the prompt parser's.
    bad: list[tuple[dict[str, Any], set[str]]] = [
        (
            {"prompt_tokens": np.zeros((3,), np.float32), "prompt_valid": np.zeros((16,), bool)},
            {"invalid_observation", "invalid_prompt"},
        ),
        ({"prompts": [{**box, "x1": 0.1}]}, {"invalid_prompt"}),  # a box with x1 == x0
        ({"prompts": [box] * 9}, {"invalid_prompt"}),  # 18 tokens: the encoder takes 16
        ({"pixel_masks": [{"size": [4, 4], "counts": [3, 2]}]}, {"invalid_rle"}),
        ({"instruction": "  "}, {"invalid_prompt"}),  # the policy needs an instruction
    ]
    with open_ws(live, sid, "controller") as ctl:
        beat = go_and_wait_moving(ctl)
        for fields, code in bad:
            ctl.send(packb({"type": "prompt", "instruction": "pick up the red cube", **fields}))
            assert recv_type(ctl, "error", timeout=10)["error"]["code"] in code, fields
        moving = 0
        while moving < 5:  # the policy goes on driving: frames in go with applied actions
            f = recv_type(ctl, "frame", timeout=30)
            assert f["mode"] == "go", f["mode"]
            moving += f["action"] is not None
        info = httpx.get(f"{live.url}/v1/robots/{sid}").json()
        assert (info["mode"], info["error"], info["last_stop"]) == ("go", None, None)
        beat.silence()
    httpx.delete(f"{live.url}/v1/robots/{sid}", headers=OP)


def test_any_connection_can_estop_and_an_operator_can_take_control(bare):
    """A second studio tab watches (role=auto gets the controller only when it is free), its E-STOP
    really stops the robot, and with the operator token it can take control explicitly."""
    sid = create(bare)["id"]
    with (
        open_ws(bare, sid, "auto") as ctl,
        open_ws(bare, sid, "auto", token=None) as watcher,
        open_ws(bare, sid, "auto") as operator,
    ):
        assert recv(ctl)["role"] == "controller"
        assert recv(watcher)["role"] == "watcher" and recv(operator)["role"] == "watcher"
        assert recv_type(watcher, "frame")["images"]["front"]  # the watcher sees the live frames
        watcher.send(packb({"type": "heartbeat"}))  # harmless from a watcher: no error, no ack
        watcher.send(packb({"type": "jog", "delta": [0.01, 0, 0, 0, 0, 0]}))
        assert recv_type(watcher, "error")["error"]["code"] == "not_controller"
        watcher.send(packb({"type": "estop"}))
        assert recv_type(watcher, "ack")["mode"] == "estopped"
        status = recv_type(ctl, "status")
        assert status["mode"] == "estopped" and status["stop"]["detail"] == "from a watching client"
        assert httpx.get(f"{bare.url}/v1/robots/{sid}").json()["mode"] == "estopped"
        ctl.send(packb({"type": "jog", "delta": [0.01, 0, 0, 0, 0, 0]}))
        assert recv_type(ctl, "error")["error"]["code"] == "estopped"  # the controller cannot move it
        # Taking control needs the operator token; with it the old controller becomes a watcher.
        watcher.send(packb({"type": "take_control"}))
        assert recv_type(watcher, "error")["error"]["code"] == "operator_token_required"
        operator.send(packb({"type": "take_control"}))
        assert recv_type(operator, "ack")["role"] == "controller"
        assert recv_type(ctl, "role")["role"] == "watcher"
        ctl.send(packb({"type": "reset_estop"}))
        assert recv_type(ctl, "error")["error"]["code"] == "not_controller"
        operator.send(packb({"type": "reset_estop"}))
        assert recv_type(operator, "ack")["mode"] == "idle"
        info = httpx.get(f"{bare.url}/v1/robots/{sid}").json()
        assert info["controller_connected"] is True and info["watchers"] == 2
        with open_ws(bare, sid, "controller") as second:  # an explicit controller still gets 4409
            assert close_code(second) == 4409
    httpx.delete(f"{bare.url}/v1/robots/{sid}", headers=OP)


def test_a_mode_change_says_which_frames_were_built_before_it(bare):
    """A frame built before a command took effect can arrive after the command's ack (the studio
    then showed the old mode: "idle" right after Go). The ack and the stop's status carry frame_seq,
    the first frame built after the change: every frame from it on shows the new mode."""
    sid = create(bare)["id"]
    with open_ws(bare, sid, "controller") as ctl:
        recv(ctl)
        recv_type(ctl, "frame")
        ctl.send(packb({"type": "stop"}))
        ack: dict[str, Any] | None = None
        status: dict[str, Any] | None = None
        frames: list[dict[str, Any]] = []
        while ack is None or sum(f["seq"] >= ack["frame_seq"] for f in frames) < 5:
            msg = recv(ctl)
            if msg["type"] == "ack":
                ack = msg
            elif msg["type"] == "status":
                status = msg
            elif msg["type"] == "frame":
                frames.append(msg)
        assert status is not None and status["frame_seq"] == ack["frame_seq"] and ack["mode"] == "stopped"
        assert all(f["mode"] == "stopped" for f in frames if f["seq"] >= ack["frame_seq"])
        assert all(f["mode"] == "idle" for f in frames if f["seq"] < ack["frame_seq"])
    httpx.delete(f"{bare.url}/v1/robots/{sid}", headers=OP)


def test_a_jog_keeps_the_gripper_unless_it_sets_it(bare):
    """A 6-D jog moves the hand and keeps the gripper (before, every jog carried a gripper value:
    the studio's 0 opened the gripper and dropped what it held)."""
    sid = create(bare)["id"]
    with open_ws(bare, sid, "controller") as ctl:
        recv(ctl)

        def applied_after(delta: list[float]) -> dict[str, Any]:
            ctl.send(packb({"type": "jog", "delta": delta}))
            assert recv_type(ctl, "ack")["command"] == "jog"
            while (f := recv_type(ctl, "frame"))["action"] is None:
                pass
            return f

        closed = applied_after([0, 0, 0, 0, 0, 0, 1.0])
        assert closed["action"][6] == 1.0
        moved = applied_after([0.01, 0, 0, 0, 0, 0])
        assert moved["action"][6] == 1.0 and moved["state"][6] == 1.0
        assert moved["action"][0] == pytest.approx(0.01, abs=1e-6)
        opened = applied_after([0, 0, 0, 0, 0, 0, 0.0])
        assert opened["state"][6] == 0.0
        ctl.send(packb({"type": "jog", "delta": [0.01, 0, 0, 0, 0]}))
        assert recv_type(ctl, "error")["error"]["code"] == "invalid_command"
    httpx.delete(f"{bare.url}/v1/robots/{sid}", headers=OP)


def test_reset_starts_a_new_episode_in_the_same_session_with_its_outcome(bare):
    """New scene/seed without a new session (which kept the old one rendering); the task's outcome
    (success, steps, time, and the verdict against the episode's step budget) travels with every
    frame and in the session info."""
    s = create(bare, task="pick", seed=0, max_steps=2)
    sid = s["id"]
    fresh = {"success": False, "steps": 0, "time_s": 0.0, "max_steps": 2, "verdict": "running"}
    assert s["outcome"] == fresh
    assert s["robot"]["kind"] == "sim" and s["robot"]["action_dim"] == 7 and s["robot"]["state_dim"] == 8
    assert "place" in s["robot"]["tasks"] and s["robot"]["action_high"][6] == 1.0
    with open_ws(bare, sid, "controller") as ctl:
        recv(ctl)
        for _ in range(2):
            ctl.send(packb({"type": "jog", "delta": [0, 0.01, 0, 0, 0, 0]}))
            recv_type(ctl, "ack")
        while (f := recv_type(ctl, "frame"))["outcome"]["steps"] < 2:
            pass
        assert f["outcome"]["success"] is False and f["outcome"]["time_s"] > 0
        assert f["outcome"]["verdict"] == "failure"  # 2 steps without success: as an eval counts it
        first_image = f["images"]["front"]
        ctl.send(packb({"type": "reset", "task": "juggle"}))
        assert recv_type(ctl, "error")["error"]["code"] == "invalid_command"
        ctl.send(packb({"type": "reset", "task": "place", "seed": 7}))
        ack = recv_type(ctl, "ack")
        assert (ack["command"], ack["task"], ack["seed"]) == ("reset", "place", 7)
        episode = recv_type(ctl, "episode", timeout=30)
        assert (episode["task"], episode["seed"], episode["mode"]) == ("place", 7, "idle")
        assert episode["outcome"] == fresh
        assert "put" in episode["instruction"]
        f = recv_type(ctl, "frame")
        assert f["episode"] == {"task": "place", "seed": 7} and f["outcome"]["steps"] == 0
        assert f["images"]["front"] != first_image  # another scene
        ctl.send(packb({"type": "record", "on": True, "dataset": "resets"}))
        recv_type(ctl, "ack")
        ctl.send(packb({"type": "reset", "seed": 8}))
        assert recv_type(ctl, "error")["error"]["code"] == "recording"
    info = httpx.get(f"{bare.url}/v1/robots/{sid}").json()
    assert (info["task"], info["seed"]) == ("place", 7)
    assert len(httpx.get(f"{bare.url}/v1/robots").json()["sessions"]) >= 1
    httpx.delete(f"{bare.url}/v1/robots/{sid}", headers=OP)


def test_the_outcome_says_success_once_the_task_is_done(bare):
    """The scripted expert's actions for (pick, seed 0), planned on a robot of its own, replayed as
    jogs one at a time (the session holds the pose between them, which the grasp survives): the
    session's outcome turns to success, with the steps it took, inside the step budget."""
    from pixelvla_sim.expert import rollout
    from pixelvla_sim.robot import SimRobot

    with SimRobot(image_size=64, control_hz=20.0, cameras=()) as planner:
        trace = rollout(planner, 0, "pick", record_images=False)
    assert trace.success
    sid = create(bare, task="pick", seed=0, image_size=64, max_steps=len(trace.actions) + 5)["id"]
    with open_ws(bare, sid, "controller") as ctl:
        assert recv(ctl)["outcome"]["verdict"] == "running"
        for i, action in enumerate(trace.actions):
            ctl.send(packb({"type": "jog", "delta": [float(v) for v in action]}))
            recv_type(ctl, "ack")
            while (f := recv_type(ctl, "frame"))["outcome"]["steps"] <= i:
                pass
        assert f["outcome"]["steps"] == len(trace.actions)
        assert (f["outcome"]["success"], f["outcome"]["verdict"]) == (True, "success")
    info = httpx.get(f"{bare.url}/v1/robots/{sid}").json()
    assert info["outcome"]["verdict"] == "success" and info["outcome"]["time_s"] > 0
    httpx.delete(f"{bare.url}/v1/robots/{sid}", headers=OP)


def test_an_unwatched_session_renders_nothing_and_closes_when_idle(bare):
    """No pile-up of abandoned sessions rendering at the control rate: nobody watching, no frames;
    nobody connected for idle_close_s, the session closes itself. The idle limit is derived from how
    long creating a session and seeing its first frame takes on this box now (a loaded box can take
    seconds): the session must not close before its first watcher could connect."""
    t0 = time.monotonic()
    probe = create(bare)["id"]
    with open_ws(bare, probe, "watcher", token=None) as ws:
        recv(ws)
        recv_type(ws, "frame")
    idle_s = max(2.0, 4 * (time.monotonic() - t0))
    httpx.delete(f"{bare.url}/v1/robots/{probe}", headers=OP)
    sid = create(bare, idle_close_s=idle_s)["id"]
    with open_ws(bare, sid, "watcher", token=None) as ws:
        recv(ws)
        recv_type(ws, "frame")
    left = time.monotonic()
    frames = httpx.get(f"{bare.url}/v1/robots/{sid}").json()["frames"]
    deadline = left + 2 * idle_s + 10.0  # the watchdog checks every 10 ms; a loaded box is late, not wrong
    while (r := httpx.get(f"{bare.url}/v1/robots/{sid}")).status_code == 200:
        assert r.json()["frames"] == frames  # unwatched: not one more frame rendered
        assert time.monotonic() < deadline, "an unwatched session was not closed"
        time.sleep(0.05)
    closed_after = time.monotonic() - left
    assert r.json()["error"]["code"] == "unknown_session" and closed_after >= idle_s
    assert httpx.post(f"{bare.url}/v1/robots", json={"idle_close_s": 0.5}, headers=OP).status_code == 422


def test_a_recording_keeps_the_prompt_it_was_driven_with(bare):
    """The teleop prompt (instruction, prompt JSON, pixel masks) and the episode are saved with the
    recording, in the episode's sidecar record (`source`), and the instruction is its task."""
    sid = create(bare, task="pick_ambiguous", seed=3)["id"]
    point = {"type": "point", "x": 0.4, "y": 0.6, "positive": True}
    mask = {"size": [4, 4], "counts": [5, 6, 5]}
    with open_ws(bare, sid, "controller") as ctl:
        recv(ctl)
        ctl.send(
            packb(
                {
                    "type": "prompt",
                    "instruction": "pick up this cube",
                    "prompts": [point],
                    "pixel_masks": [mask],
                }
            )
        )
        assert recv_type(ctl, "ack")["instruction"] == "pick up this cube"
        ctl.send(packb({"type": "record", "on": True, "dataset": "prompted"}))
        recv_type(ctl, "ack")
        for _ in range(2):
            ctl.send(packb({"type": "jog", "delta": [0, 0, 0.01, 0, 0, 0, 0]}))
            recv_type(ctl, "ack")
        applied = 0
        while applied < 2:
            applied += recv_type(ctl, "frame")["action"] is not None
        ctl.send(packb({"type": "record", "on": False}))
        assert recv_type(ctl, "ack", timeout=30)["episode"] == 0
    ann = httpx.get(f"{bare.url}/v1/datasets/prompted/episodes/0/annotations").json()
    source = ann["sidecar"]["source"]
    assert source["instruction"] == "pick up this cube" and source["prompts"] == [point]
    assert source["pixel_masks"] == [mask]
    assert (source["task"], source["seed"], source["robot"]) == ("pick_ambiguous", 3, "sim")
    assert source["outcome"]["steps"] == 2 and source["outcome"]["success"] is False
    assert ann["sidecar"]["task"] == "pick up this cube"
    httpx.delete(f"{bare.url}/v1/robots/{sid}", headers=OP)


def test_freeze_ledger_credits_only_what_the_whole_server_missed():
    """The arithmetic the dead man relies on: wake-ups up to the grace apart are ordinary (their
    silence counts); the rest of a longer gap is a freeze; only [since, now] of it is credited."""
    ledger = FreezeLedger(keep_s=3.0)
    assert ledger.woke(10.00, 10.04, grace_s=0.05) == 0.0  # a busy machine, not a freeze
    assert ledger.woke(10.04, 10.64, grace_s=0.05) == pytest.approx(0.55)  # frozen 10.09 .. 10.64
    assert ledger.frozen(10.0, 10.7) == pytest.approx(0.55)
    assert ledger.frozen(10.3, 10.5) == pytest.approx(0.2)  # the part inside the silence only
    assert ledger.frozen(10.64, 10.7) == 0.0  # heard after the freeze: none of it counts
    assert ledger.woke(10.64, 14.0, grace_s=0.05) == pytest.approx(3.31)  # the first one ages out
    assert ledger.frozen(10.0, 14.0) == pytest.approx(3.31)


def test_silence_is_the_controllers_only_where_the_server_was_listening():
    """Whose a silence is, on synthetic timelines (seconds; limit 0.2): heard at 10.0."""
    none = FreezeLedger(keep_s=5.0)
    # A gone controller, a healthy loop (it ticked at 10.23): over the limit, the dead man fires.
    gone = silence(10.0, 10.25, 10.23, none)
    assert gone.controller_s == pytest.approx(0.23) and gone.overdue(0.2)
    # A loop that has not read since 10.08 (busy): the rest is the server's, not the controller's...
    late = silence(10.0, 10.25, 10.08, none)
    assert late.controller_s == pytest.approx(0.08) and late.server_s == pytest.approx(0.17)
    assert not late.overdue(0.2)
    # ... for at most twice the limit: such a server could not hear a stop either.
    assert silence(10.0, 10.41, 10.08, none).overdue(0.2)
    # A frozen process (10.05 .. 10.65): neither read nor moved; a minute later it is all the same.
    frozen = FreezeLedger(keep_s=5.0)
    frozen.woke(10.0, 10.65, grace_s=0.05)
    after = silence(10.0, 10.66, 10.04, frozen)
    assert after.running_s == pytest.approx(0.06) and not after.overdue(0.2)
    assert silence(10.0, 10.66, 10.66, frozen).controller_s == pytest.approx(0.06)
    # But no silence, whoever's, outlasts max(2 x limit, 2 s).
    frozen.woke(10.65, 12.7, grace_s=0.05)
    assert silence(10.0, 12.7, 10.04, frozen).overdue(0.2)
    assert silence(10.0, 10.1, None, none).controller_s == pytest.approx(0.1)  # no tick yet: all of it


def test_deadman_limit_is_per_session_within_bounds(bare):
    default = create(bare)
    assert default["deadman_ms"] == bare.settings.deadman_ms == 200 and default["heartbeat_ms"] == 50
    assert default["deadman_stops"] == 0 and default["last_stop"] is None
    assert default["link"]["gaps"] == 0 and default["link"]["silent_ms"] is None  # no controller yet
    slow = create(bare, deadman_ms=1000)
    assert slow["deadman_ms"] == 1000 and slow["heartbeat_ms"] == 250
    for bad in (99, 2001, "fast"):
        r = httpx.post(f"{bare.url}/v1/robots", json={"deadman_ms": bad}, headers=OP, timeout=30)
        assert r.status_code == 422 and r.json()["error"]["code"] == "validation_error", r.text
        assert r.json()["error"]["detail"][0]["loc"][-1] == "deadman_ms"
    with open_ws(bare, slow["id"], "controller") as ctl:
        first = recv(ctl)
        assert first["deadman_ms"] == 1000 and first["heartbeat_ms"] == 250
        ctl.send(packb({"type": "stop", "reason": "studio tab hidden"}))
        assert recv_type(ctl, "status")["stop"]["detail"] == "studio tab hidden"
        ctl.send(packb({"type": "stop", "reason": 7}))
        assert recv_type(ctl, "error")["error"]["code"] == "invalid_command"
        link = recv_type(ctl, "link", timeout=10)  # once a second, to the controller
        assert link["deadman_ms"] == 1000 and link["loop_lag_p99_ms"] is not None
    stop = httpx.get(f"{bare.url}/v1/robots/{slow['id']}").json()["last_stop"]
    assert (stop["reason"], stop["limit_ms"], stop["detail"]) == ("stop", 1000, "studio tab hidden")
    for sid in (default["id"], slow["id"]):
        httpx.delete(f"{bare.url}/v1/robots/{sid}", headers=OP)


def test_a_session_deadman_limit_is_the_one_applied(live):
    """A 1 s session limit: a silent controller is stopped after 1 s, not after the server's 200 ms."""
    sid = create(live, deadman_ms=1000)["id"]
    with open_ws(live, sid, "controller") as ctl:
        go_and_wait_moving(ctl).silence()
        status = recv_type(ctl, "status", timeout=10)
        assert status["reason"] == "deadman" and status["stop"]["limit_ms"] == 1000
        stop = status["stop"]
        # the controller's part: the limit plus the watchdog's slice and the loop's last tick
        assert 1000 <= stop["silent_ms"] - stop["server_ms"] <= 1000 + 100 and stop["silent_ms"] >= 1000
    assert httpx.get(f"{live.url}/v1/robots/{sid}").json()["deadman_stops"] == 1
    httpx.delete(f"{live.url}/v1/robots/{sid}", headers=OP)


class Controller(EventProcess):
    """tests/fixtures/robot_controller.py in its own OS process and session, as a browser is: not a
    thread of this process, whose scheduling the server shares. (Linux groups a session's processes
    for CPU shares; a busy loop in the controller's own session delays its timers by up to ~400 ms
    on a two-core box, one in another session by ~10 ms; measured with the loops below.)"""

    def __init__(self, server: LiveServer, sid: str, *args: str):
        url = f"{server.ws_url}/v1/robots/{sid}/stream?role=controller&operator_token=op"
        super().__init__([sys.executable, str(CONTROLLER), url, *args], "controller")


@pytest.fixture
def cpu_load() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Two busy-looping processes (as many as this box has cores) for the duration of a test, in
    this test's session: they take CPU from the server under test (it runs in this process)."""
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        yield hogs
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()


def test_no_spurious_deadman_stop_under_cpu_load(live, cpu_load):
    """A controller that heartbeats as the studio's worker does, from its own process, drives the
    robot for SOAK_S seconds while two busy loops take both cores: the dead man never fires. The
    session is the studio's (10 Hz, the server's dead-man limit)."""
    info = create(live, control_hz=10.0)
    ctl = Controller(live, info["id"], "--go-seconds", str(SOAK_S))
    try:
        assert ctl.expect("session", timeout=30)["heartbeat_ms"] == info["heartbeat_ms"]
        ctl.expect("moving", timeout=60)
        done = ctl.expect("done", timeout=SOAK_S + 60)
        assert ctl.proc.wait(timeout=30) == 0
    finally:
        ctl.kill()
    stops = [ev for ev in ctl.seen if ev["event"] == "status"]
    after = httpx.get(f"{live.url}/v1/robots/{info['id']}").json()
    link = done["link"]
    numbers = {
        k: link[k]
        for k in ("gaps", "gap_p50_ms", "gap_p99_ms", "gap_max_ms", "loop_lag_max_ms", "server_freeze_max_ms")
    }
    numbers["send_gap_max_ms"] = done["send_gap_max_ms"]  # the controller's own timer, its side
    print(f"deadman soak {SOAK_S:.0f} s under load: {numbers}")
    assert stops == [] and after["deadman_stops"] == 0, f"{[s['stop'] for s in stops]} {numbers}"
    assert after["last_stop"]["reason"] == "stop"  # its own, at the end
    assert all(hog.poll() is None for hog in cpu_load)  # the load lasted the whole drive
    # What the studio is told about its link: the heartbeats of the last window, well inside the limit.
    assert link["gaps"] >= 0.5 * min(SOAK_S, link["window_s"]) * 1000 / info["heartbeat_ms"]
    assert link["gap_p50_ms"] < info["deadman_ms"] / 2  # raw gaps include the server's own lag
    httpx.delete(f"{live.url}/v1/robots/{info['id']}", headers=OP)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGSTOP], ids=["killed", "frozen"])
def test_a_gone_controller_stops_the_robot_within_300ms_of_its_last_heartbeat(live, sig):
    """Killed (no close frame; the kernel resets the socket) or frozen (the socket stays open and says
    nothing): either way the robot stops within 300 ms of the last heartbeat that left the controller."""
    sid = create(live)["id"]
    ctl = Controller(live, sid, "--log-beats")
    try:
        with open_ws(live, sid, "watcher", token=None) as watcher:
            recv(watcher)
            ctl.expect("moving", timeout=60)
            for _ in range(5):  # mid-go: a few heartbeats after the first applied action
                ctl.expect("beat", timeout=10)
            os.kill(ctl.proc.pid, sig)
            status = recv_type(watcher, "status", timeout=10)
            stop = live.app.state.studio.robots.get(sid).last_stop
            ctl.kill()
            last_beat = max(ev["t"] for ev in ctl.drain() if ev["event"] == "beat")
            after = [recv_type(watcher, "frame") for _ in range(3)]
    finally:
        ctl.kill()
    expected = "deadman" if sig == signal.SIGSTOP else "controller disconnected"
    assert status["mode"] == "stopped" and status["reason"] == stop.reason == expected
    assert stop.silent_ms is not None
    # The server's own lag is not the controller's silence (docs/PROTOCOLS.md, robots.link.silence):
    # on a busy box its event loop may read late, and the stop says by how much (server_ms). What is
    # held against the limit, the controller's part, stays within 300 ms.
    assert stop.silent_ms - stop.server_ms <= 300, stop
    # Both CLOCK_MONOTONIC: the silence the server measured is no longer than the time since the
    # controller's last send (it cannot have heard that heartbeat before it was sent).
    assert stop.silent_ms <= (stop.at - last_beat) * 1000 + 1
    assert all(f["action"] is None for f in after[1:]) and after[-1]["mode"] == "stopped"
    httpx.delete(f"{live.url}/v1/robots/{sid}", headers=OP)


def test_a_frozen_server_does_not_blame_its_controller(server_process):
    """The whole server process stops running for 0.5 s, three times during a Go (an overloaded box,
    a paused VM), while the controller goes on heartbeating. Its heartbeats wait in the socket and the
    robot does not move meanwhile; the first thread to wake, the watchdog, must not stop the robot
    before the event loop has read them."""
    server, proc = server_process
    sid = create(server)["id"]
    ctl = Controller(server, sid, "--go-seconds", "6", "--log-beats")
    try:
        ctl.expect("moving", timeout=60)
        for _ in range(3):
            for _ in range(4):  # the server has read heartbeats since it woke
                ctl.expect("beat", timeout=10)
            os.kill(proc.pid, signal.SIGSTOP)
            time.sleep(0.5)  # the freeze itself, not a wait for anything
            os.kill(proc.pid, signal.SIGCONT)
        done = ctl.expect("done", timeout=60)
    finally:
        ctl.kill()
    info = httpx.get(f"{server.url}/v1/robots/{sid}").json()
    stops = [ev["stop"] for ev in ctl.seen if ev["event"] == "status"]
    assert done["stops"] == 0 and info["deadman_stops"] == 0, stops
    assert info["link"]["server_freeze_max_ms"] >= 450  # the freezes happened, and the server saw them
    assert info["link"]["gap_max_ms"] >= 450  # the heartbeats were late by as much
    httpx.delete(f"{server.url}/v1/robots/{sid}", headers=OP)
