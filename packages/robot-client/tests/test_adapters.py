"""The adapters' mapping from a robot's own interface to the remote robot link, with the user's robot
defined here (or in tests/fixtures): LeRobot's Robot interface (also run under real lerobot in its
py3.12 venv), the action check every action passes, image normalisation, and the wire codec against
pixelvla.wire (the server's)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import msgpack
import numpy as np
import pytest
from pixelvla_robot import BadAction, CameraSpec, RobotSpec, wire
from pixelvla_robot.adapter import check_action, to_image
from pixelvla_robot.errors import WireError

FIXTURES = Path(__file__).parent / "fixtures"
PACKAGE = Path(__file__).parents[1]
ROOT = Path(__file__).parents[3]
LEROBOT_PY = ROOT / "var" / "lerobot-venv" / "bin" / "python"


def spec(**kw: object) -> RobotSpec:
    base: dict[str, object] = dict(
        cameras=(CameraSpec("c", 8, 8),),
        state_names=("x",),
        action_names=("a", "b"),
        action_low=(-1.0, 0.0),
        action_high=(1.0, 1.0),
        control_hz=10.0,
    )
    return RobotSpec(**{**base, **kw})  # type: ignore[arg-type]


def test_actions_are_checked_and_clipped_to_the_robots_limits():
    s = spec()
    assert check_action(s, [5.0, -3.0]).tolist() == [1.0, 0.0]
    assert check_action(s, np.array([0.25, 0.5], np.float32)).tolist() == [0.25, 0.5]
    for bad in ([1.0], [1.0, 2.0, 3.0], [float("nan"), 0.0], [float("inf"), 0.0], "ab", None, [[1.0, 2.0]]):
        with pytest.raises(BadAction):
            check_action(s, bad)


def test_a_spec_refuses_what_the_server_would():
    for bad in (
        {"cameras": ()},
        {"action_low": (-1.0,)},
        {"action_low": (2.0, 0.0)},
        {"control_hz": 0.0},
    ):
        with pytest.raises(ValueError):
            spec(**bad)


def test_images_from_envs_become_hwc_uint8():
    chw = np.random.default_rng(0).random((3, 5, 7))  # floats in [0, 1], channels first
    out = to_image(chw, "cam")
    assert out.shape == (5, 7, 3) and out.dtype == np.uint8 and out.max() <= 255
    assert to_image(np.zeros((4, 6), np.uint8), "gray").shape == (4, 6, 3)
    with pytest.raises(ValueError, match="cam"):
        to_image(np.zeros((4, 6, 5)), "cam")


def test_wire_round_trips_with_the_servers_codec():
    from pixelvla import wire as server_wire

    msg = {"state": np.arange(8, dtype=np.float32), "images": {"c": np.zeros((2, 3, 3), np.uint8)}, "seq": 3}
    back = server_wire.unpackb(wire.packb(msg))
    assert back["state"].dtype == np.float32 and back["state"].tolist() == list(range(8))
    assert back["images"]["c"].shape == (2, 3, 3) and back["seq"] == 3
    act = wire.unpackb(server_wire.packb({"type": "act", "action": np.ones(7, np.float32)}))
    assert act["action"].tolist() == [1.0] * 7
    bad = server_wire.packb({"a": np.zeros(2, np.float32)}).replace(b"<f4", b"|O8")
    with pytest.raises(WireError):
        wire.unpackb(bad)
    with pytest.raises(WireError):
        wire.packb({"x": np.array([object()])})
    short = msgpack.packb({"__ndarray__": True, "data": b"\0" * 12, "dtype": "<f4", "shape": [4]})
    with pytest.raises(WireError):  # 12 bytes cannot be four float32
        wire.unpackb(short)


def _check_lerobot(result: dict[str, object]) -> None:
    s = result["spec"]
    assert isinstance(s, dict)
    assert s["kind"] == "lerobot" and s["control_hz"] == 15.0
    assert s["action_kind"] == "absolute"  # position targets: the server jogs from the state
    assert s["cameras"] == [{"name": "front", "width": 64, "height": 48, "intrinsics": None}]
    assert s["state_names"][0] == "shoulder_pan.pos" and s["state_dim"] == 6 and s["action_dim"] == 6
    assert s["action_low"][:5] == [-100.0] * 5 and (s["action_low"][5], s["action_high"][5]) == (0.0, 100.0)
    assert result["image_shape"] == [48, 64, 3] and result["state0"] == [0.0] * 6
    # What the arm really sent (its own per-command limit), not what was asked, is reported applied.
    assert result["applied"] == [10.0, -5.0, 0.0, 0.0, 0.0, 10.0]
    assert result["state1"] == result["applied"]
    assert result["hold"] == dict(zip([f"{j}" for j in s["action_names"]], result["state1"], strict=True))
    assert result["connected_after_close"] is False


def test_lerobot_adapter_maps_a_robot_with_lerobots_interface(tmp_path):
    spec_ = importlib.util.spec_from_file_location("lerobot_robot_fixture", FIXTURES / "lerobot_robot.py")
    assert spec_ is not None and spec_.loader is not None
    module = importlib.util.module_from_spec(spec_)
    sys.modules[spec_.name] = module  # dataclasses look their module up there
    spec_.loader.exec_module(module)
    _check_lerobot(module.check(tmp_path))


@pytest.mark.skipif(
    not LEROBOT_PY.exists(),
    reason="no var/lerobot-venv (lerobot needs Python 3.12, its own venv: bash scripts/lerobot-fixtures.sh venv)",
)
def test_lerobot_adapter_under_real_lerobot_in_its_own_venv(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(PACKAGE), "HF_LEROBOT_HOME": str(tmp_path / "hf")}
    out = subprocess.run(
        [str(LEROBOT_PY), str(FIXTURES / "lerobot_robot.py"), str(tmp_path / "calibration")],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["lerobot"] is True and result["is_lerobot_robot"] is True  # lerobot's own ABC accepted it
    assert result["so101_config"] == "SOFollowerRobotConfig"
    _check_lerobot(result)


def test_the_package_imports_neither_pixelvla_nor_torch():
    code = "import sys, pixelvla_robot.client, pixelvla_robot.gym, pixelvla_robot.lerobot, pixelvla_robot.libero, pixelvla_robot.sim, pixelvla_robot.cli; print(sorted(m for m in sys.modules if m.split('.')[0] in ('pixelvla', 'torch', 'pixelvla_sim', 'lerobot', 'gymnasium')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
