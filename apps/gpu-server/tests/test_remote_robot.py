"""Remote robots: pixelvla_robot's client in its own OS process (the MuJoCo sim as a remote robot),
or in this process with a small robot defined here, against a real server over real WebSockets."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from pixelvla.wire import packb, unpackb
from pixelvla_robot import (
    AuthRefused,
    BadServerUrl,
    CameraSpec,
    NameTaken,
    ProtocolMismatch,
    RobotClient,
    RobotSpec,
)
from pixelvla_robot import client as robot_client
from pixelvla_server.config import Settings
from pixelvla_server.errors import ApiError
from pixelvla_server.live import EventProcess, LiveServer, recv_type, serve
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

OP = {"X-Operator-Token": "op"}
CONTROLLER = Path(__file__).parent / "fixtures" / "robot_controller.py"


class RobotProcess(EventProcess):
    """`python -m pixelvla_robot.sim ... --events` in its own OS process and session, as a robot's
    process is."""

    def __init__(self, ws_url: str, name: str, *args: str):
        argv = [sys.executable, "-m", "pixelvla_robot.sim", "--server", ws_url, "--name", name, "--events"]
        super().__init__([*argv, "--operator-token", "op", *args], "robot")


def wait_listed(url: str, name: str, proc: subprocess.Popen[str], timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        robots = {r["name"]: r for r in httpx.get(f"{url}/v1/remote-robots").json()["robots"]}
        if name in robots:
            return robots[name]
        assert proc.poll() is None, f"the robot process exited with {proc.returncode}"
        assert time.monotonic() < deadline, f"{name} did not connect within {timeout} s"
        time.sleep(0.05)


def create(server: LiveServer | str, **body: Any) -> httpx.Response:
    url = server if isinstance(server, str) else server.url
    return httpx.post(f"{url}/v1/robots", json=body, headers=OP, timeout=60)


def test_a_sim_robot_in_another_process_is_listed_and_jogged(bare):
    robot = RobotProcess(bare.ws_url, "arm1", "--control-hz", "20")
    try:
        listed = wait_listed(bare.url, "arm1", robot.proc)
        assert listed["kind"] == "sim" and listed["in_use"] is False and listed["control_hz"] == 20.0
        assert listed["action_names"][:3] == ["dx", "dy", "dz"] and len(listed["state_names"]) == 8
        front = listed["cameras"][0]
        assert front["name"] == "front" and front["width"] == 224 and len(front["intrinsics"]) == 3
        assert listed["deadman_ms"] == 300 and listed["heartbeat_ms"] == 75

        r = create(bare, robot="remote:arm1", task="pick", seed=3, max_steps=33)
        assert r.status_code == 201, r.text
        info = r.json()
        assert info["kind"] == "remote" and info["cameras"] == ["front"] and info["control_hz"] == 20.0
        assert info["max_steps"] == 33  # the episode's step budget reaches a remote robot's session too
        assert info["instruction"]  # the sim's task instruction, from the robot's reset
        assert wait_listed(bare.url, "arm1", robot.proc)["in_use"] is True
        busy = create(bare, robot="remote:arm1")
        assert busy.status_code == 409 and busy.json()["error"]["code"] == "robot_in_use"

        sid = info["id"]
        url = f"{bare.ws_url}/v1/robots/{sid}/stream?role=controller&operator_token=op"
        with connect(url, open_timeout=10, max_size=None) as ws:
            recv_type(ws, "session")
            x0 = recv_type(ws, "frame")["state"][0]
            ws.send(packb({"type": "jog", "delta": [0.01, 0, 0, 0, 0, 0, 0]}))
            moved = None
            for _ in range(40):  # frames are latest-wins: the one with the jog's action may be skipped
                f = recv_type(ws, "frame")
                if f["state"][0] > x0 + 5e-3:
                    moved = f
                    break
            assert moved is not None, "the remote robot never applied the jog"
            # The other process's sim moved by the jog, and its calibrated camera came with the frame.
            assert moved["state"][0] == pytest.approx(x0 + 0.01, abs=2e-3)
            assert set(moved["camera_models"]) == {"front"}
            assert np.asarray(moved["camera_models"]["front"]["world_to_camera"]).shape == (4, 4)
        robot.expect("acted", timeout=10)
        httpx.delete(f"{bare.url}/v1/robots/{sid}", headers=OP)
        deadline = time.monotonic() + 10
        while wait_listed(bare.url, "arm1", robot.proc)["in_use"]:  # the closed session released it
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        robot.kill()


class PointRobot:
    """A user's robot, in this process: a point on a plane drawn as a dot, 2-D actions."""

    def __init__(self, state_dim: int = 2):
        self.xy = np.zeros(2)
        self.state_dim = state_dim
        self.stops = 0

    def spec(self) -> RobotSpec:
        return RobotSpec(
            cameras=(CameraSpec("top", 32, 32),),
            state_names=("x", "y"),
            action_names=("dx", "dy"),
            action_low=(-0.1, -0.1),
            action_high=(0.1, 0.1),
            control_hz=20.0,
            instruction="go to the corner",
            kind="point",
        )

    def observe(self) -> dict[str, Any]:
        img = np.zeros((32, 32, 3), np.uint8)
        u, v = (np.clip(self.xy, -1, 1) * 15 + 16).astype(int)
        img[v, u] = 255
        state = np.zeros(self.state_dim, np.float32)
        state[:2] = self.xy
        return {"images": {"top": img}, "state": state, "t": 0.0}

    def act(self, action: np.ndarray) -> np.ndarray:
        self.xy = self.xy + action
        return action

    def stop(self) -> None:
        self.stops += 1

    def reset(self, task: str, seed: int) -> None:
        self.xy = np.zeros(2)

    def close(self) -> None:
        pass


def test_connection_errors_are_typed(bare, monkeypatch):
    with pytest.raises(BadServerUrl):
        RobotClient("ftp://127.0.0.1:1", PointRobot(), name="p")
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    with pytest.raises(BadServerUrl, match="nothing answers"):
        RobotClient(f"ws://127.0.0.1:{closed}", PointRobot(), name="p").connect()
    with pytest.raises(AuthRefused):
        RobotClient(bare.ws_url, PointRobot(), name="p").connect()  # no operator token
    with pytest.raises(AuthRefused):
        RobotClient(bare.ws_url, PointRobot(), name="p", operator_token="wrong").connect()
    with pytest.raises(ProtocolMismatch):  # an HTTP server without the endpoint
        RobotClient(f"{bare.ws_url}/v1/nothing-here", PointRobot(), name="p", operator_token="op").connect()
    first = RobotClient(bare.url, PointRobot(), name="p", operator_token="op")  # http:// works too
    assert first.connect()["heartbeat_ms"] == 75
    try:
        with pytest.raises(NameTaken):
            RobotClient(bare.ws_url, PointRobot(), name="p", operator_token="op").connect()
    finally:
        first.close()
    monkeypatch.setattr(robot_client, "PROTOCOL", "pixelvla.robot.v0")  # an older client
    with pytest.raises(ProtocolMismatch, match=r"pixelvla\.robot\.v1"):
        RobotClient(bare.ws_url, PointRobot(), name="old", operator_token="op").connect()


def raw_hello(server: LiveServer, hello: dict[str, Any]) -> tuple[dict[str, Any] | None, int | None]:
    with connect(f"{server.ws_url}/v1/remote-robots/connect", additional_headers=OP, open_timeout=10) as ws:
        ws.send(packb(hello))
        reply = None
        with contextlib.suppress(ConnectionClosed):
            reply = unpackb(ws.recv(timeout=10))
            ws.recv(timeout=10)
        return reply, ws.close_code


def test_bad_hellos_are_refused_with_a_reason(bare):
    good = {"type": "hello", "protocol": "pixelvla.robot.v1", "name": "h", **PointRobot().spec().to_json()}
    for bad, says in [
        ({**good, "action_low": [0.0]}, "action_low"),
        ({**good, "action_low": [1.0, 1.0]}, "action_low <= action_high"),
        ({**good, "name": "../etc"}, "name"),
        ({**good, "cameras": []}, "cameras"),
        ({**good, "control_hz": float("nan")}, "control_hz"),
        ({**good, "cameras": [{"name": "c", "width": 10**9, "height": 4}]}, "width"),
        ({"type": "observation"}, "first message"),
    ]:
        reply, code = raw_hello(bare, bad)
        assert code == 4400 and reply is not None and reply["error"]["code"] == "invalid_hello", bad
        assert says in reply["error"]["message"], reply
    reply, code = raw_hello(bare, {**good, "protocol": "pixelvla.robot.v9"})
    assert code == 4426 and reply is not None and reply["error"]["code"] == "protocol_mismatch"
    assert httpx.get(f"{bare.url}/v1/remote-robots").json()["robots"] == []


def test_a_robot_that_leaves_or_lies_stops_its_session_with_a_typed_error(bare):
    r = create(bare, robot="remote:ghost")
    assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_robot"

    liar = PointRobot(state_dim=3)  # announces 2 state values, sends 3
    client = RobotClient(bare.ws_url, liar, name="liar", operator_token="op")
    client.connect()
    threading.Thread(target=client.run, daemon=True).start()
    r = create(bare, robot="remote:liar")
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_observation", r.text
    assert "2 finite values" in r.json()["error"]["message"]
    client.close()

    honest = PointRobot()
    client = RobotClient(bare.ws_url, honest, name="leaver", operator_token="op")
    client.connect()
    runner = threading.Thread(target=client.run, daemon=True)
    runner.start()
    sid = create(bare, robot="remote:leaver").json()["id"]
    with connect(f"{bare.ws_url}/v1/robots/{sid}/stream?role=watcher", max_size=None) as ws:
        recv_type(ws, "frame")
        client.close()  # the robot's process goes away
        status = recv_type(ws, "status")
    assert status["mode"] == "error" and "'leaver' is gone" in status["error"], status
    runner.join(timeout=10)
    httpx.delete(f"{bare.url}/v1/robots/{sid}", headers=OP)


class JudgingRobot(PointRobot):
    """A 7-D user robot that judges its own task: done once the hand is 5 cm along x."""

    def spec(self) -> RobotSpec:
        names = ("dx", "dy", "dz", "droll", "dpitch", "dyaw", "grip")
        return RobotSpec(
            cameras=(CameraSpec("top", 32, 32),),
            state_names=("x", "y"),
            action_names=names,
            action_low=(-0.1,) * 7,
            action_high=(0.1,) * 7,
            control_hz=20.0,
            instruction="move right",
            kind="point",
        )

    def observe(self) -> dict[str, Any]:
        return {**super().observe(), "success": bool(self.xy[0] >= 0.05)}

    def act(self, action: np.ndarray) -> np.ndarray:
        self.xy = self.xy + action[:2]
        return action


def test_a_robot_that_judges_its_task_gives_the_session_its_outcome(bare):
    """An observation's `success` (LIBERO's check_success, a gym env's is_success) is the session's
    task outcome: running before, success once the robot says so; a robot that says nothing stays
    unknown (the other tests' robots)."""
    client = RobotClient(bare.ws_url, JudgingRobot(), name="judge", operator_token="op")
    client.connect()
    runner = threading.Thread(target=client.run, daemon=True)
    runner.start()
    sid = create(bare, robot="remote:judge", max_steps=50).json()["id"]
    try:
        url = f"{bare.ws_url}/v1/robots/{sid}/stream?role=controller&operator_token=op"
        with connect(url, max_size=None, open_timeout=10) as ws:
            recv_type(ws, "session")
            ws.send(packb({"type": "jog", "delta": [0.03, 0, 0, 0, 0, 0, 0]}))
            verdicts = []
            for _ in range(200):
                outcome = recv_type(ws, "frame").get("outcome") or {}
                verdicts.append(outcome.get("verdict"))
                if outcome.get("verdict") == "running" and verdicts.count("running") == 1:
                    ws.send(packb({"type": "jog", "delta": [0.03, 0, 0, 0, 0, 0, 0]}))
                if outcome.get("verdict") == "success":
                    break
            assert "running" in verdicts and verdicts[-1] == "success", verdicts[-10:]
            assert outcome["success"] is True and outcome["max_steps"] == 50 and outcome["steps"] >= 2
    finally:
        client.close()
        runner.join(timeout=10)
        httpx.delete(f"{bare.url}/v1/robots/{sid}", headers=OP)


def check_stop(stop: dict[str, Any], reason: str) -> float:
    """The robot's stop event: its reason, and how long after the last message it heard it came."""
    assert stop["reason"] == reason and stop["deadman_ms"] == 300
    latency_ms = (stop["t"] - stop["last_heard"]) * 1000.0
    bound_ms = stop["deadman_ms"] + stop["check_gap_max_ms"]
    print(f"{reason}: stopped {latency_ms:.0f} ms after the last message; bound {bound_ms:.0f} ms ({stop})")
    assert latency_ms <= bound_ms
    return latency_ms


def test_the_robot_stops_itself_when_its_server_freezes_or_is_killed(server_process):
    """The studio's controller drives the remote sim (Go, the tiny policy) in a third process. The
    server is frozen (SIGSTOP: the socket stays open and says nothing), then woken, then killed
    (SIGKILL: the kernel closes its sockets). Each time the robot's own client stops it: within its
    dead-man window (300 ms) of the last message it heard, plus the longest gap between two of its
    dead-man checks while it moved, as that process measured it on this machine (its slice, its
    act/observe, the scheduler's lateness): nothing here is tuned to one box."""
    server, proc = server_process
    url, ws_url = server.url, server.ws_url
    robot = RobotProcess(ws_url, "victim")
    ctl = None
    try:
        wait_listed(url, "victim", robot.proc)
        sid = create(url, robot="remote:victim").json()["id"]
        ctl = subprocess.Popen(
            [
                sys.executable,
                str(CONTROLLER),
                f"{ws_url}/v1/robots/{sid}/stream?role=controller&operator_token=op",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        for _ in range(5):  # going: the policy's actions reach the other process
            robot.expect("acted", timeout=60)
        os.kill(proc.pid, signal.SIGSTOP)
        frozen = robot.expect("stop", timeout=10)
        os.kill(proc.pid, signal.SIGCONT)
        robot.expect("acted", timeout=30)  # the server is back: it drives the robot again
        os.kill(proc.pid, signal.SIGKILL)
        killed = robot.expect("stop", timeout=10)
        assert robot.proc.wait(timeout=30) == 3  # link lost: the process says so in its exit code
    finally:
        if ctl is not None:
            ctl.kill()
            ctl.wait()
        robot.kill()
    silent_ms = check_stop(frozen, "deadman")
    assert silent_ms >= frozen["deadman_ms"]  # it waited out its window: not a stop for nothing
    assert not [
        ev
        for ev in robot.seen
        if ev["event"] == "acted" and frozen["t"] < ev["t"] < frozen["last_heard"] + 0.3
    ]
    check_stop(killed, "link lost")
    assert not [ev for ev in robot.seen if ev["event"] == "acted" and ev["t"] > killed["t"]]


def test_a_robots_malformed_messages_get_typed_errors_and_the_link_stays(bare):
    hello = {"type": "hello", "protocol": "pixelvla.robot.v1", "name": "raw", **PointRobot().spec().to_json()}
    with connect(f"{bare.ws_url}/v1/remote-robots/connect", additional_headers=OP, open_timeout=10) as ws:
        ws.send(packb(hello))
        assert recv_type(ws, "welcome")["heartbeat_ms"] == 75
        for bad in (
            b"\xc1",  # never-used msgpack byte
            packb([1, 2]),
            packb({"type": "observation", "images": "not a map", "state": np.zeros(2, np.float32)}),
            packb({"type": "observation", "images": {}, "state": [0.0, 0.0]}),
            packb({"type": "teleport"}),
        ):
            ws.send(bad)
            assert recv_type(ws, "error")["error"]["code"] == "invalid_message"
        # A frame that is not an image: accepted on the link, refused where it is decoded, with its code.
        ws.send(
            packb({"type": "observation", "images": {"top": b"not a jpeg"}, "state": np.zeros(2, np.float32)})
        )
        robot = bare.app.state.studio.robots.remote.claim("raw")
        try:
            with pytest.raises(ApiError) as refused:
                robot.observe()
            assert refused.value.code == "invalid_observation"
            ws.send(
                packb(
                    {
                        "type": "observation",
                        "images": {"top": np.zeros((32, 32, 3), np.uint8)},
                        "state": np.ones(2, np.float32),
                    }
                )
            )
            deadline = time.monotonic() + 10
            while True:  # the next good observation is what the robot's session sees
                with contextlib.suppress(Exception):
                    if robot.observe()["state"].tolist() == [1.0, 1.0]:
                        break
                assert time.monotonic() < deadline
                time.sleep(0.02)
        finally:
            robot.close()
        listed = httpx.get(f"{bare.url}/v1/remote-robots").json()["robots"]
        assert [r["name"] for r in listed] == ["raw"] and listed[0]["observations"] == 2


def test_the_api_token_travels_as_a_bearer_header(tmp_path):
    settings = Settings(
        device="cpu",
        data_dir=tmp_path,
        models_dir=tmp_path / "m",
        api_token="api",
        operator_token="op",
        load_model=False,
    )
    with serve(settings) as server:
        with pytest.raises(AuthRefused, match="1008"):
            RobotClient(server.ws_url, PointRobot(), name="t", operator_token="op").connect()
        with pytest.raises(AuthRefused, match="1008"):
            RobotClient(
                server.ws_url, PointRobot(), name="t", api_token="wrong", operator_token="op"
            ).connect()
        ok = RobotClient(server.ws_url, PointRobot(), name="t", api_token="api", operator_token="op")
        assert ok.connect()["name"] == "t"
        ok.close()


def start_server(port: int, data: Path) -> subprocess.Popen[bytes]:
    """A model-less server process on `port`, answering /healthz when this returns."""
    argv = [sys.executable, "-m", "pixelvla_server", "--port", str(port), "--device", "cpu", "--no-model"]
    argv += ["--data-dir", str(data), "--operator-token", "op"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIXELVLA_")}
    with open(data / f"server-{time.monotonic_ns()}.log", "wb") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + 480  # see server_process: a live, loading process is waited for
    while True:
        assert proc.poll() is None, f"the server exited with {proc.returncode}"
        assert time.monotonic() < deadline, "the server did not start"
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200:
                return proc
        time.sleep(0.1)


def test_with_reconnect_the_robot_process_outlives_a_server_restart(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url, ws_url = f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}"
    servers = [start_server(port, tmp_path)]
    robot = RobotProcess(ws_url, "phoenix", "--reconnect")
    try:
        wait_listed(url, "phoenix", robot.proc)
        robot.expect("connected", timeout=10)
        servers[0].kill()
        servers[0].wait()
        servers.append(start_server(port, tmp_path))  # the same address, a new server process
        assert wait_listed(url, "phoenix", robot.proc)["in_use"] is False
        again = robot.expect("connected", timeout=30)
        assert again["protocol"] == "pixelvla.robot.v1" and robot.proc.poll() is None
        sid = create(url, robot="remote:phoenix").json()["id"]  # and the new server drives it
        assert httpx.get(f"{url}/v1/robots/{sid}").json()["kind"] == "remote"
    finally:
        robot.kill()
        for server in servers:
            server.kill()
            server.wait()


JOINTS = ("shoulder_pan.pos", "shoulder_lift.pos", "elbow_flex.pos", "wrist_flex.pos", "wrist_roll.pos")


class JointArm(PointRobot):
    """A 6-joint arm as the LeRobot adapter announces one (so101_follower's names): absolute joint
    targets with the gripper last, its state the same names."""

    def __init__(self) -> None:
        super().__init__()
        self.q = np.array([5.0, 0, 0, 0, 0, 40.0], np.float32)
        self.applied: list[np.ndarray] = []

    def spec(self) -> RobotSpec:
        names = (*JOINTS, "gripper.pos")
        return RobotSpec(
            cameras=(CameraSpec("top", 32, 32),),
            state_names=names,
            action_names=names,
            action_low=(-100.0,) * 5 + (0.0,),
            action_high=(100.0,) * 6,
            control_hz=20.0,
            kind="lerobot",
            action_kind="absolute",
        )

    def observe(self) -> dict[str, Any]:
        return {"images": {"top": np.zeros((32, 32, 3), np.uint8)}, "state": self.q.copy(), "t": 0.0}

    def act(self, action: np.ndarray) -> np.ndarray:
        self.applied.append(np.asarray(action, np.float32))
        self.q = np.asarray(action, np.float32)
        return action


def test_a_robot_of_another_action_space_jogs_in_its_own_and_refuses_a_mismatched_policy(live):
    """The served tiny model predicts 7-D end-effector deltas; a 6-joint arm takes 6 joint targets.
    Jog speaks the robot's action space, as a step from where it is (the arm takes absolute targets:
    the server adds the delta to its state; without the gripper component the gripper stays); Go is
    refused with a typed error naming both spaces, before anything moves."""
    arm = JointArm()
    client = RobotClient(live.ws_url, arm, name="so101", operator_token="op")
    client.connect()
    runner = threading.Thread(target=client.run, daemon=True)
    runner.start()
    r = create(live, robot="remote:so101")
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    try:
        url = f"{live.ws_url}/v1/robots/{sid}/stream?role=controller&operator_token=op"
        with connect(url, max_size=None, open_timeout=10) as ws:
            recv_type(ws, "session")
            ws.send(packb({"type": "go"}))
            err = recv_type(ws, "error")["error"]
            assert err["code"] == "action_space_mismatch", err
            assert "7-D" in err["message"] and "gripper.pos" in err["message"]
            ws.send(packb({"type": "jog", "delta": [0.01, 0, 0, 0, 0, 0, 0]}))  # a 7-D end-effector jog
            err = recv_type(ws, "error")["error"]
            assert err["code"] == "invalid_command" and "shoulder_pan.pos" in err["message"], err
            ws.send(packb({"type": "jog", "delta": [10.0, 0, 0, 0, -2.0]}))  # five joints, gripper kept
            assert recv_type(ws, "ack")["command"] == "jog"
            for _ in range(200):
                if arm.applied:
                    break
                recv_type(ws, "frame")
            assert arm.applied, "the jog never reached the arm"
            assert arm.applied[0].tolist() == pytest.approx([15.0, 0, 0, 0, -2.0, 40.0])
            assert recv_type(ws, "frame")["mode"] != "go"
    finally:
        client.close()
        runner.join(timeout=10)
        httpx.delete(f"{live.url}/v1/robots/{sid}", headers=OP)
