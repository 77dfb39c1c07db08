"""What the client needs from a robot (an adapter), and how the robot describes itself to the server.

An adapter is driven from one thread, the one that runs `RobotClient.run` (MuJoCo and its GL context,
like most robot SDKs, belong to the thread that made them), so it need not be thread-safe.

- `spec()`: cameras (with their intrinsics when known), state and action names (their lengths are the
  dims), the per-step action limits the robot clips to, its control rate and default instruction.
- `observe()`: {"images": {camera: uint8 (H, W, 3)}, "state": float (S,), "t": seconds}, optionally
  "camera_models": {camera: {intrinsics, world_to_camera, width, height}} for a moving camera.
- `act(action)`: one control step of a float (A,) action already checked against the spec (length,
  finite, within limits); returns what was applied.
- `stop()`: hold still now. Called by the dead man, by the server's stop, and when the link is lost:
  it must not fail on a robot that is already still.
- `reset(task, seed)`: a new episode, where the robot has episodes (the sim, LIBERO); others may
  ignore it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np


@dataclass(frozen=True)
class CameraSpec:
    name: str
    width: int
    height: int
    # 3x3 pinhole matrix (OpenCV convention), when the camera is calibrated.
    intrinsics: tuple[tuple[float, float, float], ...] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "width": self.width,
            "height": self.height,
            "intrinsics": None if self.intrinsics is None else [list(r) for r in self.intrinsics],
        }


@dataclass(frozen=True)
class RobotSpec:
    cameras: tuple[CameraSpec, ...]
    state_names: tuple[str, ...]
    action_names: tuple[str, ...]
    action_low: tuple[float, ...]
    action_high: tuple[float, ...]
    control_hz: float
    instruction: str = ""
    kind: str = "remote"  # what the robot is: "sim", "gym", "libero", "lerobot", ...
    tasks: tuple[str, ...] = field(default=())
    # What an action means: "delta" (a step relative to where the robot is: the sim's and LIBERO's
    # end-effector deltas) or "absolute" (targets: a LeRobot arm's joint positions). The studio's jog
    # is a delta either way; for an absolute robot the server adds it to the state of the same name.
    action_kind: str = "delta"

    def __post_init__(self) -> None:
        n = len(self.action_names)
        if not self.cameras:
            raise ValueError("a robot needs at least one camera")
        if len(self.action_low) != n or len(self.action_high) != n:
            raise ValueError(f"action limits must have {n} entries (one per action name)")
        if any(lo > hi for lo, hi in zip(self.action_low, self.action_high, strict=True)):
            raise ValueError("every action_low must be <= its action_high")
        if self.action_kind not in ("delta", "absolute"):
            raise ValueError(f"action_kind must be 'delta' or 'absolute', got {self.action_kind!r}")
        if not 0.5 <= self.control_hz <= 100:
            raise ValueError(f"control_hz must be in [0.5, 100], got {self.control_hz}")

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "cameras": [c.to_json() for c in self.cameras],
            "state_names": list(self.state_names),
            "action_names": list(self.action_names),
            "state_dim": len(self.state_names),
            "action_dim": len(self.action_names),
            "action_low": [float(v) for v in self.action_low],
            "action_high": [float(v) for v in self.action_high],
            "control_hz": float(self.control_hz),
            "instruction": self.instruction,
            "tasks": list(self.tasks),
            "action_kind": self.action_kind,
        }


class Adapter(Protocol):
    def spec(self) -> RobotSpec: ...

    def observe(self) -> dict[str, Any]: ...

    def act(self, action: np.ndarray) -> np.ndarray: ...

    def stop(self) -> None: ...

    def reset(self, task: str, seed: int) -> None: ...

    def close(self) -> None: ...


def check_action(spec: RobotSpec, action: object) -> np.ndarray:
    """The server's action as the robot will execute it: the right length, finite, clipped to the
    spec's limits. Anything else is a BadAction (answered to the server, never executed)."""
    from .errors import BadAction

    try:
        arr = np.asarray(action, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise BadAction(f"action must be {len(spec.action_names)} numbers") from exc
    if arr.shape != (len(spec.action_names),):
        raise BadAction(f"action must have shape ({len(spec.action_names)},), got {arr.shape}")
    if not np.isfinite(arr).all():
        raise BadAction("action must be finite (no NaN/inf)")
    return np.clip(arr, spec.action_low, spec.action_high)


def to_image(value: object, what: str) -> np.ndarray:
    """An (H, W, 3) uint8 frame from what an env returns: uint8 or [0, 1] floats, HWC or CHW."""
    arr = np.asarray(value)
    if arr.ndim == 3 and arr.shape[0] in (1, 3) and arr.shape[-1] not in (1, 3):
        arr = np.moveaxis(arr, 0, -1)
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3 or arr.shape[-1] not in (1, 3):
        raise ValueError(f"{what}: an image must be (H, W, 3) or (3, H, W), got shape {arr.shape}")
    if arr.shape[-1] == 1:
        arr = np.repeat(arr, 3, axis=-1)
    if arr.dtype != np.uint8:
        arr = np.asarray(arr, dtype=np.float64)
        if arr.size and float(np.nanmax(arr)) <= 1.0:
            arr = arr * 255.0
        arr = np.clip(np.nan_to_num(arr), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(arr)
