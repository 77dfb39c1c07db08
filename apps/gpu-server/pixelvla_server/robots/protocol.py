"""The Robot protocol: what a robot session needs from any robot (the MuJoCo sim, a LIBERO env, a
remote robot behind its own link), and the typed values it trades in.

A session's control thread is the robot's only caller, from `reset` to `close` (MuJoCo and its GL
context belong to the thread that made them), so an implementation need not be thread-safe.

- `describe()`: what the studio and the recorder need to know before the first frame: the cameras,
  the state/action names (their lengths are the dims) and the per-step limits the robot clips to.
- `reset(episode)`: a new episode (task + seed: the sim's scene, LIBERO's initial state index) in the
  same session; returns the first observation. Teleop's "new episode" calls it on the control thread.
- `observe()` / `act(action)` / `stop()`: `act` returns the action really applied (after the robot's
  own clipping); `stop` holds the pose and keeps the gripper as it is.
- `outcome()`: the task's outcome so far (success or not, steps, time); `success` is None for a robot
  that cannot judge its task (a real arm without a success detector).
- `camera_models()`: intrinsics + world-to-camera per camera, or {} for an uncalibrated robot.
- `instruction`: the episode's default language instruction ("" when the robot has none).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypedDict

import numpy as np


class Observation(TypedDict):
    images: dict[str, np.ndarray]  # camera name -> uint8 (H, W, 3)
    state: np.ndarray  # float32 (S,)
    t: float  # seconds since reset (simulated time for a sim)


@dataclass(frozen=True)
class Episode:
    """What `reset` starts: a task and a seed (the sim's scene; a LIBERO initial-state index)."""

    task: str
    seed: int


@dataclass(frozen=True)
class RobotDescription:
    kind: str  # "sim", "libero", "remote", ...
    cameras: tuple[str, ...]
    image_size: tuple[int, int]  # (H, W) of every camera's frames
    state_names: tuple[str, ...]
    action_names: tuple[str, ...]
    control_hz: float
    # Per control step, what the robot clips each action component to (metres, radians, gripper 0..1).
    action_low: tuple[float, ...]
    action_high: tuple[float, ...]
    tasks: tuple[str, ...] = ()  # tasks `reset` accepts (empty: any the robot understands)
    # "delta": an action is a step from the present pose (the sim, LIBERO); "absolute": a target (a
    # LeRobot arm's joint positions), so a jog's delta is added to the state of the same name.
    action_kind: Literal["delta", "absolute"] = "delta"

    @property
    def state_dim(self) -> int:
        return len(self.state_names)

    @property
    def action_dim(self) -> int:
        return len(self.action_names)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "cameras": list(self.cameras),
            "image_size": list(self.image_size),
            "state_names": list(self.state_names),
            "action_names": list(self.action_names),
            "state_dim": self.state_dim,
            "action_dim": self.action_dim,
            "control_hz": self.control_hz,
            "action_low": list(self.action_low),
            "action_high": list(self.action_high),
            "tasks": list(self.tasks),
            "action_kind": self.action_kind,
        }


Verdict = Literal["success", "failure", "running", "unknown"]


@dataclass(frozen=True)
class TaskOutcome:
    """The robot reports success, steps and time; the session stamps the episode's step budget."""

    success: bool | None  # None: this robot cannot judge its task
    steps: int  # control steps applied since the episode's reset
    time_s: float  # the robot's clock since reset (simulated seconds for a sim)
    max_steps: int | None = None  # the steps an episode has to succeed in (an eval's max_steps)

    @property
    def verdict(self) -> Verdict:
        """As an eval counts an episode: success once the task is done, failure when the budget is
        spent without it, running before; unknown for a robot that cannot judge its task."""
        if self.success is None:
            return "unknown"
        if self.success:
            return "success"
        return "failure" if self.max_steps is not None and self.steps >= self.max_steps else "running"

    def to_json(self) -> dict[str, Any]:
        return {
            "success": self.success,
            "steps": self.steps,
            "time_s": self.time_s,
            "max_steps": self.max_steps,
            "verdict": self.verdict,
        }


class Robot(Protocol):
    """What a robot session drives. See the module docstring for each method's contract."""

    @property
    def instruction(self) -> str: ...

    def describe(self) -> RobotDescription: ...

    def reset(self, episode: Episode) -> Observation: ...

    def observe(self) -> Observation: ...

    def act(self, action: np.ndarray) -> np.ndarray: ...

    def stop(self) -> None: ...

    def outcome(self) -> TaskOutcome: ...

    def camera_models(self) -> dict[str, dict[str, Any]]: ...

    def close(self) -> None: ...


@dataclass
class RecordedStep:
    image: np.ndarray  # the first camera's frame before the action
    state: np.ndarray
    action: np.ndarray  # as applied


@dataclass
class Recording:
    """An episode recorded in a session, with what it was recorded under: the dataset it goes to, the
    operator's prompt (instruction, prompt JSON, pixel masks) and the episode it ran in."""

    dataset: str
    episode: Episode
    steps: list[RecordedStep] = field(default_factory=list)
    instruction: str = ""
    prompts: list[Any] = field(default_factory=list)  # prompt JSON as the controller sent it
    pixel_masks: list[dict[str, Any]] = field(default_factory=list)  # COCO RLE, JSON-ready
    outcome: TaskOutcome | None = None
