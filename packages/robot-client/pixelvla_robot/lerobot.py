"""A LeRobot `Robot` (so101_follower, koch_follower, ...) as a remote robot. Runs in the user's
lerobot environment (lerobot needs Python >= 3.12: its own venv, e.g. var/lerobot-venv); lerobot is
imported only by the command line, to build the robot from its config.

    python -m pixelvla_robot.lerobot --server ws://host:8000 --name so101 \\
        --robot-type so101_follower --robot-port /dev/ttyACM0 --robot-id my_arm \\
        --cameras '{"front": {"index_or_path": 0, "width": 640, "height": 480, "fps": 30}}'

`LeRobotAdapter(robot)` takes any object with LeRobot's Robot interface (observation_features,
action_features, get_observation(), send_action(), connect(), disconnect()). What becomes what:

- cameras: observation features whose value is a shape (H, W, 3); state: the float features, in the
  robot's order (e.g. "shoulder_pan.pos", ... "gripper.pos"); action: the action features, in order.
- limits: LeRobot does not say them; `limits` (name -> (low, high)) or `default_limit` for the rest
  (so101's normalised joints: -100..100, the gripper 0..100). The robot's own max_relative_target
  still applies on its side; `send_action` returns what it really sent, reported as applied.
- stop(): hold the pose: send the joints' present positions as the target (LeRobot robots take
  absolute position targets, so "no new action" would leave the last target in force).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from .adapter import CameraSpec, RobotSpec, to_image


class LeRobotAdapter:
    def __init__(
        self,
        robot: Any,
        *,
        control_hz: float = 30.0,
        instruction: str = "",
        limits: dict[str, tuple[float, float]] | None = None,
        default_limit: tuple[float, float] = (-100.0, 100.0),
        connect: bool = True,
    ):
        self.robot = robot
        if connect and not getattr(robot, "is_connected", False):
            robot.connect()
        obs_ft: dict[str, Any] = dict(robot.observation_features)
        act_ft: dict[str, Any] = dict(robot.action_features)
        self._cameras = [k for k, v in obs_ft.items() if isinstance(v, tuple) and len(v) == 3 and v[-1] == 3]
        self._state = [k for k, v in obs_ft.items() if v is float]
        self._actions = list(act_ft)
        if not self._cameras:
            raise ValueError("the robot has no RGB camera feature: give it a camera to stream")
        unknown = set(limits or {}) - set(self._actions)
        if unknown:
            raise ValueError(
                f"limits for unknown action features {sorted(unknown)}; the robot has {self._actions}"
            )
        bounds = [(limits or {}).get(k, default_limit) for k in self._actions]
        self._spec = RobotSpec(
            kind="lerobot",
            cameras=tuple(CameraSpec(k, int(obs_ft[k][1]), int(obs_ft[k][0])) for k in self._cameras),
            state_names=tuple(self._state),
            action_names=tuple(self._actions),
            action_low=tuple(float(lo) for lo, _ in bounds),
            action_high=tuple(float(hi) for _, hi in bounds),
            control_hz=control_hz,
            instruction=instruction,
            action_kind="absolute",  # LeRobot arms take position targets
        )
        self._last: dict[str, Any] = {}

    def spec(self) -> RobotSpec:
        return self._spec

    def observe(self) -> dict[str, Any]:
        obs = self.robot.get_observation()
        self._last = obs
        return {
            "images": {k: to_image(obs[k], k) for k in self._cameras},
            "state": np.array([float(obs[k]) for k in self._state], np.float32),
            "t": 0.0,
        }

    def act(self, action: np.ndarray) -> np.ndarray:
        sent = self.robot.send_action({k: float(v) for k, v in zip(self._actions, action, strict=True)})
        if isinstance(sent, dict) and all(k in sent for k in self._actions):
            return np.array([float(sent[k]) for k in self._actions], np.float32)
        return np.asarray(action, np.float32)

    def stop(self) -> None:
        """Hold the pose: the present positions become the target (state features named like the
        action features, as LeRobot's arms have them)."""
        obs = self.robot.get_observation()
        hold = {k: float(obs[k]) for k in self._actions if k in obs}
        if hold:
            self.robot.send_action(hold)

    def reset(self, task: str, seed: int) -> None:
        """A real arm has no episodes to reset to: the operator places the objects."""

    def close(self) -> None:
        if getattr(self.robot, "is_connected", False):
            self.robot.disconnect()


def robot_config_class(robot_type: str) -> Any:
    """LeRobot's config class for `robot_type`. Its robots register their configs when their module is
    imported (lerobot's own scripts import each one), so every robot module that imports here is;
    one whose SDK is missing is skipped, and building that robot then names the missing package."""
    import contextlib
    import importlib
    import pkgutil

    import lerobot.robots as robots
    from lerobot.robots import RobotConfig

    for mod in pkgutil.iter_modules(robots.__path__):
        if mod.ispkg:
            with contextlib.suppress(ImportError):
                importlib.import_module(f"lerobot.robots.{mod.name}")
    try:
        return RobotConfig.get_choice_class(robot_type)
    except KeyError:
        known = sorted(RobotConfig.get_known_choices())
        raise ValueError(
            f"unknown LeRobot robot type {robot_type!r}; known here: {', '.join(known)}"
        ) from None


def main(argv: list[str] | None = None) -> int:
    from .cli import parser, run

    p = parser("Run a LeRobot robot (so101_follower, ...) as a remote robot of a PixelVLA server.")
    p.add_argument("--robot-type", required=True, help="a LeRobot robot type, e.g. so101_follower")
    p.add_argument("--robot-port", default=None, help="the motor bus's serial port")
    p.add_argument("--robot-id", default=None, help="the robot's id (its calibration file)")
    p.add_argument("--cameras", default="{}", help="JSON: name -> OpenCVCameraConfig fields")
    p.add_argument(
        "--limits", default="{}", help='JSON: action name -> [low, high] (e.g. {"gripper.pos": [0, 100]})'
    )
    p.add_argument("--control-hz", type=float, default=30.0)
    p.add_argument("--instruction", default="")
    args = p.parse_args(argv)

    def make() -> LeRobotAdapter:
        from lerobot.cameras.opencv.configuration_opencv import OpenCVCameraConfig
        from lerobot.robots.utils import make_robot_from_config

        cameras = {k: OpenCVCameraConfig(**v) for k, v in json.loads(args.cameras).items()}
        fields: dict[str, Any] = {"cameras": cameras}
        if args.robot_port:
            fields["port"] = args.robot_port
        if args.robot_id:
            fields["id"] = args.robot_id
        config = robot_config_class(args.robot_type)(**fields)
        limits = {k: (float(lo), float(hi)) for k, (lo, hi) in json.loads(args.limits).items()}
        return LeRobotAdapter(
            make_robot_from_config(config),
            control_hz=args.control_hz,
            instruction=args.instruction,
            limits=limits,
        )

    return run(make, args)


if __name__ == "__main__":
    raise SystemExit(main())
