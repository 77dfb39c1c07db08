"""The MuJoCo sim robot (pixelvla_sim.SimRobot) as a session's Robot (robots/protocol.py).

pixelvla_sim is imported when a sim robot is built, on the session's control thread: MuJoCo and its
GL context belong to the thread that made them, and the server does not load the sim before it needs it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .protocol import Episode, Observation, RobotDescription, TaskOutcome


class SimTeleopRobot:
    def __init__(self, image_size: int, control_hz: float, cameras: tuple[str, ...]):
        from pixelvla_sim.robot import SimRobot

        self._robot = SimRobot(image_size=image_size, control_hz=control_hz, cameras=cameras)
        self._steps = 0  # actions applied since reset (holding the pose is not a step)
        self._t = 0.0  # the sim clock at the last observation

    @property
    def instruction(self) -> str:
        return self._robot.instruction

    def describe(self) -> RobotDescription:
        from pixelvla_sim.robot import ACTION_NAMES, STATE_NAMES
        from pixelvla_sim.tasks import TASKS

        r = self._robot
        lin, ang = r.max_step_linear, r.max_step_angular
        return RobotDescription(
            kind="sim",
            cameras=r.cameras,
            image_size=(r.image_size, r.image_size),
            state_names=STATE_NAMES,
            action_names=ACTION_NAMES,
            control_hz=r.control_hz,
            action_low=(-lin, -lin, -lin, -ang, -ang, -ang, 0.0),
            action_high=(lin, lin, lin, ang, ang, ang, 1.0),
            tasks=TASKS,
        )

    def reset(self, episode: Episode) -> Observation:
        obs = self._robot.reset(episode.seed, episode.task)  # SeedError / TaskError: typed, with a code
        self._steps, self._t = 0, obs["t"]
        return obs

    def observe(self) -> Observation:
        obs = self._robot.observe()
        self._t = obs["t"]
        return obs

    def act(self, action: np.ndarray) -> np.ndarray:
        applied = self._robot.act(action)
        self._steps += 1
        return applied

    def stop(self) -> None:
        self._robot.stop()

    def outcome(self) -> TaskOutcome:
        return TaskOutcome(success=bool(self._robot.success()), steps=self._steps, time_s=self._t)

    def camera_models(self) -> dict[str, dict[str, Any]]:
        return {name: self._robot.camera(name).to_json() for name in self._robot.cameras}

    def close(self) -> None:
        self._robot.close()
