"""A LIBERO task as a remote robot, in LIBERO's own environment (var/libero-venv: mujoco 2.3.7,
numpy 1.26), through pixelvla_libero's TaskEnv (official initial states, CPU-friendly rendering).

    PYTHONPATH=packages/robot-client:packages/libero var/libero-venv/bin/python -m pixelvla_robot.libero \\
        --server ws://host:8000 --name libero --suite libero_spatial --task-id 0

The episode's seed is the suite's initial-state index (0..49), reset settles the objects as the
official protocol does. State: LIBERO's 8-D (eef position, axis-angle, finger joints); action:
OSC_POSE deltas in [-1, 1] and the gripper in the project's sim convention ([0, 1], >= 0.5 closes;
the env's is -1 open / +1 close). stop() steps the env with the arm still and the gripper as it is.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .adapter import CameraSpec, RobotSpec

# One env.step is one control step at LIBERO's control frequency (20 Hz).
CONTROL_HZ = 20.0


class LiberoAdapter:
    def __init__(self, suite: str, task_id: int, init_index: int = 0, image_size: int = 128):
        from pixelvla_libero import protocol
        from pixelvla_libero.env import RenderSettings, TaskEnv

        self._protocol = protocol
        self.env = TaskEnv(suite, task_id, RenderSettings(size=image_size))
        self._size = image_size
        self._gripper = 0.0
        self._steps = 0
        self._success = False
        self.reset("", init_index)

    def spec(self) -> RobotSpec:
        p = self._protocol
        return RobotSpec(
            kind="libero",
            cameras=(CameraSpec("agentview", self._size, self._size),),
            state_names=tuple(p.STATE_NAMES),
            action_names=tuple(p.ACTION_NAMES),
            action_low=(-1.0, -1.0, -1.0, -1.0, -1.0, -1.0, 0.0),
            action_high=(1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0),
            control_hz=CONTROL_HZ,
            instruction=self.env.instruction,
        )

    def observe(self) -> dict[str, Any]:
        return {
            "images": {"agentview": self.env.image()},
            "state": self._protocol.state_vector(self._obs),
            "t": self._steps / CONTROL_HZ,
            "success": self._success,  # the BDDL goal (env.check_success), as the LIBERO eval counts
        }

    def act(self, action: np.ndarray) -> np.ndarray:
        self._obs, done = self.env.step(self._protocol.env_action(action, "unit"))
        self._success = self._success or done
        self._gripper = float(action[6])
        self._steps += 1
        return np.asarray(action, np.float32)

    def stop(self) -> None:
        hold = np.array([0, 0, 0, 0, 0, 0, self._gripper])
        self._obs, done = self.env.step(self._protocol.env_action(hold, "unit"))
        self._success = self._success or done
        self._steps += 1

    def reset(self, task: str, seed: int) -> None:
        self.env.reset(seed)
        self._obs = self.env.settle()
        self._gripper, self._steps, self._success = 0.0, 0, False

    def close(self) -> None:
        self.env.close()


def main(argv: list[str] | None = None) -> int:
    from .cli import parser, run

    p = parser("Run a LIBERO task as a remote robot of a PixelVLA server (in LIBERO's venv).")
    p.add_argument("--suite", default="libero_spatial")
    p.add_argument("--task-id", type=int, default=0)
    p.add_argument("--init-index", type=int, default=0, help="the suite's initial state (0..49)")
    p.add_argument("--image-size", type=int, default=128)
    args = p.parse_args(argv)
    return run(lambda: LiberoAdapter(args.suite, args.task_id, args.init_index, args.image_size), args)


if __name__ == "__main__":
    raise SystemExit(main())
