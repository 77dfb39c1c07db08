"""The built-in MuJoCo tabletop (pixelvla_sim) as a remote robot in its own process.

    python -m pixelvla_robot.sim --server ws://127.0.0.1:8000 --name sim [--task pick --seed 0]

pixelvla_sim is imported when the adapter is built (this is the sim's process, not the server's).
The cameras are calibrated: the hello carries each camera's intrinsics, every observation the
camera models (the wrist camera moves with the hand).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .adapter import CameraSpec, RobotSpec


class SimAdapter:
    def __init__(
        self,
        task: str = "pick",
        seed: int = 0,
        image_size: int = 224,
        control_hz: float = 10.0,
        cameras: tuple[str, ...] = ("front",),
    ):
        from pixelvla_sim.robot import SimRobot

        self._robot = SimRobot(image_size=image_size, control_hz=control_hz, cameras=cameras)
        self._robot.reset(seed, task)

    def spec(self) -> RobotSpec:
        from pixelvla_sim.robot import ACTION_NAMES, STATE_NAMES
        from pixelvla_sim.tasks import TASKS

        r = self._robot
        lin, ang = r.max_step_linear, r.max_step_angular
        cams = tuple(
            CameraSpec(
                n, r.image_size, r.image_size, tuple(tuple(row) for row in r.camera(n).intrinsics.tolist())
            )
            for n in r.cameras
        )
        return RobotSpec(
            kind="sim",
            cameras=cams,
            state_names=STATE_NAMES,
            action_names=ACTION_NAMES,
            action_low=(-lin, -lin, -lin, -ang, -ang, -ang, 0.0),
            action_high=(lin, lin, lin, ang, ang, ang, 1.0),
            control_hz=r.control_hz,
            instruction=r.instruction,
            tasks=TASKS,
        )

    def observe(self) -> dict[str, Any]:
        obs: dict[str, Any] = dict(self._robot.observe())
        obs["camera_models"] = {n: self._robot.camera(n).to_json() for n in self._robot.cameras}
        return obs

    def act(self, action: np.ndarray) -> np.ndarray:
        return self._robot.act(action)

    def stop(self) -> None:
        self._robot.stop()

    def reset(self, task: str, seed: int) -> None:
        self._robot.reset(seed, task)

    def close(self) -> None:
        self._robot.close()


def main(argv: list[str] | None = None) -> int:
    from .cli import parser, run

    p = parser("Run the MuJoCo tabletop sim as a remote robot of a PixelVLA server.")
    p.add_argument("--task", default="pick")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--image-size", type=int, default=224)
    p.add_argument("--control-hz", type=float, default=10.0)
    p.add_argument("--cameras", nargs="+", default=["front"])
    args = p.parse_args(argv)
    return run(
        lambda: SimAdapter(args.task, args.seed, args.image_size, args.control_hz, tuple(args.cameras)), args
    )


if __name__ == "__main__":
    raise SystemExit(main())
