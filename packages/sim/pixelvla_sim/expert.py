"""A scripted expert that demonstrates every task, and the rollout loop that records episodes.

The expert reads privileged simulator state (object poses) and walks a small phase machine:
approach above the target -> descend -> close -> lift -> (place: carry above the container ->
lower -> open -> retreat). Each step it moves towards the phase's goal at the speed limit; with
``noise > 0`` it adds Gaussian noise to the translation, which it then corrects in closed loop, so
demonstrations vary without failing. A grasp that slipped is retried from the approach.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from pixelvla_sim import scene as sc
from pixelvla_sim.robot import Observation, SimRobot, Snapshot, wrap_angle

APPROACH_CLEARANCE = 0.07  # hand height above the grasp pose while approaching
CARRY_Z = 0.17  # hand height while carrying
POS_TOL = 0.006
YAW_TOL = 0.06
CLOSE_STEPS = 4
OPEN_STEPS = 3
MAX_REGRASPS = 2


@dataclass
class ExpertConfig:
    noise: float = 0.0  # std of the translation noise, metres per step
    seed: int = 0  # noise stream
    # Fraction of the robot's speed limit the expert moves at (translation). Slower demonstrations
    # spend more frames moving towards the target, which is what a policy must learn from them.
    speed: float = 1.0

    def __post_init__(self) -> None:
        if not 0.05 <= self.speed <= 1.0:
            raise ValueError(f"expert speed must be in [0.05, 1], got {self.speed}")


class ScriptedExpert:
    def __init__(self, robot: SimRobot, config: ExpertConfig | None = None) -> None:
        self.robot = robot
        self.config = config or ExpertConfig()
        self.rng = np.random.default_rng(self.config.seed)
        self.phase = "approach"
        self.counter = 0
        self.regrasps = 0
        self.grasp_yaw = 0.0
        self._plan_yaw()

    @property
    def done(self) -> bool:
        return self.phase == "done"

    # ------------------------------------------------------------------ geometry

    def _plan_yaw(self) -> None:
        target = self.robot.scene.object(self.robot.task.target)
        if target.kind != "cube":
            self.grasp_yaw = 0.0
            return
        # A cube can be grasped across either pair of faces: take the rotation nearest to zero.
        yaw = self.robot.object_yaw(target.name)
        self.grasp_yaw = wrap_angle(((yaw + math.pi / 4) % (math.pi / 2)) - math.pi / 4)

    def _grasp_z(self) -> float:
        target = self.robot.task.target
        z = float(self.robot.object_positions()[target][2])
        return max(float(sc.WORKSPACE_LOW[2]) + 0.001, z - 0.012 + sc.FINGER_REACH)

    def _target_xy(self) -> np.ndarray:
        return self.robot.object_positions()[self.robot.task.target][:2]

    def _target_lifted(self) -> bool:
        target = self.robot.scene.object(self.robot.task.target)
        return float(self.robot.object_positions()[target.name][2]) > target.half_height + 0.02

    # ------------------------------------------------------------------ control

    def _move(self, goal: np.ndarray, yaw: float, gripper: float) -> tuple[np.ndarray, bool]:
        state = self.robot.state()
        pos, cur_yaw = state[:3].astype(np.float64), float(state[5])
        step = self.robot.max_step_linear * self.config.speed
        delta = np.clip(goal - pos, -step, step)
        dyaw = float(
            np.clip(wrap_angle(yaw - cur_yaw), -self.robot.max_step_angular, self.robot.max_step_angular)
        )
        reached = bool(np.all(np.abs(goal - pos) < POS_TOL) and abs(wrap_angle(yaw - cur_yaw)) < YAW_TOL)
        if self.config.noise > 0 and not reached:
            delta = delta + self.rng.normal(0.0, self.config.noise, 3)
        # Roll and pitch are driven back to zero; the expert never tilts the hand.
        action = np.array([*delta, -state[3], -state[4], dyaw, gripper], dtype=np.float64)
        return action, reached

    def action(self) -> np.ndarray:
        """The next action (float32 (7,)); advances the phase machine."""
        a = self._action()
        return a.astype(np.float32)

    def _action(self) -> np.ndarray:
        task = self.robot.task
        hold = np.zeros(7)
        if self.phase == "approach":
            xy = self._target_xy()
            goal = np.array([xy[0], xy[1], self._grasp_z() + APPROACH_CLEARANCE])
            a, reached = self._move(goal, self.grasp_yaw, 0.0)
            if reached:
                self.phase = "descend"
            return a
        if self.phase == "descend":
            xy = self._target_xy()
            a, reached = self._move(np.array([xy[0], xy[1], self._grasp_z()]), self.grasp_yaw, 0.0)
            if reached:
                self.phase, self.counter = "close", 0
            return a
        if self.phase == "close":
            self.counter += 1
            if self.counter >= CLOSE_STEPS:
                self.phase = "lift"
            hold[6] = 1.0
            return hold
        if self.phase == "lift":
            pos = self.robot.state()[:3]
            a, reached = self._move(np.array([pos[0], pos[1], CARRY_Z]), self.grasp_yaw, 1.0)
            if reached:
                if not self._target_lifted():
                    self._retry()
                    hold[6] = 0.0
                    return hold
                self.phase = "done" if task.container is None else "carry"
            return a
        if self.phase == "carry":
            c = self.robot.scene.container(task.container or "")
            a, reached = self._move(np.array([c.xy[0], c.xy[1], CARRY_Z]), self.grasp_yaw, 1.0)
            if not self._target_lifted():  # dropped on the way
                self._retry()
            elif reached:
                self.phase = "lower"
            return a
        if self.phase == "lower":
            c = self.robot.scene.container(task.container or "")
            target = self.robot.scene.object(task.target)
            obj_z = float(self.robot.object_positions()[target.name][2])
            hand_z = float(self.robot.state()[2])
            # Lower until the object's bottom hangs ~2.5 cm above the table, whatever the grip offset.
            want = hand_z + (target.half_height + 0.035 - obj_z)
            a, reached = self._move(np.array([c.xy[0], c.xy[1], want]), self.grasp_yaw, 1.0)
            if reached:
                self.phase, self.counter = "release", 0
            return a
        if self.phase == "release":
            self.counter += 1
            if self.counter >= OPEN_STEPS:
                self.phase = "retreat"
            return hold
        if self.phase == "retreat":
            pos = self.robot.state()[:3]
            a, reached = self._move(np.array([pos[0], pos[1], CARRY_Z]), self.grasp_yaw, 0.0)
            # Rising past the container's rim is enough; exact height does not matter.
            if reached or pos[2] > 0.15:
                self.phase = "done"
            return a
        return hold

    def _retry(self) -> None:
        if self.regrasps >= MAX_REGRASPS:
            self.phase = "done"
            return
        self.regrasps += 1
        self.phase = "approach"
        self._plan_yaw()


# --------------------------------------------------------------------------- rollouts


@dataclass
class EpisodeTrace:
    """Everything one demonstration produced, step-aligned: frame t is seen before action t."""

    seed: int
    task: str
    instruction: str
    target: str
    images: dict[str, list[np.ndarray]] = field(default_factory=dict)
    states: list[np.ndarray] = field(default_factory=list)
    actions: list[np.ndarray] = field(default_factory=list)
    object_positions: list[dict[str, np.ndarray]] = field(default_factory=list)
    grasp_points: list[np.ndarray] = field(default_factory=list)
    initial: Snapshot | None = None
    success: bool = False

    @property
    def length(self) -> int:
        return len(self.actions)


def rollout(
    robot: SimRobot,
    seed: int,
    task: str,
    noise: float = 0.0,
    max_steps: int = 120,
    record_images: bool = True,
    settle_steps: int = 2,
    speed: float = 1.0,
) -> EpisodeTrace:
    """Reset, run the expert until it is done (or ``max_steps``), record every step."""
    expert_config = ExpertConfig(noise=noise, seed=seed, speed=speed)  # checked before the reset
    obs: Observation = robot.reset(seed, task) if record_images else _reset_blind(robot, seed, task)
    expert = ScriptedExpert(robot, expert_config)
    trace = EpisodeTrace(seed, task, robot.instruction, robot.task.target, initial=robot.snapshot())
    trace.images = {name: [] for name in robot.cameras} if record_images else {}
    after_done = 0
    for _ in range(max_steps):
        if expert.done:
            # A few still frames after the end so the last state is seen at rest.
            if after_done >= settle_steps:
                break
            after_done += 1
            action = np.array([0, 0, 0, 0, 0, 0, robot.state()[6]], dtype=np.float32)
        else:
            action = expert.action()
        _record(trace, robot, obs, record_images)
        trace.actions.append(robot.act(action))
        obs = robot.observe() if record_images else obs
    trace.success = robot.success()
    return trace


def _reset_blind(robot: SimRobot, seed: int, task: str) -> Observation:
    cameras = robot.cameras
    robot.cameras = ()
    try:
        return robot.reset(seed, task)
    finally:
        robot.cameras = cameras


def _record(trace: EpisodeTrace, robot: SimRobot, obs: Observation, record_images: bool) -> None:
    if record_images:
        for name, img in obs["images"].items():
            trace.images[name].append(img)
    trace.states.append(robot.state())
    trace.object_positions.append(robot.object_positions())
    trace.grasp_points.append(robot.grasp_point())
